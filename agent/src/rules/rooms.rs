//! Rooms: a room's figures (children per age band on the local date, counted staff, the
//! staff required and the capacity), and the three conditions judged from them —
//! ratio, supervision and capacity.

use super::state::{Active, Cond};
use super::transitions::{Capacity, Ratio, Unsupervised};
use super::views::RoomFigures;
use super::{Dt, Engine};
use crate::alert::{AlertType, Transition};
use crate::localtime;

impl Engine {
    /// Re-judges the rooms someone left and entered (each once).
    pub(super) fn reevaluate(
        &mut self,
        rooms: [Option<usize>; 2],
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        let [a, b] = rooms;
        if let Some(a) = a {
            self.evaluate_room(a, now, out);
        }
        if let Some(b) = b.filter(|b| Some(*b) != a) {
            self.evaluate_room(b, now, out);
        }
    }

    /// Every child's completed months and age band on the local date of `now` — or on a
    /// later date when the clock is not believable: never before the last date judged
    /// (the clock went back, or the board booted at 1970) nor before the youngest child's
    /// birth (a new board that has never seen a good clock).
    pub(super) fn refresh_bands(&mut self, now: Dt) {
        let youngest = self.m.children.iter().map(|c| c.birth).max();
        let date = localtime::date_of(self.m.tz, now)
            .max(self.s.age_date.unwrap_or_default())
            .max(youngest.unwrap_or_default());
        if self.bands_on == Some(date) {
            return;
        }
        let preset = self.m.preset;
        self.child_months = self
            .m
            .children
            .iter()
            .map(|c| crate::presets::completed_months(c.birth, date))
            .collect();
        self.child_band = self
            .child_months
            .iter()
            .map(|&m| preset.band_of(m))
            .collect();
        self.bands_on = Some(date);
    }

    pub(super) fn figures(&mut self, r: usize, now: Dt) -> RoomFigures {
        self.refresh_bands(now);
        let preset = self.m.preset;
        let mut by_band = vec![0u32; preset.bands().len()];
        let mut youngest: Option<u32> = None;
        for (c, room) in self.s.child_room.iter().enumerate() {
            if *room == Some(r) {
                by_band[self.child_band[c]] += 1;
                let m = self.child_months[c];
                youngest = Some(youngest.map_or(m, |y| y.min(m)));
            }
        }
        let date = self.judged_date(now);
        let (mut counted, mut present) = (0, 0);
        for (i, room) in self.s.staff_room.iter().enumerate() {
            if *room == Some(r) {
                present += 1;
                if self.counts_on(i, date) {
                    counted += 1;
                }
            }
        }
        let capacity = self.m.rooms[r]
            .capacity
            .or_else(|| preset.group_size(&by_band, youngest));
        RoomFigures {
            room: self.m.rooms[r].id.clone(),
            children: by_band.iter().sum(),
            required: preset.required_staff(&by_band),
            by_band,
            counted_staff: counted,
            staff_present: present,
            capacity,
        }
    }

    /// Judges room `r` now: a shortfall or a room without a counted adult starts its grace
    /// period (the alert is raised by its timer), their end resolves a raised alert, and
    /// capacity is raised or resolved at once.
    pub(super) fn evaluate_room(&mut self, r: usize, now: Dt, out: &mut Vec<Transition>) {
        let f = self.figures(r, now);
        self.nap_children(r, f.children, now, out);

        let short = f.children > 0 && f.counted_staff < f.required;
        if let Some(a) = pending(&mut self.s.rooms[r].ratio, short, now) {
            let d = ratio(&f);
            self.resolve_alert(AlertType::RatioBreach, &f.room, a, now, &d, out);
        }

        let alone = f.children > 0 && f.counted_staff == 0;
        if let Some(a) = pending(&mut self.s.rooms[r].unsupervised, alone, now) {
            let d = Unsupervised {
                children: f.children,
            };
            self.resolve_alert(AlertType::UnsupervisedChildren, &f.room, a, now, &d, out);
        }

        let over = f.capacity.is_some_and(|c| f.children > c);
        let d = Capacity {
            children: f.children,
            capacity: f.capacity,
        };
        match (over, self.s.rooms[r].capacity.take()) {
            (true, None) => {
                let a = self.raise(AlertType::CapacityExceeded, &f.room, now, &d, out);
                self.s.rooms[r].capacity = Some(a);
            }
            (true, Some(a)) => self.s.rooms[r].capacity = Some(a),
            (false, Some(a)) => {
                self.resolve_alert(AlertType::CapacityExceeded, &f.room, a, now, &d, out)
            }
            (false, None) => {}
        }
    }
}

/// A condition with a grace period: while it `holds`, its grace runs from the first moment
/// it held; once it stops, the grace is forgotten and a raised alert is handed back to be
/// resolved.
fn pending(cond: &mut Cond, holds: bool, now: Dt) -> Option<Active> {
    if holds {
        if cond.alert.is_none() && cond.since.is_none() {
            cond.since = Some(now);
        }
        None
    } else {
        cond.since = None;
        cond.alert.take()
    }
}

/// The `ratio_breach` details of a room's figures.
pub(super) fn ratio(f: &RoomFigures) -> Ratio {
    Ratio {
        children: f.children,
        staff: f.counted_staff,
        required: f.required,
    }
}
