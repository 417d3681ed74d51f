//! A new configuration while the agent runs (`SIGHUP`, contract section 11): who is where
//! and every open alert carry over; a child or member of staff who left the roster while
//! checked in stays until checked out; an open alert whose subject left resolves, saying
//! why. A room cannot be removed while someone is checked in there: the reload is refused.

use serde::Serialize;

use super::transitions::Details;
use super::{Dt, Engine};
use crate::alert::{AlertState, Transition};
use crate::config::Config;

/// The configuration a reload puts in force and the engine under it.
pub struct Reloaded {
    pub engine: Engine,
    /// The new configuration, plus the people kept until they are checked out.
    pub config: Config,
    /// Alerts resolved because their subject left the configuration, then anything the
    /// new rules change at once (a ratio under a new preset, a capacity).
    pub transitions: Vec<Transition>,
    /// Ids of the people kept although the new roster no longer has them.
    pub kept: Vec<String>,
}

/// `details` of an alert resolved because its subject left the configuration.
#[derive(Serialize)]
struct Removed {
    reason: &'static str,
}

impl Details for Removed {}

const REMOVED: Removed = Removed {
    reason: "removed from the configuration",
};

impl Engine {
    /// This engine's state under `new`. `old` is the configuration in force (the one this
    /// engine was built from). Refused, changing nothing, when a room that would go still
    /// has people checked in; every such room is named.
    pub fn reload(&self, old: &Config, new: &Config) -> Result<Reloaded, String> {
        self.refuse_occupied_rooms_removed(new)?;
        let (config, kept) = self.keep_present_people(old, new);
        let mut engine = Engine::restore(&config, &self.snapshot())?;
        let clock = self.s.clock;
        let mut transitions = Vec::new();
        let still_open: std::collections::HashSet<String> = engine
            .s
            .open_alerts(&engine.m)
            .into_iter()
            .map(|(a, ..)| a.id)
            .collect();
        let at = clock.unwrap_or_default();
        for (a, ty, subject) in self.s.open_alerts(&self.m) {
            if !still_open.contains(&a.id) {
                let t = self.transition(ty, &subject, &a.id, AlertState::Resolved, at, &REMOVED);
                transitions.push(t);
            }
        }
        if let Some(now) = clock {
            engine.certificates_reconciled(now, &mut transitions);
            engine.evaluate_all_rooms(now, &mut transitions);
        }
        Ok(Reloaded {
            engine,
            config,
            transitions,
            kept,
        })
    }

    fn evaluate_all_rooms(&mut self, now: Dt, out: &mut Vec<Transition>) {
        for r in 0..self.m.rooms.len() {
            self.evaluate_room(r, now, out);
        }
    }

    fn refuse_occupied_rooms_removed(&self, new: &Config) -> Result<(), String> {
        let mut problems = Vec::new();
        for (r, room) in self.m.rooms.iter().enumerate() {
            if new.rooms.iter().any(|x| x.id == room.id) {
                continue;
            }
            let children = self.s.child_room.iter().filter(|x| **x == Some(r)).count();
            let staff = self.s.staff_room.iter().filter(|x| **x == Some(r)).count();
            if children + staff > 0 {
                problems.push(format!(
                    "room `{}` is removed but {children} children and {staff} staff are \
                     checked in there; check them out or move them first",
                    room.id
                ));
            }
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(problems.join("; ")),
        }
    }

    /// `new`, plus every child and member of staff checked in now whom it no longer has
    /// (with the guardians those children name), so that they are still counted and
    /// still checked at the end of the day.
    fn keep_present_people(&self, old: &Config, new: &Config) -> (Config, Vec<String>) {
        let mut cfg = new.clone();
        let mut kept = Vec::new();
        let room_of = |r: usize| self.m.rooms[r].id.clone();
        for (c, room) in self.m.children.iter().zip(&self.s.child_room) {
            let (Some(room), false) = (room, new.children.iter().any(|x| x.id == c.id)) else {
                continue;
            };
            let Some(mut child) = old.children.iter().find(|x| x.id == c.id).cloned() else {
                continue;
            };
            if !cfg.rooms.iter().any(|x| x.id == child.room) {
                child.room = room_of(*room);
            }
            for g in &child.guardians {
                let missing = !cfg.guardians.iter().any(|x| &x.id == g);
                if let (true, Some(guardian)) = (missing, old.guardians.iter().find(|x| &x.id == g))
                {
                    cfg.guardians.push(guardian.clone());
                }
            }
            kept.push(child.id.clone());
            cfg.children.push(child);
        }
        for (s, room) in self.m.staff.iter().zip(&self.s.staff_room) {
            let (Some(room), false) = (room, new.staff.iter().any(|x| x.id == s.id)) else {
                continue;
            };
            let Some(mut staff) = old.staff.iter().find(|x| x.id == s.id).cloned() else {
                continue;
            };
            if !cfg.rooms.iter().any(|x| x.id == staff.room) {
                staff.room = room_of(*room);
            }
            kept.push(staff.id.clone());
            cfg.staff.push(staff);
        }
        (cfg, kept)
    }
}
