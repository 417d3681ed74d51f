//! What the summary reads from the journal as it stands (through [`crate::journal::day`]):
//! the union of the runs, the alerts raised, and the minutes in ratio breach.

use std::collections::{BTreeMap, HashMap};

use chrono::Duration;
use rusqlite::Connection;

use super::BREACH_LOOKBACK_DAYS;
use crate::alert::AlertType;
use crate::config::Config;
use crate::journal::day;

/// Overlap of `[from, to)` with `[start, end)`, in milliseconds.
pub(super) fn overlap(from: i64, to: i64, start: i64, end: i64) -> u64 {
    u64::try_from(to.min(end) - from.max(start)).unwrap_or(0)
}

pub(super) struct Runs {
    /// The union of the runs' `[started_ms, alive_ms]` within the day.
    pub(super) uptime_ms: u64,
    /// Runs that started during the day.
    pub(super) starts: u64,
    /// The latest `alive_ms` of any run that started before the end of the day.
    pub(super) last_alive: Option<i64>,
}

impl Runs {
    pub(super) fn read(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<Runs> {
        let (mut uptime_ms, mut starts, mut last_alive) = (0, 0, None::<i64>);
        // The union is built left to right: `covered` is where the merged run so far ends.
        let mut covered = i64::MIN;
        for run in day::runs_before(conn, end)? {
            let (from, to) = (run.started_ms, run.alive_ms.max(run.started_ms));
            last_alive = Some(last_alive.map_or(to, |a| a.max(to)));
            if from >= start {
                starts += 1;
            }
            let from = from.max(covered);
            if to > from {
                uptime_ms += overlap(from, to, start, end);
                covered = to;
            }
        }
        Ok(Runs {
            uptime_ms,
            starts,
            last_alive,
        })
    }
}

pub(super) struct Transitions {
    /// Alerts raised during the day, by type; every known type present.
    pub(super) raised: BTreeMap<String, u64>,
    /// Per door id: (door_forced raised, door_held_open raised).
    pub(super) doors: HashMap<String, (u64, u64)>,
    /// The time of the day's last transition.
    pub(super) last: Option<i64>,
    /// Staff ids that were `staff_not_qualified` during the day.
    pub(super) not_qualified: std::collections::BTreeSet<String>,
}

impl Transitions {
    pub(super) fn read(
        conn: &Connection,
        cfg: &Config,
        start: i64,
        end: i64,
    ) -> rusqlite::Result<Self> {
        let mut raised: BTreeMap<String, u64> = AlertType::ALL
            .iter()
            .map(|t| (t.as_str().to_string(), 0))
            .collect();
        let mut doors: HashMap<String, (u64, u64)> =
            cfg.doors.iter().map(|d| (d.id.clone(), (0, 0))).collect();
        let mut not_qualified = std::collections::BTreeSet::new();
        day::for_each_raise(conn, start, end, |ty, subject| {
            if ty == AlertType::StaffNotQualified.as_str() {
                not_qualified.insert(subject.to_string());
            }
            // A type this agent does not know (a newer agent's journal) is still a count.
            *raised.entry(ty.to_string()).or_default() += 1;
            if let Some(d) = doors.get_mut(subject) {
                match ty {
                    "door_forced" => d.0 += 1,
                    "door_held_open" => d.1 += 1,
                    _ => {}
                }
            }
        })?;
        Ok(Transitions {
            raised,
            doors,
            last: day::last_transition_ms(conn, start, end)?,
            not_qualified,
        })
    }
}

/// Milliseconds in `ratio_breach` per room within `[start, horizon)`. A breach runs from
/// its `raised` to its `resolved`; one never resolved runs until the room's next raise or
/// `horizon`.
pub(super) fn breach_ms(
    conn: &Connection,
    start: i64,
    end: i64,
    horizon: i64,
) -> rusqlite::Result<HashMap<String, u64>> {
    let lookback = start - Duration::days(BREACH_LOOKBACK_DAYS).num_milliseconds();
    let rows = day::transitions_of_type(conn, AlertType::RatioBreach.as_str(), lookback, end)?;
    let mut open: HashMap<String, (String, i64)> = HashMap::new();
    let mut total: HashMap<String, u64> = HashMap::new();
    for row in rows {
        let (subject, at) = (row.subject.as_str(), row.ts_ms);
        match row.state.as_str() {
            "raised" => {
                if let Some((_, from)) = open.remove(subject) {
                    *total.entry(subject.to_string()).or_default() +=
                        overlap(from, at, start, horizon);
                }
                open.insert(subject.to_string(), (row.alert_id.clone(), at));
            }
            // A resolve of anything but the room's open breach changes nothing.
            "resolved" if open.get(subject).is_some_and(|(id, _)| *id == row.alert_id) => {
                if let Some((_, from)) = open.remove(subject) {
                    *total.entry(subject.to_string()).or_default() +=
                        overlap(from, at, start, horizon);
                }
            }
            _ => {}
        }
    }
    for (subject, (_, from)) in open {
        *total.entry(subject).or_default() += overlap(from, horizon, start, horizon);
    }
    Ok(total)
}
