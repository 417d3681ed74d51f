//! Naps and sleep checks (contract sections 9 and 10): while a room naps with children in
//! it, someone must check on them every `sleep_check_interval`, counted from the nap's
//! start or its latest check. A missed check raises `sleep_check_missed` (critical) at the
//! moment it fell due; a check, the nap's end or an empty room resolves it.

use chrono::Duration;

use super::state::NapS;
use super::transitions::{Checked, Missed, Nothing};
use super::{Dt, Engine};
use crate::alert::{AlertType, Transition};
use crate::event::NapAction;

impl NapS {
    /// When the next check falls due, unless one is already missed or nobody is there.
    pub fn due(&self, interval: Duration) -> Option<Dt> {
        match (&self.missed, self.watch) {
            (None, Some(watch)) => watch.checked_add_signed(interval),
            _ => None,
        }
    }
}

impl Engine {
    /// A nap starts or ends in room `r`. A start during a nap, or an end without one,
    /// changes nothing.
    pub(super) fn nap(&mut self, r: usize, action: NapAction, now: Dt, out: &mut Vec<Transition>) {
        match action {
            NapAction::Start if self.s.rooms[r].nap.is_none() => {
                let children = self.children_in(r);
                self.s.rooms[r].nap = Some(NapS {
                    since: now,
                    checked: None,
                    watch: (children > 0).then_some(now),
                    missed: None,
                });
            }
            NapAction::End => {
                if let Some(nap) = self.s.rooms[r].nap.take() {
                    if let Some(a) = nap.missed {
                        let room = self.m.rooms[r].id.clone();
                        let ty = AlertType::SleepCheckMissed;
                        self.resolve_alert(ty, &room, a, now, &Nothing {}, out);
                    }
                }
            }
            NapAction::Start => {}
        }
    }

    /// Staff member `by` checked the napping children of room `r`. Outside a nap it is
    /// recorded (the journal has it) and changes nothing.
    pub(super) fn sleep_check(&mut self, r: usize, by: &str, now: Dt, out: &mut Vec<Transition>) {
        let children = self.children_in(r);
        let Some(nap) = self.s.rooms[r].nap.as_mut() else {
            return;
        };
        nap.checked = Some(now);
        nap.watch = (children > 0).then_some(now);
        if let Some(a) = nap.missed.take() {
            let room = self.m.rooms[r].id.clone();
            let ty = AlertType::SleepCheckMissed;
            self.resolve_alert(ty, &room, a, now, &Checked { by }, out);
        }
    }

    /// The children of a napping room changed: with none left there is nobody to check
    /// (a missed check resolves); when children come back, the interval counts from then.
    pub(super) fn nap_children(
        &mut self,
        r: usize,
        children: u32,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        let Some(nap) = self.s.rooms[r].nap.as_mut() else {
            return;
        };
        if children > 0 {
            nap.watch.get_or_insert(now);
            return;
        }
        nap.watch = None;
        if let Some(a) = nap.missed.take() {
            let room = self.m.rooms[r].id.clone();
            let ty = AlertType::SleepCheckMissed;
            self.resolve_alert(ty, &room, a, now, &Nothing {}, out);
        }
    }

    /// The room's interval ran out with no check: raised at the moment it did.
    pub(super) fn sleep_check_missed(&mut self, r: usize, due: Dt, out: &mut Vec<Transition>) {
        let room = self.m.rooms[r].id.clone();
        let interval_s = self.m.rooms[r].sleep_check_interval.num_seconds();
        let Some(nap) = &self.s.rooms[r].nap else {
            return;
        };
        let details = Missed {
            interval_s,
            nap_since: self.local(nap.since).to_rfc3339(),
            last_check: nap.checked.map(|c| self.local(c).to_rfc3339()),
        };
        let a = self.raise(AlertType::SleepCheckMissed, &room, due, &details, out);
        if let Some(nap) = self.s.rooms[r].nap.as_mut() {
            nap.missed = Some(a);
        }
    }

    /// How many children are checked in to room `r`.
    fn children_in(&self, r: usize) -> u32 {
        let n = self.s.child_room.iter().filter(|c| **c == Some(r)).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}
