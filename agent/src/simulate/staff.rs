//! Staff: shifts stretched until every minute has the staff its room requires, lunch
//! breaks and room moves placed only where the ratio still holds, the health round, and the
//! badges and attendance records of each shift.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::Rng;

use super::plan::{locate, pick, with_acts, Act, Minute, Planner, Secs, Worker};
use super::IncidentKind;
use crate::config::{ReaderPurpose, Role};
use crate::event::{AttendanceAction, EventKind};

impl Planner<'_> {
    /// Shifts: an opener before the room's first child, a closer after its last, the others
    /// early or late; then every shift is stretched, the cheapest first, until each minute
    /// has the staff the room requires.
    pub(super) fn plan_shifts(&mut self) {
        self.enrol_workers();
        if self.n < 4 {
            return;
        }
        for r in 0..self.cfg.rooms.len() {
            self.room_shifts(r);
        }
        self.own_hours();
        for w in &mut self.workers {
            w.loc = locate(&w.acts, self.n);
        }
        for w in self.workers.iter().filter(|w| w.counts) {
            for (t, room) in w.loc.iter().enumerate() {
                if let Some(r) = room {
                    self.cover[*r][t] += 1;
                }
            }
        }
    }

    /// A worker for every staff member whose room is on the roster (but the ones lacking a
    /// required certificate).
    fn enrol_workers(&mut self) {
        let date = self.t0.date();
        for (i, s) in self.cfg.staff.iter().enumerate() {
            let Some(&home) = self.room_ix.get(s.room.as_str()) else {
                continue;
            };
            // Counted by role but not qualified: planned apart (`people`), in no ratio.
            if s.counts_in_ratio() && !super::people::qualified(self.cfg, s, date) {
                continue;
            }
            self.workers.push(Worker {
                cfg: i,
                home,
                counts: s.counts_in_ratio(),
                card: s.card.clone(),
                role: s.role,
                acts: Vec::new(),
                loc: Vec::new(),
            });
        }
    }

    /// The shifts of room `r`'s counted staff.
    fn room_shifts(&mut self, r: usize) {
        let (open, close, latest) = (self.open, self.close, self.n - 2);
        let mut team: Vec<usize> = (0..self.workers.len())
            .filter(|&w| self.workers[w].home == r && self.workers[w].counts)
            .collect();
        team.shuffle(&mut self.rng);
        let first = self.need[r].iter().position(|&q| q > 0);
        let last = self.need[r].iter().rposition(|&q| q > 0);
        let mut shifts: Vec<(Minute, Minute)> = Vec::new();
        for k in 0..team.len() {
            let (a, l) = match (first, last, k) {
                (Some(first), _, 0) => {
                    let a = first.saturating_sub(pick(&mut self.rng, 8, 20));
                    (a, a + 510)
                }
                (_, Some(last), 1) => {
                    let l = last + pick(&mut self.rng, 3, 10);
                    (l.saturating_sub(510), l)
                }
                _ if k % 2 == 0 => {
                    let a = open.saturating_sub(pick(&mut self.rng, 0, 15));
                    (a, a + 510)
                }
                _ => {
                    let a = open + pick(&mut self.rng, 30, 90);
                    (a, a + 510)
                }
            };
            let l = l.min(latest).min(close.max(last.unwrap_or(0) + 10));
            let a = a.min(l.saturating_sub(2));
            shifts.push((a, l.max(a + 2).min(latest)));
        }
        stretch(&self.need[r], &mut shifts, latest);
        for (&w, &(a, l)) in team.iter().zip(&shifts) {
            self.workers[w].acts = vec![(a, Act::CheckIn(r)), (l, Act::CheckOut)];
        }
    }

    /// Staff who count in no ratio keep their own hours.
    fn own_hours(&mut self) {
        let (open, close, latest) = (self.open, self.close, self.n - 2);
        for w in 0..self.workers.len() {
            if self.workers[w].counts {
                continue;
            }
            let a = open.saturating_sub(pick(&mut self.rng, 5, 25));
            let l = close
                .saturating_sub(pick(&mut self.rng, 60, 150))
                .max(a + 60)
                .min(latest);
            let a = a.min(l.saturating_sub(2));
            let home = self.workers[w].home;
            self.workers[w].acts = vec![(a, Act::CheckIn(home)), (l, Act::CheckOut)];
        }
    }

    /// Replaces a worker's actions. With `enforce`, refuses (and changes nothing) when a
    /// room would fall below its required staff in any minute.
    pub(super) fn replace_acts(
        &mut self,
        w: usize,
        acts: Vec<(Minute, Act)>,
        enforce: bool,
    ) -> bool {
        let new = locate(&acts, self.n);
        let worker = &self.workers[w];
        if worker.counts {
            if enforce {
                for (t, (old, now)) in worker.loc.iter().zip(&new).enumerate() {
                    if let (Some(r), true) = (*old, old != now) {
                        if self.cover[r][t] < self.need[r][t] + 1 {
                            return false;
                        }
                    }
                }
            }
            for (t, (old, now)) in worker.loc.iter().zip(&new).enumerate() {
                if old != now {
                    if let Some(r) = *old {
                        self.cover[r][t] -= 1;
                    }
                    if let Some(r) = *now {
                        self.cover[r][t] += 1;
                    }
                }
            }
        }
        let worker = &mut self.workers[w];
        worker.acts = acts;
        worker.loc = new;
        true
    }

    /// The worker is in their home room for every minute of `[a, b]`.
    pub(super) fn at_home(&self, w: usize, a: isize, b: usize) -> bool {
        let worker = &self.workers[w];
        a >= 0 && b < self.n && (a as usize..=b).all(|t| worker.loc[t] == Some(worker.home))
    }

    pub(super) fn lunch_window(&self) -> (Minute, Minute) {
        let lo = (self.open + 180).max(self.at_clock(11, 0));
        let hi = self.close.saturating_sub(180).min(self.at_clock(14, 30));
        (lo, hi)
    }

    /// A lunch break for every counted staff member, where the ratio allows, with a
    /// colleague from a room with slack stepping in when their own room has none.
    pub(super) fn plan_breaks(&mut self) {
        let (lo, hi) = self.lunch_window();
        let mut order: Vec<usize> = (0..self.workers.len())
            .filter(|&w| self.workers[w].counts)
            .collect();
        order.shuffle(&mut self.rng);
        for w in order {
            let len = pick(&mut self.rng, 25, 35);
            if hi < lo + len + 10 {
                return;
            }
            let pref = pick(&mut self.rng, lo, hi - len) as isize;
            let mut starts: Vec<usize> = (lo..=hi - len).step_by(5).collect();
            starts.sort_by_key(|&s| ((s as isize - pref).abs(), s));
            let home = self.workers[w].home;
            'start: for s in starts {
                if !self.at_home(w, s as isize - 3, s + len + 3) {
                    continue;
                }
                let acts = with_acts(
                    &self.workers[w].acts,
                    &[(s, Act::CheckOut), (s + len, Act::CheckIn(home))],
                );
                if self.replace_acts(w, acts.clone(), true) {
                    break;
                }
                let mut relief: Vec<usize> = (0..self.workers.len())
                    .filter(|&x| self.workers[x].counts && self.workers[x].home != home)
                    .collect();
                relief.shuffle(&mut self.rng);
                for x in relief {
                    if !self.at_home(x, s as isize - 4, s + len + 4) {
                        continue;
                    }
                    let before = self.workers[x].acts.clone();
                    let x_home = self.workers[x].home;
                    let x_acts = with_acts(
                        &before,
                        &[(s - 2, Act::Move(home)), (s + len + 2, Act::Move(x_home))],
                    );
                    if !self.replace_acts(x, x_acts, true) {
                        continue;
                    }
                    if self.replace_acts(w, acts.clone(), true) {
                        break 'start;
                    }
                    self.replace_acts(x, before, false);
                }
            }
        }
    }

    /// A room move or two: a caregiver from a room with slack helps out next door.
    pub(super) fn plan_moves(&mut self) {
        let rooms = self.cfg.rooms.len();
        let counted: Vec<usize> = (0..self.workers.len())
            .filter(|&w| self.workers[w].counts)
            .collect();
        if rooms < 2 || counted.is_empty() || self.span() < 360 {
            return;
        }
        let wanted = pick(&mut self.rng, 1, 2);
        let mut done = 0;
        for _ in 0..80 {
            if done == wanted {
                break;
            }
            let Some(&w) = counted.choose(&mut self.rng) else {
                return;
            };
            let home = self.workers[w].home;
            let to = pick(&mut self.rng, 0, rooms - 1);
            if to == home {
                continue;
            }
            let len = pick(&mut self.rng, 20, 45);
            let s = pick(&mut self.rng, self.open + 120, self.close - 180);
            if !self.at_home(w, s as isize - 3, s + len + 3) {
                continue;
            }
            let acts = with_acts(
                &self.workers[w].acts,
                &[(s, Act::Move(to)), (s + len, Act::Move(home))],
            );
            if self.replace_acts(w, acts, true) {
                done += 1;
            }
        }
    }

    /// The health worker's morning round (晨检 follow-up): ten minutes in each other room.
    pub(super) fn plan_health_round(&mut self) {
        let rooms = self.cfg.rooms.len();
        if rooms < 2 || self.span() < 240 {
            return;
        }
        for w in 0..self.workers.len() {
            if self.workers[w].role != Role::Health || self.workers[w].counts {
                continue;
            }
            let home = self.workers[w].home;
            let s0 = self.open + 90 + pick(&mut self.rng, 0, 30);
            let mut acts = Vec::new();
            let mut t = s0;
            for r in (0..rooms).filter(|&r| r != home) {
                acts.push((t, Act::Move(r)));
                t += pick(&mut self.rng, 8, 12);
            }
            acts.push((t, Act::Move(home)));
            if self.at_home(w, s0 as isize - 2, t + 2) {
                let acts = with_acts(&self.workers[w].acts, &acts);
                self.replace_acts(w, acts, true);
            }
        }
    }

    pub(super) fn emit_staff(&mut self) {
        let attendance = self
            .cfg
            .readers
            .iter()
            .find(|r| r.purpose == ReaderPurpose::Attendance)
            .map(|r| r.id.clone());
        let room_reader: HashMap<usize, String> = self
            .cfg
            .readers
            .iter()
            .filter(|r| r.purpose == ReaderPurpose::Room)
            .filter_map(|r| Some((*self.room_ix.get(r.room.as_deref()?)?, r.id.clone())))
            .collect();
        for w in 0..self.workers.len() {
            let worker = &self.workers[w];
            let (home, card, acts) = (worker.home, worker.card.clone(), worker.acts.clone());
            let first_in = acts.first().map(|&(m, _)| m);
            let last_out = acts.last().map(|&(m, _)| m);
            for (m, act) in acts {
                let at = m as Secs * 60 + self.rng.gen_range(5..=55);
                let kind = self.shift_event(w, act, attendance.as_ref(), &room_reader);
                self.push(at, kind);
                if let Some((who, out, back)) = self.step_out {
                    if who == w && m == out {
                        let room = self.cfg.rooms[home].id.clone();
                        self.incidents
                            .push((IncidentKind::CaregiverStepsOut, room, at, None));
                    }
                    if who == w && m == back {
                        if let Some(inc) = self.incidents.last_mut() {
                            inc.3 = Some(at);
                        }
                    }
                }
                if Some(m) == first_in {
                    self.pass_entrance(card.as_deref(), Some(at - 8), None);
                }
                if Some(m) == last_out {
                    let after = at + self.rng.gen_range(20..=60);
                    self.pass_entrance(card.as_deref(), None, Some(after));
                }
            }
        }
    }

    /// What the readers see of one action of worker `w`: a badge where they have a card and
    /// the reader exists, an attendance record otherwise.
    fn shift_event(
        &self,
        w: usize,
        act: Act,
        attendance: Option<&String>,
        room_reader: &HashMap<usize, String>,
    ) -> EventKind {
        let worker = &self.workers[w];
        let (home, card) = (worker.home, worker.card.as_ref());
        let id = self.cfg.staff[worker.cfg].id.clone();
        match (act, card, attendance) {
            (Act::CheckIn(r), Some(card), Some(reader)) if r == home => EventKind::Badge {
                reader: reader.clone(),
                card: card.clone(),
            },
            (Act::CheckOut, Some(card), Some(reader)) => EventKind::Badge {
                reader: reader.clone(),
                card: card.clone(),
            },
            (Act::Move(r), Some(card), _) if room_reader.contains_key(&r) => EventKind::Badge {
                reader: room_reader[&r].clone(),
                card: card.clone(),
            },
            (Act::CheckIn(r), _, _) => EventKind::Attendance {
                person: id.clone(),
                action: AttendanceAction::CheckIn,
                room: (r != home).then(|| self.cfg.rooms[r].id.clone()),
                by: None,
            },
            (Act::CheckOut, _, _) => EventKind::Attendance {
                person: id.clone(),
                action: AttendanceAction::CheckOut,
                room: None,
                by: None,
            },
            (Act::Move(r), _, _) => EventKind::Attendance {
                person: id.clone(),
                action: AttendanceAction::Move,
                room: Some(self.cfg.rooms[r].id.clone()),
                by: None,
            },
        }
    }
}

/// Stretches `shifts`, the cheapest extension first, until each minute has the staff `need`
/// says; a shift present in a minute starts before it and ends after it.
fn stretch(need: &[u32], shifts: &mut [(Minute, Minute)], latest: Minute) {
    for (t, &required) in need.iter().enumerate() {
        let covering =
            |shifts: &[(Minute, Minute)]| shifts.iter().filter(|&&(a, l)| a < t && t < l).count();
        while (covering(shifts) as u32) < required {
            let best = shifts
                .iter()
                .enumerate()
                .filter(|(_, &(a, l))| !(a < t && t < l))
                .filter_map(|(i, &(a, l))| {
                    if a >= t && t >= 1 {
                        Some((a - (t - 1), i, true))
                    } else if l <= t && t < latest {
                        Some((t + 1 - l, i, false))
                    } else {
                        None
                    }
                })
                .min();
            let Some((_, i, earlier)) = best else { break };
            if earlier {
                shifts[i].0 = t - 1;
            } else {
                shifts[i].1 = t + 1;
            }
        }
    }
}
