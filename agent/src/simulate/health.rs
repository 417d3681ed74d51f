//! 晨午检 and absences: every child who comes is checked a few minutes after check-in
//! (36.2–37.0 °C, `pass`); one child of the day has a fever and is checked again later
//! (the planted incident [`IncidentKind::Fever`]). Two children with no siblings stay home:
//! one is reported sick before `open`; the other's family says nothing until staff follow
//! up after `arrival_deadline` (the planted incident [`IncidentKind::UnreportedAbsence`],
//! when the deadline is set), when the absence is recorded. A family that stays home of its
//! own accord (or a child the rooms could not take) is reported before `open` too.
//!
//! Planned last, after every other part of the day has drawn its random values, and the two
//! children who stay home only lose their own check-in and check-out: the staff, the doors
//! (their guardian still comes by) and every other event stay as they were.

use std::collections::{BTreeMap, HashSet};

use chrono::Datelike;
use rand::Rng;

use super::plan::{minute_of_day, Planner, Secs};
use super::IncidentKind;
use crate::config::DayName;
use crate::event::{AbsenceReason, AttendanceAction, EventKind, HealthResult};

/// A normal temperature in tenths of a degree, 36.2–37.0 °C.
fn normal(rng: &mut impl Rng) -> f64 {
    f64::from(rng.gen_range(362u32..=370)) / 10.0
}

impl Planner<'_> {
    pub(super) fn emit_health(&mut self) {
        let date = self.t0.date();
        let day = DayName::of(date.weekday());
        // Each child's check-in, as written down by the families.
        let children: HashSet<&str> = self.cfg.children.iter().map(|c| c.id.as_str()).collect();
        let mut check_in: BTreeMap<String, Secs> = BTreeMap::new();
        for (at, _, kind) in &self.events {
            if let EventKind::Attendance {
                person,
                action: AttendanceAction::CheckIn,
                ..
            } = kind
            {
                if children.contains(person.as_str()) {
                    check_in.entry(person.clone()).or_insert(*at);
                }
            }
        }
        let room_of = |id: &str| {
            self.cfg
                .children
                .iter()
                .find(|c| c.id == id)
                .map(|c| &c.room)
        };
        let mut per_room: BTreeMap<&String, usize> = BTreeMap::new();
        for id in check_in.keys() {
            if let Some(r) = room_of(id) {
                *per_room.entry(r).or_default() += 1;
            }
        }
        // Families of one child, picked up by their own guardian, in a room that keeps
        // at least two other children and that no caregiver steps out of (a child fewer
        // would give it slack): they may stay home without changing anyone's day.
        let step_out_room = self.step_out.map(|(w, ..)| self.workers[w].home);
        let candidates: Vec<String> = self
            .families
            .iter()
            .filter(|f| f.present && !f.stranger && f.kids.len() == 1)
            .filter(|f| Some(self.kids[f.kids[0]].room) != step_out_room)
            .map(|f| self.cfg.children[self.kids[f.kids[0]].cfg].id.clone())
            .filter(|id| check_in.contains_key(id))
            .filter(|id| {
                room_of(id)
                    .and_then(|r| per_room.get(r))
                    .is_some_and(|n| *n >= 3)
            })
            .collect();
        let mut home: Vec<String> = Vec::new();
        if candidates.len() >= 3 {
            let a = self.rng.gen_range(0..candidates.len() as u64) as usize;
            let mut b = self.rng.gen_range(0..candidates.len() as u64 - 1) as usize;
            if b >= a {
                b += 1;
            }
            home = vec![candidates[a].clone(), candidates[b].clone()];
        }
        let open_s = self.open as Secs * 60;
        let close_s = self.close as Secs * 60;

        // Reported before `open`: the first child staying home, and anyone else expected
        // today who is not coming.
        let coming: HashSet<&String> = check_in.keys().filter(|k| !home.contains(k)).collect();
        let unreported = home.get(1).cloned();
        for c in self.cfg.children.iter() {
            if coming.contains(&c.id)
                || Some(&c.id) == unreported.as_ref()
                || !c.expected_on(&self.cfg.facility, day)
            {
                continue;
            }
            let reason = if Some(&c.id) == home.first() {
                AbsenceReason::Sick
            } else {
                match self.rng.gen_range(0u32..3) {
                    0 => AbsenceReason::Sick,
                    1 => AbsenceReason::Personal,
                    _ => AbsenceReason::Other,
                }
            };
            let at = (open_s - self.rng.gen_range(300..=1800)).max(0);
            self.push(
                at,
                EventKind::Absence {
                    person: c.id.clone(),
                    date,
                    reason,
                },
            );
        }

        // The child nobody reported: staff follow up after the deadline and record it.
        if let Some(id) = &unreported {
            let deadline = self
                .cfg
                .rules
                .arrival_deadline
                .map(|t| minute_of_day(t.0) as Secs * 60);
            let after = deadline.unwrap_or(open_s + 120 * 60);
            let at = after + self.rng.gen_range(15 * 60..=45 * 60);
            let expected = self
                .cfg
                .children
                .iter()
                .any(|c| &c.id == id && c.expected_on(&self.cfg.facility, day));
            if at < close_s && expected {
                if let Some(d) = deadline.filter(|d| *d > open_s) {
                    self.incidents
                        .push((IncidentKind::UnreportedAbsence, id.clone(), d, Some(at)));
                }
                self.push(
                    at,
                    EventKind::Absence {
                        person: id.clone(),
                        date,
                        reason: AbsenceReason::Personal,
                    },
                );
            }
        }

        // The morning checks, one of them a fever checked again later.
        let checked: Vec<(String, Secs)> = check_in
            .iter()
            .filter(|(id, _)| !home.contains(id))
            .map(|(id, at)| (id.clone(), *at))
            .collect();
        let fever =
            (!checked.is_empty()).then(|| self.rng.gen_range(0..checked.len() as u64) as usize);
        for (i, (id, at)) in checked.iter().enumerate() {
            let when = at + self.rng.gen_range(120..=720);
            let celsius = if Some(i) == fever {
                f64::from(self.rng.gen_range(376u32..=384)) / 10.0
            } else {
                normal(&mut self.rng)
            };
            self.push(
                when,
                EventKind::HealthCheck {
                    person: id.clone(),
                    celsius: Some(celsius),
                    result: HealthResult::Pass,
                    by: None,
                },
            );
            if Some(i) == fever {
                let again = when + self.rng.gen_range(40 * 60..=60 * 60);
                let celsius = normal(&mut self.rng);
                self.incidents
                    .push((IncidentKind::Fever, id.clone(), when, Some(again)));
                self.push(
                    again,
                    EventKind::HealthCheck {
                        person: id.clone(),
                        celsius: Some(celsius),
                        result: HealthResult::Pass,
                        by: None,
                    },
                );
            }
        }

        // The children who stayed home were never checked in or out.
        self.events.retain(|(_, _, kind)| {
            !matches!(kind, EventKind::Attendance { person, .. } if home.contains(person))
        });
    }
}
