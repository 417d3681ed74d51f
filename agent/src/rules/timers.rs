//! Timers, derived from the state rather than queued: grace periods, doors held open,
//! stale sensors, sustained readings, the end-of-day pick-up check and midnight. Each
//! fires at its due time, which becomes its transition's `ts`.

use chrono::{Duration, Months, NaiveDate, NaiveTime};

use super::model::Limit;
use super::rooms::ratio;
use super::state::Cond;
use super::transitions::{DoorHeld, Level, NotCheckedOut, Stale, Unsupervised};
use super::{Dt, Engine};
use crate::alert::{AlertType, Transition};
use crate::localtime;

/// A timer derived from the state.
#[derive(Debug, Clone, Copy)]
pub(super) enum Timer {
    Ratio(usize),
    Unsupervised(usize),
    DoorHeld(usize),
    Stale(usize),
    Sustained(usize, Limit),
    SleepCheck(usize),
    RollCall,
    HealthCheck(usize),
    Arrival,
    Open,
    Pickup,
    Midnight,
}

impl Engine {
    /// On the first event or tick: the clock starts, and so do the daily timers.
    pub(super) fn start_if_needed(&mut self, now: Dt) {
        if self.s.started.is_some() {
            return;
        }
        self.s.started = Some(now);
        self.s.clock = Some(now);
        self.s.next_pickup = self.next_pickup(now, true);
        self.s.next_midnight = self.next_midnight(now);
        self.s.next_open = self.next_open_after(now);
        self.s.next_arrival = self.next_arrival_after(now);
    }

    /// The next local `open` strictly after `t`: the daily checks (`panic_untested`).
    pub(super) fn next_open_after(&self, t: Dt) -> Option<Dt> {
        localtime::next_daily(self.m.tz, t, self.m.open, Duration::zero(), false)
    }

    /// The next end-of-day pick-up check after `t` (or at it, when `inclusive`): close plus
    /// the pick-up grace, on a local date that happened.
    fn next_pickup(&self, t: Dt, inclusive: bool) -> Option<Dt> {
        let grace = self.m.rules.pickup_grace;
        localtime::next_daily(self.m.tz, t, self.m.close, grace, inclusive)
    }

    /// The next end-of-day pick-up check strictly after `t`.
    pub(super) fn next_pickup_after(&self, t: Dt) -> Option<Dt> {
        self.next_pickup(t, false)
    }

    /// The next local midnight after `t`.
    pub(super) fn next_midnight_after(&self, t: Dt) -> Option<Dt> {
        self.next_midnight(t)
    }

    /// The next local midnight after `t`, when children may move up an age band.
    fn next_midnight(&self, t: Dt) -> Option<Dt> {
        localtime::next_daily(self.m.tz, t, NaiveTime::MIN, Duration::zero(), false)
    }

    /// The timer that falls due first, and when (the first in this order on a tie).
    pub(super) fn next_timer(&self) -> Option<(Dt, Timer)> {
        let r = &self.m.rules;
        let mut best: Option<(Dt, Timer)> = None;
        let mut consider = |due: Option<Dt>, t: Timer| {
            if let Some(due) = due {
                if best.is_none_or(|(b, _)| due < b) {
                    best = Some((due, t));
                }
            }
        };
        for (i, room) in self.s.rooms.iter().enumerate() {
            consider(room.ratio.due(r.ratio_grace), Timer::Ratio(i));
            consider(
                room.unsupervised.due(r.unsupervised_grace),
                Timer::Unsupervised(i),
            );
            let interval = self.m.rooms[i].sleep_check_interval;
            consider(
                room.nap.as_ref().and_then(|n| n.due(interval)),
                Timer::SleepCheck(i),
            );
        }
        for (i, door) in self.s.doors.iter().enumerate() {
            if door.held.is_none() {
                let due = door
                    .opened_at
                    .and_then(|t| t.checked_add_signed(r.door_held_open));
                consider(due, Timer::DoorHeld(i));
            }
        }
        for (i, s) in self.s.sensors.iter().enumerate() {
            if s.stale.is_none() {
                let base = match (s.last_reading, self.s.stale_base.or(self.s.started)) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                let due = base.and_then(|t| t.checked_add_signed(r.sensor_stale_after));
                consider(due, Timer::Stale(i));
            }
            for limit in Limit::ALL {
                consider(
                    s.cond(limit).due(limit.sustain(r)),
                    Timer::Sustained(i, limit),
                );
            }
        }
        consider(self.roll_call_due(), Timer::RollCall);
        for c in 0..self.m.children.len() {
            consider(self.health_due(c), Timer::HealthCheck(c));
        }
        if self.m.rules.arrival_deadline.is_some() {
            consider(self.s.next_arrival, Timer::Arrival);
        }
        if r.drill_every.is_some()
            || self
                .m
                .inputs
                .iter()
                .any(|x| x.kind == crate::config::InputKind::Panic)
            || !self.m.rules.required_certificates.is_empty()
            || self.s.expiring.iter().any(|e| !e.is_empty())
        {
            consider(self.s.next_open, Timer::Open);
        }
        consider(self.s.next_pickup, Timer::Pickup);
        consider(self.s.next_midnight, Timer::Midnight);
        best
    }

    /// Fires every timer due at or before `to`, in due order, and moves the clock there.
    pub(super) fn advance(&mut self, to: Dt, out: &mut Vec<Transition>) {
        while let Some((due, timer)) = self.next_timer() {
            if due > to {
                break;
            }
            self.s.clock = Some(self.s.clock.map_or(due, |c| c.max(due)));
            self.fire(timer, due, out);
            self.skip_idle_days(timer, due, to);
        }
        self.s.clock = Some(self.s.clock.map_or(to, |c| c.max(to)));
        // The latest local date the clock has reached: ages are never judged earlier.
        let date = self.s.clock.map(|c| localtime::date_of(self.m.tz, c));
        self.s.age_date = self.s.age_date.max(date);
    }

    fn fire(&mut self, timer: Timer, due: Dt, out: &mut Vec<Transition>) {
        match timer {
            Timer::Ratio(r) => {
                let f = self.figures(r, due);
                let a = self.raise(AlertType::RatioBreach, &f.room, due, &ratio(&f), out);
                self.s.rooms[r].ratio = Cond::raised(a);
            }
            Timer::Unsupervised(r) => {
                let f = self.figures(r, due);
                let d = Unsupervised {
                    children: f.children,
                };
                let a = self.raise(AlertType::UnsupervisedChildren, &f.room, due, &d, out);
                self.s.rooms[r].unsupervised = Cond::raised(a);
            }
            Timer::DoorHeld(d) => self.door_held(d, due, out),
            Timer::Stale(s) => self.stale(s, due, out),
            Timer::Sustained(s, limit) => self.sustained(s, limit, due, out),
            Timer::SleepCheck(r) => self.sleep_check_missed(r, due, out),
            Timer::RollCall => self.roll_call_incomplete(due, out),
            Timer::HealthCheck(c) => self.health_check_missing(c, due, out),
            Timer::Arrival => {
                self.arrival_check(due, out);
                self.s.next_arrival = self.next_arrival_after(due);
            }
            Timer::Open => {
                self.panic_tests_due(due, out);
                self.drills_due(due, out);
                self.certificates_due(due, out);
                self.s.next_open = self.next_open_after(due);
            }
            Timer::Pickup => {
                self.pickup_check(due, out);
                self.s.next_pickup = self.next_pickup(due, false);
            }
            Timer::Midnight => {
                // Children may have moved to an older age band at midnight.
                for r in 0..self.m.rooms.len() {
                    self.evaluate_room(r, due, out);
                }
                self.s.next_midnight = self.next_midnight(due);
            }
        }
    }

    /// After a daily timer fired at `due`, with the clock going on to `to`: the occurrences
    /// before `to` that can change nothing are skipped, so a jump of years costs a few steps
    /// rather than one per day. Nothing but an event checks a child in or out, so until `to`
    /// the children present stay the same: the next pick-up checks find nobody new, and a
    /// midnight matters only when a present child's age in months changes or a present
    /// member of staff's required certificate runs out.
    fn skip_idle_days(&mut self, timer: Timer, due: Dt, to: Dt) {
        match timer {
            // One check at `open` raises what is untested or overdue; later ones can add
            // nothing until an event (a test press, a drill's end) changes it.
            // That holds only from the moment one of them can fall due: the first `open`
            // at or after it is kept.
            Timer::Open if self.s.next_open.is_some_and(|n| n <= to) => {
                let from = match self.open_checks_due_from() {
                    Some(x) if x <= to => x - Duration::nanoseconds(1),
                    _ => to,
                };
                self.s.next_open = self.next_open_after(from.max(due));
            }
            // Until every child is in, already flagged or never expected, another day's
            // deadline may flag someone new (a child who came yesterday and not today);
            // after that only an event can change anything.
            Timer::Arrival
                if self.s.next_arrival.is_some_and(|n| n <= to) && self.arrivals_settled() =>
            {
                self.s.next_arrival = self.next_arrival_after(to);
            }
            Timer::Pickup if self.s.next_pickup.is_some_and(|n| n <= to) => {
                self.s.next_pickup = self.next_pickup(to, false);
            }
            Timer::Midnight if self.s.next_midnight.is_some_and(|n| n <= to) => {
                let tz = self.m.tz;
                let today = localtime::date_of(tz, due);
                let ages = self.next_age_change(today);
                let certificates = self.next_certificate_change(today);
                let change = [ages, certificates]
                    .into_iter()
                    .flatten()
                    .min()
                    .and_then(|d| {
                        let start = localtime::day_bounds(tz, d).0;
                        localtime::next_daily(tz, start, NaiveTime::MIN, Duration::zero(), true)
                    });
                self.s.next_midnight = match change {
                    Some(c) if c <= to => Some(self.s.next_midnight.map_or(c, |n| n.max(c))),
                    _ => self.next_midnight(to),
                };
            }
            _ => {}
        }
    }

    /// The first local date after `date` on which a child present in a room reaches another
    /// month of age below the oldest band's start (past it, nothing about a child's age
    /// changes a room's figures: the cn-2019 mixed-group age is below it too).
    fn next_age_change(&self, date: NaiveDate) -> Option<NaiveDate> {
        let settled = self
            .m
            .preset
            .bands()
            .iter()
            .map(|b| b.from_months)
            .max()
            .unwrap_or(0);
        let mut first: Option<NaiveDate> = None;
        for (c, room) in self.s.child_room.iter().enumerate() {
            if room.is_none() {
                continue;
            }
            let birth = self.m.children[c].birth;
            let months = crate::presets::completed_months(birth, date);
            if months >= settled {
                continue;
            }
            let Some(mut d) = birth.checked_add_months(Months::new(months + 1)) else {
                continue;
            };
            // `completed_months` is the judge; chrono's month arithmetic only a guess.
            while d > date.succ_opt().unwrap_or(date)
                && d.pred_opt()
                    .is_some_and(|p| crate::presets::completed_months(birth, p) > months)
            {
                d = d.pred_opt().unwrap_or(d);
            }
            while crate::presets::completed_months(birth, d) <= months {
                match d.succ_opt() {
                    Some(n) => d = n,
                    None => break,
                }
            }
            let d = d.max(date.succ_opt().unwrap_or(date));
            first = Some(first.map_or(d, |f| f.min(d)));
        }
        first
    }

    fn door_held(&mut self, d: usize, due: Dt, out: &mut Vec<Transition>) {
        let id = self.m.doors[d].clone();
        let opened = self.s.doors[d].opened_at;
        let open_for_s = opened.map(|o| (due - o).num_seconds()).unwrap_or(0);
        let a = self.raise(
            AlertType::DoorHeldOpen,
            &id,
            due,
            &DoorHeld { open_for_s },
            out,
        );
        self.s.doors[d].held = Some(a);
    }

    fn stale(&mut self, s: usize, due: Dt, out: &mut Vec<Transition>) {
        let id = self.m.sensors[s].clone();
        let last_reading = self.s.sensors[s]
            .last_reading
            .map(|t| self.local(t).to_rfc3339());
        let a = self.raise(
            AlertType::SensorStale,
            &id,
            due,
            &Stale { last_reading },
            out,
        );
        self.s.sensors[s].stale = Some(a);
    }

    fn sustained(&mut self, s: usize, limit: Limit, due: Dt, out: &mut Vec<Transition>) {
        let id = self.m.sensors[s].clone();
        let sensor = &self.s.sensors[s];
        let value = if limit.is_temperature() {
            sensor.celsius
        } else {
            sensor.humidity
        };
        let a = self.raise(limit.alert_type(), &id, due, &Level::of(limit, value), out);
        *self.s.sensors[s].cond_mut(limit) = Cond::raised(a);
    }

    /// Close plus the pick-up grace: every child still checked in (and not yet flagged)
    /// is flagged.
    fn pickup_check(&mut self, due: Dt, out: &mut Vec<Transition>) {
        for c in 0..self.m.children.len() {
            if let (Some(room), None) = (self.s.child_room[c], &self.s.not_picked_up[c]) {
                let id = self.m.children[c].id.clone();
                let room = self.m.rooms[room].id.clone();
                let d = NotCheckedOut { room: &room };
                let a = self.raise(AlertType::ChildNotCheckedOut, &id, due, &d, out);
                self.s.not_picked_up[c] = Some(a);
            }
        }
    }
}
