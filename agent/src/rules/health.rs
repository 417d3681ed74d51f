//! Health checks (晨午检) and expected arrivals (contract sections 9 and 10).
//!
//! - `health_check`: a child's check, with the temperature if taken. One at or above
//!   `fever_c`, or `refer`, raises `health_check_failed` (critical) until a later passing
//!   check or check-out. With `health_check_within` set, a child checked in and not checked
//!   that long after is `health_check_missing` (warning) until a check; a check earlier the
//!   same local day (at the gate, before the card was read) counts, and check-out resolves
//!   it too, since the child is no longer in care.
//! - `absence`: a child reported away on a local date, before or on the day, at most
//!   [`ABSENCE_WINDOW_DAYS`] ahead; a date already past (or before the log) is refused.
//! - With `arrival_deadline` set: at that local time on a day the facility opens and the
//!   child is expected, a child neither checked in that day nor reported absent is
//!   `child_absent_unreported` (warning) until a check-in or an absence for that date.
//!   One open alert per child: a child away all week without word stays one alert.

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

use super::events::Resolved;
use super::model::Person;
use super::transitions::{Details, Nothing};
use super::{Dt, Engine, Rejection};
use crate::alert::{AlertType, Transition};
use crate::config::DayName;
use crate::event::{AbsenceReason, EventKind, HealthResult};
use crate::localtime;

/// How far from the day it is reported an absence's date may lie, either way.
pub const ABSENCE_WINDOW_DAYS: i64 = 60;

/// The body temperatures a health check may report, in °C. A thermometer reading outside
/// them is a misread (a room, a forehead in the sun), not a child.
pub const BODY_CELSIUS: std::ops::RangeInclusive<f64> = 34.0..=43.0;

/// `health_check_failed`: the temperature taken (when one was) and the result.
#[derive(Serialize)]
struct Failed {
    #[serde(skip_serializing_if = "Option::is_none")]
    celsius: Option<f64>,
    result: &'static str,
}

/// `health_check_missing`: when the child was checked in and how long a check may wait.
#[derive(Serialize)]
struct Missing {
    checked_in: String,
    within_s: i64,
}

/// `child_absent_unreported`: the local date the child was expected.
#[derive(Serialize)]
struct Unreported {
    date: String,
}

impl Details for Failed {}
impl Details for Missing {}
impl Details for Unreported {}

/// A child's health and arrival, for the staff page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChildHealth {
    pub child: String,
    pub checked_in: bool,
    /// The latest health check, if it was today.
    pub checked_today: Option<Dt>,
    /// The open `health_check_failed`, if any.
    pub failed: Option<String>,
    /// The open `health_check_missing`, if any.
    pub missing: Option<String>,
    /// Reported absent today.
    pub absent_today: bool,
    /// Expected today (one of the child's days the facility opens).
    pub expected_today: bool,
}

impl Engine {
    fn child_ix(&self, person: &str, what: &str) -> Result<usize, Rejection> {
        match self.m.people.get(person) {
            Some(Person::Child(c)) => Ok(*c),
            Some(Person::Staff(_)) => Err(Rejection::Invalid(format!(
                "`{person}` is a member of staff; {what} is for children"
            ))),
            Some(Person::Guardian) => Err(Rejection::Invalid(format!(
                "`{person}` is a guardian; {what} is for children"
            ))),
            None => Err(Rejection::Unknown {
                what: "child",
                id: person.to_string(),
            }),
        }
    }

    pub(super) fn resolve_health_check<'e>(
        &self,
        person: &str,
        celsius: Option<f64>,
        result: HealthResult,
    ) -> Result<Resolved<'e>, Rejection> {
        let child = self.child_ix(person, "a health check")?;
        if let Some(c) = celsius {
            if !c.is_finite() || !BODY_CELSIUS.contains(&c) {
                return Err(Rejection::Invalid(format!(
                    "`celsius` {c} in the health check of `{person}` is not a body temperature \
                     (expected {} to {} °C)",
                    BODY_CELSIUS.start(),
                    BODY_CELSIUS.end()
                )));
            }
        }
        Ok(Resolved::HealthCheck {
            child,
            celsius,
            result,
        })
    }

    pub(super) fn resolve_absence<'e>(
        &self,
        person: &str,
        date: NaiveDate,
        reason: AbsenceReason,
    ) -> Result<Resolved<'e>, Rejection> {
        let child = self.child_ix(person, "an absence")?;
        Ok(Resolved::Absence {
            child,
            date,
            reason,
        })
    }

    /// What `resolve` cannot judge without the event's time: an absence is reported
    /// before or on its day (contract section 9), and at most [`ABSENCE_WINDOW_DAYS`]
    /// ahead.
    pub(super) fn check_dated(&self, kind: &EventKind, ts: Dt) -> Result<(), Rejection> {
        let EventKind::Absence { person, date, .. } = kind else {
            return Ok(());
        };
        let today = localtime::date_of(self.m.tz, ts);
        if *date > today + Duration::days(ABSENCE_WINDOW_DAYS) {
            return Err(Rejection::Invalid(format!(
                "absence of `{person}` on {date} is more than {ABSENCE_WINDOW_DAYS} days after \
                 the day it is reported ({today})"
            )));
        }
        if *date < today {
            return Err(Rejection::Invalid(format!(
                "absence of `{person}` on {date} is reported after the day ({today}); an \
                 absence is reported before or on the day"
            )));
        }
        Ok(())
    }

    /// Child `c` was checked in at `now`: awaited for a health check (unless checked
    /// earlier today), and no longer unreported.
    pub(super) fn health_checked_in(&mut self, c: usize, now: Dt, out: &mut Vec<Transition>) {
        let tz = self.m.tz;
        let today = localtime::date_of(tz, now);
        let h = &mut self.s.health[c];
        h.checked_in = Some(now);
        let checked_today = h
            .last_check
            .is_some_and(|t| localtime::date_of(tz, t) == today);
        if self.m.rules.health_check_within.is_some() && !checked_today && h.missing.is_none() {
            h.awaiting = Some(now);
        }
        if let Some((a, _)) = h.unreported.take() {
            let id = self.m.children[c].id.clone();
            let ty = AlertType::ChildAbsentUnreported;
            self.resolve_alert(ty, &id, a, now, &Nothing {}, out);
        }
    }

    /// Child `c` was checked out at `now`: no longer in care, so neither a missing nor a
    /// failed check stays open.
    pub(super) fn health_checked_out(&mut self, c: usize, now: Dt, out: &mut Vec<Transition>) {
        let id = self.m.children[c].id.clone();
        let h = &mut self.s.health[c];
        h.awaiting = None;
        let missing = h.missing.take();
        let failed = h.failed.take();
        if let Some(a) = missing {
            let ty = AlertType::HealthCheckMissing;
            self.resolve_alert(ty, &id, a, now, &Nothing {}, out);
        }
        if let Some(a) = failed {
            let ty = AlertType::HealthCheckFailed;
            self.resolve_alert(ty, &id, a, now, &Nothing {}, out);
        }
    }

    pub(super) fn health_check(
        &mut self,
        c: usize,
        celsius: Option<f64>,
        result: HealthResult,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        let id = self.m.children[c].id.clone();
        let fever = celsius.is_some_and(|t| t >= self.m.rules.fever_c);
        let failing = fever || result == HealthResult::Refer;
        let h = &mut self.s.health[c];
        h.last_check = Some(now);
        h.awaiting = None;
        if let Some(a) = h.missing.take() {
            let ty = AlertType::HealthCheckMissing;
            self.resolve_alert(ty, &id, a, now, &Nothing {}, out);
        }
        let details = Failed {
            celsius,
            result: result.as_str(),
        };
        match (failing, self.s.health[c].failed.is_some()) {
            (true, false) => {
                let a = self.raise(AlertType::HealthCheckFailed, &id, now, &details, out);
                self.s.health[c].failed = Some(a);
            }
            (false, true) => {
                if let Some(a) = self.s.health[c].failed.take() {
                    let ty = AlertType::HealthCheckFailed;
                    self.resolve_alert(ty, &id, a, now, &details, out);
                }
            }
            // A second failing check keeps the open alert; a pass with none open is normal.
            _ => {}
        }
    }

    pub(super) fn absence(
        &mut self,
        c: usize,
        date: NaiveDate,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        let today = localtime::date_of(self.m.tz, now);
        let h = &mut self.s.health[c];
        h.absent.retain(|d| *d >= today);
        h.absent.insert(date);
        if h.unreported.as_ref().is_some_and(|(_, d)| *d == date) {
            if let Some((a, _)) = h.unreported.take() {
                let id = self.m.children[c].id.clone();
                let ty = AlertType::ChildAbsentUnreported;
                self.resolve_alert(ty, &id, a, now, &Nothing {}, out);
            }
        }
    }

    /// When child `c`'s health check falls due as missing, if it is awaited.
    pub(super) fn health_due(&self, c: usize) -> Option<Dt> {
        let within = self.m.rules.health_check_within?;
        let h = &self.s.health[c];
        match (&h.missing, h.awaiting) {
            (None, Some(since)) => since.checked_add_signed(within),
            _ => None,
        }
    }

    pub(super) fn health_check_missing(&mut self, c: usize, due: Dt, out: &mut Vec<Transition>) {
        let id = self.m.children[c].id.clone();
        let Some(since) = self.s.health[c].awaiting.take() else {
            return;
        };
        let within = self.m.rules.health_check_within.unwrap_or_default();
        let details = Missing {
            checked_in: self.local(since).to_rfc3339(),
            within_s: within.num_seconds(),
        };
        let a = self.raise(AlertType::HealthCheckMissing, &id, due, &details, out);
        self.s.health[c].missing = Some(a);
    }

    /// The next `arrival_deadline` strictly after `t`, when it is set.
    pub(super) fn next_arrival_after(&self, t: Dt) -> Option<Dt> {
        let deadline = self.m.rules.arrival_deadline?;
        localtime::next_daily(self.m.tz, t, deadline, Duration::zero(), false)
    }

    /// At `arrival_deadline`: every child expected today who is neither checked in today
    /// nor reported absent.
    pub(super) fn arrival_check(&mut self, due: Dt, out: &mut Vec<Transition>) {
        let tz = self.m.tz;
        let date = localtime::date_of(tz, due);
        let day = DayName::of(date.weekday());
        for c in 0..self.m.children.len() {
            let h = &mut self.s.health[c];
            h.absent.retain(|d| *d >= date);
            let in_today = h
                .checked_in
                .is_some_and(|t| localtime::date_of(tz, t) == date);
            if !self.m.children[c].days.contains(&day)
                || h.unreported.is_some()
                || self.s.child_room[c].is_some()
                || in_today
                || h.absent.contains(&date)
            {
                continue;
            }
            let id = self.m.children[c].id.clone();
            let details = Unreported {
                date: date.to_string(),
            };
            let a = self.raise(AlertType::ChildAbsentUnreported, &id, due, &details, out);
            self.s.health[c].unreported = Some((a, date));
        }
    }

    /// Whether a later `arrival_deadline` can raise nothing until an event: every child is
    /// in a room, already unreported, or never expected.
    pub(super) fn arrivals_settled(&self) -> bool {
        (0..self.m.children.len()).all(|c| {
            self.s.child_room[c].is_some()
                || self.s.health[c].unreported.is_some()
                || self.m.children[c].days.is_empty()
        })
    }

    /// Every child's health checks and arrival today, for the staff page.
    pub fn children_health(&self) -> Vec<ChildHealth> {
        let tz = self.m.tz;
        let Some(now) = self.s.clock else {
            return Vec::new();
        };
        let today = localtime::date_of(tz, now);
        let day = DayName::of(today.weekday());
        self.m
            .children
            .iter()
            .zip(&self.s.health)
            .enumerate()
            .map(|(c, (child, h))| ChildHealth {
                child: child.id.clone(),
                checked_in: self.s.child_room[c].is_some(),
                checked_today: h.last_check.filter(|t| localtime::date_of(tz, *t) == today),
                failed: h.failed.as_ref().map(|a| a.id.clone()),
                missing: h.missing.as_ref().map(|a| a.id.clone()),
                absent_today: h.absent.contains(&today),
                expected_today: child.days.contains(&day),
            })
            .collect()
    }
}
