//! Health checks and absences in the daily summary (contract 1.1 section 10): counts only,
//! never a child's id.
//!
//! - `health_checks`: the day's `health_check` events (and how many distinct children they
//!   were of), and the `health_check_failed` / `health_check_missing` alerts raised.
//! - `absences`: the children reported absent *for* the day, by reason. An absence is
//!   reported before or on its day, at most [`ABSENCE_WINDOW_DAYS`] ahead, so the reports
//!   are looked for from that long before the day; a child reported twice for the same day
//!   counts once, with the latest reason.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use rusqlite::Connection;

use super::body::{AbsenceFigures, HealthCheckFigures};
use super::replay::Replay;
use super::SummaryError;
use crate::alert::AlertType;
use crate::event::{AbsenceReason, Event, EventKind};
use crate::journal::day;
use crate::rules::ABSENCE_WINDOW_DAYS;

pub(super) fn checks(replay: &Replay, raised: &BTreeMap<String, u64>) -> HealthCheckFigures {
    let count = |t: AlertType| raised.get(t.as_str()).copied().unwrap_or(0);
    HealthCheckFigures {
        children: replay.health_checked as u64,
        done: replay.health_checks,
        failed: count(AlertType::HealthCheckFailed),
        missing: count(AlertType::HealthCheckMissing),
    }
}

pub(super) fn absences(
    conn: &Connection,
    date: NaiveDate,
    start: i64,
    end: i64,
) -> Result<AbsenceFigures, SummaryError> {
    let from = start - (ABSENCE_WINDOW_DAYS + 1) * 24 * 3600 * 1000;
    let mut latest: HashMap<String, AbsenceReason> = HashMap::new();
    for body in day::absence_bodies(conn, from, end)? {
        let Ok(ev) = Event::parse(&body) else {
            continue;
        };
        if let EventKind::Absence {
            person,
            date: d,
            reason,
        } = ev.kind
        {
            if d == date {
                latest.insert(person, reason);
            }
        }
    }
    let mut f = AbsenceFigures::default();
    for reason in latest.values() {
        match reason {
            AbsenceReason::Sick => f.sick += 1,
            AbsenceReason::Personal => f.personal += 1,
            AbsenceReason::Other => f.other += 1,
        }
    }
    Ok(f)
}
