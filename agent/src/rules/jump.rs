//! A jump of the board's wall clock: it synchronised after booting with a wrong time, or
//! someone set it by hand. A jump is not time passing: the rules carry every pending timer
//! across it, so that a grace period, a door held open or a silent sensor keeps the time it
//! had already run, and nothing falls due for the span that was skipped (no stale sensors,
//! no missed pick-ups for a day that did not happen). A jump backwards lets the clock run
//! again from the earlier time, so a door held open after it is still noticed on time.

use chrono::Duration;

use super::{Dt, Engine};
use crate::alert::Transition;

/// `t` moved by `by`, or `t` itself past the end of time.
fn shifted(t: Dt, by: Duration) -> Dt {
    t.checked_add_signed(by).unwrap_or(t)
}

fn shift(t: &mut Option<Dt>, by: Duration) {
    if let Some(v) = t {
        *v = shifted(*v, by);
    }
}

impl Engine {
    /// The wall clock jumped from `from` (what it would read had it not jumped) to `to`.
    /// Timers due by `from` fire as usual; the rest move with the clock.
    pub(super) fn clock_jump(&mut self, from: Dt, to: Dt, out: &mut Vec<Transition>) {
        if self.s.started.is_none() {
            // Nothing is pending yet: the clock just starts at `to`.
            self.start_if_needed(to);
            return;
        }
        self.advance(from, out);
        let by = to - from;
        let clock = shifted(self.s.clock.unwrap_or(from), by);
        self.shift_anchors(by);
        self.s.clock = Some(clock);
        // The daily timers are derived from the new clock: a pick-up check or a midnight
        // that the jump skipped over never happened.
        self.s.next_pickup = self.next_pickup_after(clock);
        self.s.next_midnight = self.next_midnight_after(clock);
        self.s.next_open = self.next_open_after(clock);
        self.s.next_arrival = self.next_arrival_after(clock);
        // The local date may have changed, and with it the children's age bands.
        for r in 0..self.m.rooms.len() {
            self.evaluate_room(r, clock, out);
        }
    }

    /// Every moment a timer is measured from, moved by `by`.
    fn shift_anchors(&mut self, by: Duration) {
        let s = &mut self.s;
        shift(&mut s.started, by);
        shift(&mut s.stale_base, by);
        for room in &mut s.rooms {
            shift(&mut room.ratio.since, by);
            shift(&mut room.unsupervised.since, by);
            if let Some(nap) = &mut room.nap {
                nap.since = shifted(nap.since, by);
                shift(&mut nap.checked, by);
                shift(&mut nap.watch, by);
            }
        }
        for h in &mut s.health {
            shift(&mut h.awaiting, by);
        }
        for door in &mut s.doors {
            shift(&mut door.opened_at, by);
            shift(&mut door.last_grant, by);
        }
        for input in &mut s.inputs {
            shift(&mut input.last_test, by);
        }
        if let Some(c) = &mut s.emergencies.current {
            c.since = shifted(c.since, by);
        }
        shift(&mut s.emergencies.last_drill, by);
        for sensor in &mut s.sensors {
            shift(&mut sensor.last_reading, by);
            for c in [
                &mut sensor.temp_high,
                &mut sensor.temp_low,
                &mut sensor.hum_high,
                &mut sensor.hum_low,
            ] {
                shift(&mut c.since, by);
            }
        }
    }
}
