//! Emergencies, their roll call and drills (contract sections 9 and 10).
//!
//! An `emergency` start (evacuation, lockdown, fire, drill) takes the roll call: everyone,
//! children and staff, checked in at that moment. A `roll_call` event or a staff badge at an
//! `assembly` reader accounts for one of them. `roll_call_within` after the start, anyone
//! still unaccounted for is `roll_call_incomplete` (critical, subject the facility, details
//! `missing`), resolved when the last one is accounted for or the emergency ends. A fire
//! input going active starts an emergency of kind `fire` when none is under way, so replay
//! of the journalled `input` derives the same emergency. One emergency is under way at a
//! time: a start during one, or an end of another kind or of none, is rejected.
//!
//! With `drill_every` set, at `open` no drill ended within it (counted from the latest
//! drill's end, or else the engine's first moment) is `drill_overdue` (warning, subject
//! the facility), resolved when a drill ends.

use serde::Serialize;

use super::model::Person;
use super::state::EmergencyS;
use super::transitions::{Details, Nothing};
use super::{Dt, Engine, Rejection};
use crate::alert::{AlertType, Transition};
use crate::event::{EmergencyAction, EmergencyKind};

/// `roll_call_incomplete`: how many of those checked in at the start are not accounted for.
#[derive(Serialize)]
pub(super) struct Missing {
    pub missing: usize,
}

/// `drill_overdue`: the latest drill's end (local RFC 3339, `null` if none) and
/// `drill_every` in seconds.
#[derive(Serialize)]
pub(super) struct Overdue {
    pub last_drill: Option<String>,
    pub every_s: i64,
}

/// The emergency under way, for the summary and the staff page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmergencyView {
    pub kind: EmergencyKind,
    pub since: Dt,
    /// How many were checked in at the start.
    pub expected: usize,
    /// The ids of those not accounted for yet, sorted.
    pub missing: Vec<String>,
    /// The open `roll_call_incomplete`, if any.
    pub alert: Option<String>,
}

impl Details for Missing {}
impl Details for Overdue {}

impl Engine {
    /// The emergency under way, if any.
    pub fn emergency_view(&self) -> Option<EmergencyView> {
        self.s.emergencies.current.as_ref().map(|c| EmergencyView {
            kind: c.kind,
            since: c.since,
            expected: c.expected.len(),
            missing: c.missing.iter().cloned().collect(),
            alert: c.alert.as_ref().map(|a| a.id.clone()),
        })
    }

    /// Rejects a start while an emergency is under way, and an end of none or of another
    /// kind.
    pub(super) fn check_emergency(
        &self,
        kind: EmergencyKind,
        action: EmergencyAction,
    ) -> Result<(), Rejection> {
        let current = self.s.emergencies.current.as_ref();
        match (action, current) {
            (EmergencyAction::Start, Some(c)) => Err(Rejection::Invalid(format!(
                "`{}` emergency start while a `{}` emergency is under way (since {}); end it first",
                kind.as_str(),
                c.kind.as_str(),
                self.local(c.since).to_rfc3339()
            ))),
            (EmergencyAction::End, None) => Err(Rejection::Invalid(format!(
                "`{}` emergency end without a start: no emergency is under way",
                kind.as_str()
            ))),
            (EmergencyAction::End, Some(c)) if c.kind != kind => Err(Rejection::Invalid(format!(
                "`{}` emergency end, but the emergency under way is `{}`",
                kind.as_str(),
                c.kind.as_str()
            ))),
            _ => Ok(()),
        }
    }

    /// Rejects a roll call for someone who is not a child or member of staff of the
    /// roster, or when no emergency is under way.
    pub(super) fn check_roll_call(&self, person: &str) -> Result<(), Rejection> {
        match self.m.people.get(person) {
            None => Err(Rejection::Unknown {
                what: "person",
                id: person.to_string(),
            }),
            Some(Person::Guardian) => Err(Rejection::Invalid(format!(
                "`{person}` is a guardian; a roll call is for children and staff"
            ))),
            Some(_) if self.s.emergencies.current.is_none() => Err(Rejection::Invalid(format!(
                "roll call of `{person}` with no emergency under way"
            ))),
            Some(_) => Ok(()),
        }
    }

    pub(super) fn emergency(
        &mut self,
        kind: EmergencyKind,
        action: EmergencyAction,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        match action {
            EmergencyAction::Start => self.start_emergency(kind, now),
            EmergencyAction::End => self.end_emergency(now, out),
        }
    }

    /// An emergency of `kind` starts at `now`, unless one is under way: the roll call is
    /// everyone checked in.
    pub(super) fn start_emergency(&mut self, kind: EmergencyKind, now: Dt) {
        if self.s.emergencies.current.is_some() {
            return;
        }
        let children = self.m.children.iter().zip(&self.s.child_room);
        let staff = self.m.staff.iter().zip(&self.s.staff_room);
        let expected: std::collections::BTreeSet<String> = children
            .filter(|(_, r)| r.is_some())
            .map(|(c, _)| c.id.clone())
            .chain(
                staff
                    .filter(|(_, r)| r.is_some())
                    .map(|(s, _)| s.id.clone()),
            )
            .collect();
        self.s.emergencies.current = Some(EmergencyS {
            kind,
            since: now,
            missing: expected.clone(),
            expected,
            alert: None,
        });
    }

    fn end_emergency(&mut self, now: Dt, out: &mut Vec<Transition>) {
        let Some(c) = self.s.emergencies.current.take() else {
            return;
        };
        let facility = self.m.facility.clone();
        if let Some(a) = c.alert {
            let details = Missing {
                missing: c.missing.len(),
            };
            self.resolve_alert(
                AlertType::RollCallIncomplete,
                &facility,
                a,
                now,
                &details,
                out,
            );
        }
        if c.kind == EmergencyKind::Drill {
            self.s.emergencies.last_drill = Some(now);
            if let Some(a) = self.s.emergencies.overdue.take() {
                self.resolve_alert(AlertType::DrillOverdue, &facility, a, now, &Nothing {}, out);
            }
        }
    }

    /// `person` is accounted for in the roll call under way (if they are on it).
    pub(super) fn account(&mut self, person: &str, now: Dt, out: &mut Vec<Transition>) {
        let Some(c) = self.s.emergencies.current.as_mut() else {
            return;
        };
        if !c.missing.remove(person) || !c.missing.is_empty() {
            return;
        }
        if let Some(a) = c.alert.take() {
            let facility = self.m.facility.clone();
            let details = Missing { missing: 0 };
            self.resolve_alert(
                AlertType::RollCallIncomplete,
                &facility,
                a,
                now,
                &details,
                out,
            );
        }
    }

    /// When the roll call under way falls due: its start plus `roll_call_within`, while
    /// someone is missing and it is not raised yet.
    pub(super) fn roll_call_due(&self) -> Option<Dt> {
        let c = self.s.emergencies.current.as_ref()?;
        if c.alert.is_some() || c.missing.is_empty() {
            return None;
        }
        c.since.checked_add_signed(self.m.rules.roll_call_within)
    }

    pub(super) fn roll_call_incomplete(&mut self, due: Dt, out: &mut Vec<Transition>) {
        let facility = self.m.facility.clone();
        let Some(missing) = self.s.emergencies.current.as_ref().map(|c| c.missing.len()) else {
            return;
        };
        let a = self.raise(
            AlertType::RollCallIncomplete,
            &facility,
            due,
            &Missing { missing },
            out,
        );
        if let Some(c) = self.s.emergencies.current.as_mut() {
            c.alert = Some(a);
        }
    }

    /// At `open`, with `drill_every` set: no drill ended within it, counted from the latest
    /// drill's end or else the engine's first moment.
    pub(super) fn drills_due(&mut self, due: Dt, out: &mut Vec<Transition>) {
        let Some(every) = self.m.rules.drill_every else {
            return;
        };
        let e = &self.s.emergencies;
        if e.overdue.is_some() {
            return;
        }
        let Some(from) = e.last_drill.or(self.s.started) else {
            return;
        };
        if from.checked_add_signed(every).is_none_or(|d| d > due) {
            return;
        }
        let details = Overdue {
            last_drill: e.last_drill.map(|t| self.local(t).to_rfc3339()),
            every_s: every.num_seconds(),
        };
        let facility = self.m.facility.clone();
        let a = self.raise(AlertType::DrillOverdue, &facility, due, &details, out);
        self.s.emergencies.overdue = Some(a);
    }

    /// The earliest moment a check at `open` could raise something not raised yet (a panic
    /// input untested, a drill overdue, a required certificate expiring), if any.
    pub(super) fn open_checks_due_from(&self) -> Option<Dt> {
        let mut first: Option<Dt> = None;
        let mut consider = |from: Option<Dt>, every: chrono::Duration| {
            if let Some(d) = from.and_then(|f| f.checked_add_signed(every)) {
                first = Some(first.map_or(d, |x| x.min(d)));
            }
        };
        let every = self.m.rules.panic_test_every;
        for (x, s) in self.m.inputs.iter().zip(&self.s.inputs) {
            if x.kind == crate::config::InputKind::Panic && s.untested.is_none() {
                consider(s.last_test.or(self.s.started), every);
            }
        }
        let e = &self.s.emergencies;
        if let (Some(every), None) = (self.m.rules.drill_every, &e.overdue) {
            consider(e.last_drill.or(self.s.started), every);
        }
        // A required certificate comes within `certificate_warning` of its expiry at the
        // end of its last day minus the warning (see `certificates_due`).
        let warning = self.m.rules.certificate_warning;
        for (i, staff) in self.m.staff.iter().enumerate() {
            if !staff.counts {
                continue;
            }
            for kind in &self.m.rules.required_certificates {
                let Some(expires) = staff.certificates.get(kind).copied() else {
                    continue;
                };
                if self.s.expiring[i].iter().any(|x| x.kind == *kind) {
                    continue;
                }
                let end = crate::localtime::day_bounds(self.m.tz, expires).1;
                if self.s.clock.is_some_and(|c| end <= c) {
                    continue; // expired: its holder is `staff_not_qualified`, not expiring
                }
                consider(end.checked_sub_signed(warning), chrono::Duration::zero());
            }
        }
        first
    }
}
