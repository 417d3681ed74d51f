//! The daily summary (contract section 6): one local day of the journal, reduced to ids and
//! counts for the regulator's `summaries/daily` topic.
//!
//! Everything but three figures comes from the journal in the same database, so a summary can
//! be produced on time, late (for a day the agent missed) or again (`resend_summary`), and it
//! says the same thing about the same journal every time.
//!
//! - **Occupancy.** The day's journalled events are replayed, in time order, through a fresh
//!   [`Engine`](crate::rules::Engine); the room figures are sampled after every event that can move a person
//!   (attendance, badge) or change who counts (presence). Children and counted staff are constant between events, so
//!   child-minutes and staff-minutes are integrated exactly, in integer milliseconds. The day
//!   starts empty: a nursery closes every night, and a child left checked in over midnight has
//!   already raised `child_not_checked_out` the day before.
//! - **Alerts** are counted from the journalled transitions — what the agent actually raised
//!   and sent — not from the replay. A ratio breach lasts from its `raised` to its `resolved`
//!   transition (clipped to the day); one raised up to [`BREACH_LOOKBACK_DAYS`] before the day
//!   and still open counts too.
//! - **Coverage.** The figures run until `covered_until`: the latest moment the journal knows
//!   about — the last `alive_ms` of any run, or the last event or transition of the day —
//!   and at most the end of the day. A summary produced at `close + pickup_grace` covers the
//!   day so far; one for a day on which the agent died does not guess what happened after.
//!   Whatever is still going on then (a breach never resolved, children still checked in)
//!   counts until `covered_until`.
//! - **Units.** Minutes are numbers with one decimal, truncated (never rounded up) to a tenth
//!   of a minute: 90 minutes → `90.0`, 59 seconds → `0.9`. Uptime is in whole seconds.
//! - **The day** runs from local midnight to the next local midnight in `facility.timezone`:
//!   23 or 25 hours on the days the clocks change. A midnight that does not exist (a zone
//!   that springs forward at 00:00) is replaced by the first local time that does.
//! - **Temperature and humidity** are statistics of the valid readings of the sensors in each
//!   room (the mean is over readings, not time-weighted). A value outside the physical range
//!   (contract section 3) is a sensor fault, not a room condition, and is left out.
//! - **Door opens** count closed → open changes seen in `door` events.
//! - **Staff not qualified** (contract section 10) are the distinct staff ids of the day's
//!   `staff_not_qualified` raises: a count and the ids, never a name.
//! - **Personal data** (contract section 7): the summary names rooms and doors by id and
//!   carries only counts; never a child, staff member, guardian, name, birth date or card
//!   (`badge_denied` is counted, its card is not read).
//! - A journal row that does not parse, or that a fresh engine refuses (a person since
//!   removed from the roster), is skipped and counted in `events.unreadable`.
//!
//! The files follow the summary's making: `query` reads the journal's runs and
//! transitions (its SQL is in [`crate::journal::day`]), `replay` replays the day's events,
//! and [`body`] is the message the platform receives.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;

use crate::alert::{AlertType, Severity};
use crate::config::Config;
use crate::journal::day;
use crate::localtime;

pub mod body;
mod health;
mod query;
mod replay;
#[cfg(test)]
mod tests;

use self::body::minutes;
pub use self::body::{
    AbsenceFigures, AgentFigures, DailySummary, DispositionFigures, DoorFigures, EmergencyFigures,
    EventCounts, HealthCheckFigures, NotQualifiedFigures, PanicFigures, ReadingStats, RoomFigures,
};
use self::query::{breach_ms, Runs, Transitions};
use self::replay::Replay;

/// The `summary_version` field: bumped when a field changes meaning or goes away.
pub const SUMMARY_VERSION: u32 = 1;

/// How far before the day a still-open `ratio_breach` is looked for. Rooms empty every night
/// and an empty room resolves its breach, so a week is ample and keeps the query bounded.
pub const BREACH_LOOKBACK_DAYS: i64 = 7;

/// Why a summary could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// The journal could not be read.
    #[error("reading the journal for the daily summary: {0}")]
    Journal(#[from] rusqlite::Error),
    /// The configuration cannot build the rules (which `check-config` refuses).
    #[error("the configuration cannot drive the rules for the daily summary: {0}")]
    Rules(String),
}

/// Inputs the journal does not hold (from the uplink / outbox), for `date`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extra {
    pub offline_seconds: u64,
    pub largest_backlog: u64,
    pub telemetry_dropped: u64,
}

/// The body of the daily summary of the local `date` (see the module documentation).
pub fn daily_summary(
    cfg: &Config,
    conn: &Connection,
    date: NaiveDate,
    extra: &Extra,
) -> Result<DailySummary, SummaryError> {
    let tz = cfg.facility.timezone;
    let (start, end) = day_bounds(tz, date);

    let runs = Runs::read(conn, start, end)?;
    let last_event = day::last_event_ms(conn, start, end)?;
    let transitions = Transitions::read(conn, cfg, start, end)?;
    let horizon = [runs.last_alive, last_event, transitions.last]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(start)
        .clamp(start, end);

    let occupancy = Replay::run(cfg, conn, start, end, horizon)?;
    let breach = breach_ms(conn, start, end, horizon)?;
    let rejected = day::rejected_count(conn, start, end)?;

    let dispositions = disposition_figures(conn, start, end)?;
    let rooms = room_figures(cfg, &occupancy, &breach);
    let doors = door_figures(cfg, &occupancy, &transitions);

    let absences = health::absences(conn, date, start, end)?;
    let health_checks = health::checks(&occupancy, &transitions.raised);
    Ok(DailySummary {
        absences,
        agent: AgentFigures {
            largest_backlog: extra.largest_backlog,
            offline_seconds: extra.offline_seconds,
            starts: runs.starts,
            telemetry_dropped: extra.telemetry_dropped,
            uptime_seconds: runs.uptime_ms / 1000,
        },
        alerts: transitions.raised,
        children_attended: occupancy.attended,
        covered_until: local_rfc3339(tz, horizon),
        date: date.to_string(),
        dispositions,
        doors,
        emergencies: occupancy
            .emergencies
            .iter()
            .map(|(kind, since, full)| EmergencyFigures {
                kind: kind.as_str().to_string(),
                minutes_to_full_roll_call: full
                    .map(|f| ((f - since).max(0) as f64 / 6_000.0).round() / 10.0),
                started: local_rfc3339(tz, *since),
            })
            .collect(),
        events: EventCounts {
            accepted: occupancy.rows,
            rejected,
            unreadable: occupancy.unreadable,
        },
        from: local_rfc3339(tz, start),
        health_checks,
        panic: occupancy.panic.clone(),
        peak_children: occupancy.peak_children,
        rooms,
        staff_not_qualified: NotQualifiedFigures {
            count: transitions.not_qualified.len(),
            staff: transitions.not_qualified.iter().cloned().collect(),
        },
        summary_version: SUMMARY_VERSION,
        timezone: tz.name().to_string(),
        to: local_rfc3339(tz, end),
    })
}

/// Dispositions recorded on the day, and the day's critical alerts with one.
fn disposition_figures(
    conn: &Connection,
    start: i64,
    end: i64,
) -> Result<DispositionFigures, SummaryError> {
    let (raised, disposed) = day::raised_and_disposed(conn, start, end)?;
    let critical: Vec<&str> = raised
        .iter()
        .filter(|(ty, _)| {
            AlertType::ALL
                .iter()
                .any(|t| t.as_str() == ty && t.severity() == Severity::Critical)
        })
        .map(|(_, id)| id.as_str())
        .collect();
    Ok(DispositionFigures {
        critical_raised: critical.len() as u64,
        critical_disposed: critical.iter().filter(|id| disposed.contains(**id)).count() as u64,
        recorded: day::dispositions_count(conn, start, end)?,
    })
}

/// Each room's figures, in configuration order.
fn room_figures(
    cfg: &Config,
    occupancy: &Replay,
    breach: &std::collections::HashMap<String, u64>,
) -> Vec<RoomFigures> {
    cfg.rooms
        .iter()
        .zip(&occupancy.rooms)
        .map(|(room, acc)| RoomFigures {
            child_minutes: minutes(acc.child_ms),
            children_attended: acc.attended.len(),
            humidity: acc.humidity.figures(),
            longest_check_gap_minutes: acc.napped.then(|| minutes(acc.longest_gap_ms)),
            nap_minutes: minutes(acc.nap_ms),
            peak_children: acc.peak_children,
            ratio_breach_minutes: minutes(breach.get(&room.id).copied().unwrap_or(0)),
            required_staff_peak: acc.peak_required,
            room: room.id.clone(),
            sleep_checks: acc.sleep_checks,
            staff_minutes: minutes(acc.staff_ms),
            temperature: acc.celsius.figures(),
        })
        .collect()
}

/// Each door's figures, in configuration order.
fn door_figures(cfg: &Config, occupancy: &Replay, transitions: &Transitions) -> Vec<DoorFigures> {
    cfg.doors
        .iter()
        .zip(&occupancy.door_opens)
        .map(|(door, &opens)| {
            let (forced, held_open) = transitions.doors.get(&door.id).copied().unwrap_or((0, 0));
            DoorFigures {
                door: door.id.clone(),
                forced,
                held_open,
                opens,
            }
        })
        .collect()
}

/// When the summary of `date` is due: local `close + rules.pickup_grace` on that date, the
/// moment the rules' end-of-day pick-up check runs.
pub fn summary_due(cfg: &Config, date: NaiveDate) -> DateTime<Utc> {
    let close = localtime::at(cfg.facility.timezone, date, cfg.facility.close.0);
    close + cfg.rules.pickup_grace.as_chrono()
}

/// The local dates in `tz` on which the journal holds an event of the nursery, oldest
/// first: the days the daemon owes a summary for, when it was down at their due time.
///
/// A day that holds only the agent's own markers (`agent_started`, `clock_jump`,
/// `config_loaded`) is not one of them: nothing happened there but the agent starting or
/// its clock stepping — the 1970-01-01 of a board that booted without a clock and then
/// synchronised, or the day a jump landed on (contract section 11: no summaries for days
/// that did not happen). Days a forward jump skipped hold no event at all.
///
/// One indexed look-up per active day: it jumps from one day with events to the next.
pub fn days_with_activity(conn: &Connection, tz: Tz) -> Result<Vec<NaiveDate>, SummaryError> {
    let mut out = Vec::new();
    let mut from = i64::MIN;
    while let Some(ms) = day::first_event_from(conn, from)? {
        let Some(t) = DateTime::<Utc>::from_timestamp_millis(ms) else {
            break;
        };
        let date = localtime::date_of(tz, t);
        let (start, end) = day_bounds(tz, date);
        if day::nursery_event_between(conn, start, end)? {
            out.push(date);
        }
        let Some(following) = date.succ_opt() else {
            break;
        };
        let (next_start, _) = day_bounds(tz, following);
        if next_start <= ms {
            break;
        }
        from = next_start;
    }
    Ok(out)
}

/// Start and end of the local `date` in `tz`, in UTC milliseconds, end exclusive.
fn day_bounds(tz: Tz, date: NaiveDate) -> (i64, i64) {
    let (start, end) = localtime::day_bounds(tz, date);
    (start.timestamp_millis(), end.timestamp_millis())
}

fn local_rfc3339(tz: Tz, ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::AutoSi, false)
        })
        .unwrap_or_default()
}
