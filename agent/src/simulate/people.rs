//! Presence and certificates in the simulated day (issue 12): a counted member of staff
//! takes a short break on duty (`presence` `break`, then `on_duty`) where their room has
//! slack, and a member of staff whose role counts but who lacks a valid required
//! certificate comes in for the morning, unplanned for the ratio (the planted incident
//! [`IncidentKind::UnqualifiedStaff`]: `staff_not_qualified` at their check-in).
//!
//! Planned after every other part of the day has drawn its random values (naps included),
//! and the unqualified staff member takes part in no other plan, so that adding these
//! moved no other event.

use chrono::NaiveDate;

use super::plan::{pick, Minute, Planner, Secs};
use super::IncidentKind;
use crate::config::{Config, Staff};
use crate::event::{AttendanceAction, EventKind, PresenceState};
use rand::Rng;

/// Whether `s` holds every required certificate valid on `date` (a certificate is valid
/// through its `expires` date).
pub(super) fn qualified(cfg: &Config, s: &Staff, date: NaiveDate) -> bool {
    cfg.rules.required_certificates.iter().all(|kind| {
        s.certificates
            .iter()
            .any(|c| c.kind == *kind && date <= c.expires)
    })
}

/// Whether `s` counts toward ratios on `date`: by role, and qualified.
pub(super) fn counts_on(cfg: &Config, s: &Staff, date: NaiveDate) -> bool {
    s.counts_in_ratio() && qualified(cfg, s, date)
}

impl Planner<'_> {
    /// A break of 10–20 minutes between 09:30 and 11:00 for one counted member of staff
    /// who is in their home room throughout, where the room keeps its required staff
    /// without them in every minute of it.
    pub(super) fn emit_presence_break(&mut self) {
        let (lo, hi) = (self.at_clock(9, 30), self.at_clock(11, 0));
        let len = pick(&mut self.rng, 10, 20);
        if hi < lo + len + 10 || self.close < hi {
            return;
        }
        let start = pick(&mut self.rng, lo, hi - len);
        let counted: Vec<usize> = (0..self.workers.len())
            .filter(|&w| self.workers[w].counts)
            .collect();
        for s in (start..=hi - len).chain(lo..start).step_by(5) {
            for &w in &counted {
                let home = self.workers[w].home;
                let slack = (s..=s + len).all(|t| self.cover[home][t] > self.need[home][t]);
                if !slack || !self.at_home(w, s as isize - 3, s + len + 3) {
                    continue;
                }
                let id = self.cfg.staff[self.workers[w].cfg].id.clone();
                for (m, state) in [(s, PresenceState::Break), (s + len, PresenceState::OnDuty)] {
                    let at = m as Secs * 60 + self.rng.gen_range(5..=55);
                    let person = id.clone();
                    self.push(at, EventKind::Presence { person, state });
                }
                for t in s..=s + len {
                    self.cover[home][t] -= 1;
                }
                return;
            }
        }
    }

    /// Every member of staff whose role counts but who lacks a valid required certificate
    /// checks in to their home room an hour or so after `open` and leaves before lunch.
    pub(super) fn emit_unqualified(&mut self) {
        let date = self.t0.date();
        let latest: Minute = self.lunch_window().0.max(self.open + 1);
        for (i, s) in self.cfg.staff.iter().enumerate() {
            if !s.counts_in_ratio() || qualified(self.cfg, s, date) {
                continue;
            }
            if !self.room_ix.contains_key(s.room.as_str()) {
                continue;
            }
            if self.span() < 240 {
                return;
            }
            let arrive = self.open + pick(&mut self.rng, 45, 75);
            let leave = (arrive + pick(&mut self.rng, 90, 150))
                .min(latest)
                .max(arrive + 1);
            let (a, l) = (
                arrive as Secs * 60 + self.rng.gen_range(5..=55),
                leave as Secs * 60 + self.rng.gen_range(5..=55),
            );
            let id = self.cfg.staff[i].id.clone();
            for (at, action) in [
                (a, AttendanceAction::CheckIn),
                (l, AttendanceAction::CheckOut),
            ] {
                let kind = EventKind::Attendance {
                    person: id.clone(),
                    action,
                    room: None,
                    by: None,
                };
                self.push(at, kind);
            }
            self.incidents
                .push((IncidentKind::UnqualifiedStaff, id, a, None));
        }
    }
}
