//! A fire drill (消防演练) in the late morning with a slow roll call: most of those on site
//! are accounted for within minutes — staff by their card at the `assembly` reader, children
//! by a `roll_call` from the staff page — but the last child only a few minutes after
//! `roll_call_within` ran out (the planted incident [`IncidentKind::SlowRollCall`]). Needs an
//! `assembly` reader and someone on site.
//!
//! Planned last, after every other part of the day has drawn its random values, so that
//! adding the drill moved no other event.

use rand::Rng;

use super::plan::{pick, secs, Minute, Secs};
use super::{IncidentKind, Planner};
use crate::config::ReaderPurpose;
use crate::event::{EmergencyAction, EmergencyKind, EventKind};

impl Planner<'_> {
    pub(super) fn emit_drill(&mut self) {
        let Some(reader) = self
            .cfg
            .readers
            .iter()
            .find(|r| r.purpose == ReaderPurpose::Assembly)
            .map(|r| r.id.clone())
        else {
            return;
        };
        let m: Minute = self.at_clock(10, 30) + pick(&mut self.rng, 0, 20);
        if m + 30 >= self.close || m <= self.open {
            return;
        }
        // Whoever may be checked in at the start, with a minute's margin either side: a
        // roll call for someone who was not is accepted and changes nothing.
        let children: Vec<String> = self
            .families
            .iter()
            .filter(|f| f.present && f.arrive <= m + 1 && f.depart + 1 >= m)
            .flat_map(|f| f.kids.iter().map(|&k| self.kids[k].cfg))
            .map(|c| self.cfg.children[c].id.clone())
            .collect();
        let near = m.saturating_sub(5)..=(m + 5);
        let staff: Vec<(String, Option<String>)> = self
            .workers
            .iter()
            .filter(|w| {
                near.clone()
                    .any(|t| w.loc.get(t).is_some_and(|l| l.is_some()))
            })
            .map(|w| (self.cfg.staff[w.cfg].id.clone(), w.card.clone()))
            .collect();
        if children.is_empty() {
            return;
        }
        let start = m as Secs * 60;
        let within = secs(self.cfg.rules.roll_call_within).max(120);
        self.push(
            start,
            EventKind::Emergency {
                kind: EmergencyKind::Drill,
                action: EmergencyAction::Start,
            },
        );
        for (id, card) in staff {
            let at = start + self.rng.gen_range(30..=within / 2);
            let kind = match card {
                Some(card) => EventKind::Badge {
                    reader: reader.clone(),
                    card,
                },
                None => EventKind::RollCall { person: id },
            };
            self.push(at, kind);
        }
        // As u64, not usize: the day must be the same on a 32-bit board.
        let last = self.rng.gen_range(0..children.len() as u64) as usize;
        for (i, id) in children.iter().enumerate() {
            if i != last {
                let at = start + self.rng.gen_range(60..=within - 60);
                self.push(at, EventKind::RollCall { person: id.clone() });
            }
        }
        let late = start + within + self.rng.gen_range(60..=240);
        self.push(
            late,
            EventKind::RollCall {
                person: children[last].clone(),
            },
        );
        let facility = self.cfg.facility.id.clone();
        self.incidents.push((
            IncidentKind::SlowRollCall,
            facility,
            start + within,
            Some(late),
        ));
        self.push(
            late + 5 * 60,
            EventKind::Emergency {
                kind: EmergencyKind::Drill,
                action: EmergencyAction::End,
            },
        );
    }
}
