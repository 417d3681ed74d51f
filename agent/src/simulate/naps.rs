//! Naps (午睡): every room with children naps after lunch, and its staff check on the
//! sleeping children a little more often than the room's `sleep_check_interval` asks —
//! at a `sleep_check` reader with their card where the room has one, else as a
//! `sleep_check` event from the staff page. One check of the day comes late (the planted
//! incident [`IncidentKind::LateSleepCheck`]).
//!
//! Planned last, after every other part of the day has drawn its random values, so that
//! adding naps moved no other event.

use super::plan::{minutes_ceil, pick, Minute, Planner, Secs};
use super::IncidentKind;
use crate::config::ReaderPurpose;
use crate::event::{EventKind, NapAction};
use rand::Rng;

/// How long the nap lasts, in minutes.
const NAP_MINUTES: Minute = 120;

impl Planner<'_> {
    pub(super) fn emit_naps(&mut self) {
        let mut late_planted = false;
        for r in 0..self.cfg.rooms.len() {
            let start = self.at_clock(12, 20) + pick(&mut self.rng, 0, 20);
            let end = start + NAP_MINUTES;
            let checker = self.workers.iter().any(|w| w.counts && w.home == r);
            if !checker || end + 30 >= self.close || !(start..=end).all(|t| self.need[r][t] > 0) {
                // A room with nobody to nap or nobody to check, or a day too short for a nap.
                continue;
            }
            let room = &self.cfg.rooms[r];
            let interval = minutes_ceil(
                room.sleep_check_interval
                    .unwrap_or(self.cfg.rules.sleep_check_interval),
            )
            .max(1) as Secs
                * 60;
            let id = room.id.clone();
            let (start_s, end_s) = (start as Secs * 60, end as Secs * 60);
            self.push(
                start_s,
                EventKind::Nap {
                    room: id.clone(),
                    action: NapAction::Start,
                },
            );
            let mut last = start_s;
            let mut n = 0;
            loop {
                // On time: one to three minutes before the interval runs out; the second
                // check of the first napping room: three to six minutes late.
                let late = !late_planted && n == 1;
                let at = if late {
                    last + interval + self.rng.gen_range(180..=360)
                } else {
                    let early = self.rng.gen_range(60..=180).min(interval - 1);
                    last + interval - early
                };
                if at >= end_s - 60 {
                    break;
                }
                if late {
                    let due = last + interval;
                    self.incidents
                        .push((IncidentKind::LateSleepCheck, id.clone(), due, Some(at)));
                    late_planted = true;
                }
                self.emit_sleep_check(r, at);
                last = at;
                n += 1;
            }
            // Checks stop a little before the nap ends; the end comes before the next is due.
            let end_at = end_s.min(last + interval - 30).max(last + 1);
            self.push(
                end_at,
                EventKind::Nap {
                    room: id,
                    action: NapAction::End,
                },
            );
        }
    }

    /// A check of room `r` at `at` by a counted member of staff there (else the room's
    /// first counted staff member): a badge at the room's sleep-check reader when there is
    /// one and the checker has a card, else a `sleep_check` event.
    fn emit_sleep_check(&mut self, r: usize, at: Secs) {
        let minute = (at / 60) as usize;
        let here = |w: &&super::plan::Worker| w.counts && w.loc.get(minute) == Some(&Some(r));
        let home = |w: &&super::plan::Worker| w.counts && w.home == r;
        let checker = self
            .workers
            .iter()
            .find(here)
            .or_else(|| self.workers.iter().find(home));
        let Some(w) = checker else { return };
        let staff = self.cfg.staff[w.cfg].id.clone();
        let card = w.card.clone();
        let room = self.cfg.rooms[r].id.clone();
        let reader = self
            .cfg
            .readers
            .iter()
            .find(|x| x.purpose == ReaderPurpose::SleepCheck && x.room.as_deref() == Some(&room))
            .map(|x| x.id.clone());
        let kind = match (reader, card) {
            (Some(reader), Some(card)) => EventKind::Badge { reader, card },
            _ => EventKind::SleepCheck { room, by: staff },
        };
        self.push(at, kind);
    }
}
