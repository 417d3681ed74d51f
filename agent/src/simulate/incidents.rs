//! The incidents planted in the day that are not part of a reading series: the caregiver who
//! steps out, the door held open and the door forced, the unknown card.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::Rng;

use super::plan::{minutes_ceil, pick, secs, with_acts, Act, Grant, Minute, Planner, Secs};
use super::IncidentKind;
use crate::event::EventKind;

impl Planner<'_> {
    /// Incident: a caregiver steps out of a room with no slack for longer than the grace.
    pub(super) fn plan_step_out(&mut self) {
        let rooms = self.cfg.rooms.len();
        let d = minutes_ceil(self.cfg.rules.ratio_grace) + 2 + pick(&mut self.rng, 0, 2);
        let (lo, hi) = (self.open + 90, self.close.saturating_sub(120 + d));
        if hi <= lo {
            return;
        }
        let mut candidates: Vec<(usize, Minute)> = (0..self.workers.len())
            .filter(|&w| self.workers[w].counts)
            .flat_map(|w| (lo..=hi).map(move |s| (w, s)))
            .collect();
        candidates.shuffle(&mut self.rng);
        for (w, s) in candidates {
            if !self.at_home(w, s as isize - 3, s + d + 3) {
                continue;
            }
            let r = self.workers[w].home;
            let c = self.cover[r][s - 2];
            let tight = c >= 2
                && (s - 2..=s + d + 2).all(|t| self.cover[r][t] == c && self.need[r][t] == c);
            if !tight {
                continue;
            }
            let acts = if rooms >= 2 {
                let others: Vec<usize> = (0..rooms).filter(|&x| x != r).collect();
                let to = others.choose(&mut self.rng).copied().unwrap_or(r);
                [(s, Act::Move(to)), (s + d, Act::Move(r))]
            } else {
                [(s, Act::CheckOut), (s + d, Act::CheckIn(r))]
            };
            let acts = with_acts(&self.workers[w].acts, &acts);
            self.replace_acts(w, acts, false);
            self.step_out = Some((w, s, s + d));
            return;
        }
    }

    /// Incidents at the doors: one held open, one forced.
    pub(super) fn emit_door_incidents(&mut self) {
        let doors = self.cfg.doors.len();
        if doors == 0 || self.span() < 180 {
            return;
        }
        // Held open: a delivery at a door, propped for a minute or two past the limit.
        let d = pick(&mut self.rng, 0, doors - 1);
        let hold = secs(self.cfg.rules.door_held_open) + self.rng.gen_range(20..=120);
        let want = pick(&mut self.rng, self.open + 60, self.close - 60) as Secs * 60;
        let lag = secs(self.cfg.rules.door_grant_window).min(2);
        if let Some(s) = self.book_door(d, want, lag + hold, false) {
            let card = self
                .workers
                .iter()
                .filter_map(|w| w.card.clone())
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .cloned();
            let grant = self.grant_for(d, card.as_deref());
            let (open, closed) = self.door_visit(d, s, grant, hold);
            let id = self.cfg.doors[d].id.clone();
            self.incidents
                .push((IncidentKind::DoorHeldOpen, id, open, Some(closed)));
        }
        // Forced: the other door if there is one, pushed open with no badge or button.
        let f = if doors >= 2 {
            (d + pick(&mut self.rng, 1, doors - 1)) % doors
        } else {
            d
        };
        let hold = self.short_hold().max(1);
        let want = pick(&mut self.rng, self.open + 150, self.close - 120) as Secs * 60;
        if let Some(s) = self.book_door(f, want, hold, false) {
            let (open, closed) = self.door_visit(f, s, Grant::Forced, hold);
            let id = self.cfg.doors[f].id.clone();
            self.incidents
                .push((IncidentKind::DoorForced, id, open, Some(closed)));
        }
    }

    /// Incident: a card on no roster at the entrance reader (or any reader), soon after opening.
    pub(super) fn emit_unknown_card(&mut self) {
        let readers = &self.cfg.readers;
        let entrance = self.entrance().map(|d| self.cfg.doors[d].id.clone());
        let reader = entrance
            .and_then(|d| self.access_reader(&d))
            .or_else(|| readers.first().map(|r| r.id.clone()));
        let Some(reader) = reader else { return };
        if self.span() < 180 {
            return;
        }
        let known: HashSet<&str> = self
            .cfg
            .staff
            .iter()
            .filter_map(|s| s.card.as_deref())
            .chain(self.cfg.guardians.iter().filter_map(|g| g.card.as_deref()))
            .collect();
        let card = loop {
            let c = format!("9{:07}", self.rng.gen_range(0..10_000_000u32));
            if !known.contains(c.as_str()) {
                break c;
            }
        };
        // In the morning rush, a few minutes after opening: the first incident of the day,
        // so that the demo (which starts half an hour before `open`, one simulated hour a
        // real minute) shows an alert within its first minute.
        // The minute is drawn over the whole day, as it always was, and folded into the
        // ten minutes after opening: the same random values are consumed, so every other
        // event of a seed's day stays where it was.
        let drawn = pick(&mut self.rng, self.open + 60, self.close - 60) - (self.open + 60);
        let at = (self.open + 2 + drawn % 11) as Secs * 60 + self.rng.gen_range(0..60);
        self.push(
            at,
            EventKind::Badge {
                reader: reader.clone(),
                card,
            },
        );
        self.incidents
            .push((IncidentKind::UnknownCard, reader, at, None));
    }
}
