//! Emission: door visits booked so that they never overlap, events written down with their
//! second of the day, and the finished day in time order with local offsets.

use chrono::{DateTime, Duration, FixedOffset, LocalResult, TimeZone};
use rand::Rng;

use super::plan::{secs, Grant, Planner, Secs};
use super::{Incident, SimulatedDay};
use crate::config::ReaderPurpose;
use crate::event::{DoorState, Event, EventKind};

impl Planner<'_> {
    pub(super) fn push(&mut self, at: Secs, kind: EventKind) {
        let seq = self.events.len() as u64;
        self.events.push((at, seq, kind));
    }

    pub(super) fn door_margin(&self) -> Secs {
        secs(self.cfg.rules.door_grant_window) + 2
    }

    /// The door families and staff use: `entrance`, else one with an access reader, else
    /// the first.
    pub(super) fn entrance(&self) -> Option<usize> {
        let doors = &self.cfg.doors;
        doors
            .iter()
            .position(|d| d.id == "entrance")
            .or_else(|| {
                doors
                    .iter()
                    .position(|d| self.access_reader(&d.id).is_some())
            })
            .or(if doors.is_empty() { None } else { Some(0) })
    }

    pub(super) fn access_reader(&self, door: &str) -> Option<String> {
        self.cfg
            .readers
            .iter()
            .find(|r| r.purpose == ReaderPurpose::Access && r.door.as_deref() == Some(door))
            .map(|r| r.id.clone())
    }

    pub(super) fn grant_for(&self, door: usize, card: Option<&str>) -> Grant {
        match (self.access_reader(&self.cfg.doors[door].id), card) {
            (Some(reader), Some(card)) => Grant::Badge {
                reader,
                card: card.to_string(),
            },
            _ => Grant::Button,
        }
    }

    /// Finds a start for a door visit of `len` seconds near `want`, clear of every other
    /// visit by the margin, searching backward (ending by `want + len`) or forward.
    pub(super) fn book_door(
        &mut self,
        d: usize,
        want: Secs,
        len: Secs,
        backward: bool,
    ) -> Option<Secs> {
        let m = self.door_margin();
        let (lo, hi) = (m, self.n as Secs * 60 - len - m - 1);
        let mut s = want;
        for _ in 0..1000 {
            if s < lo || s > hi || (want - s).abs() > 20 * 60 {
                return None;
            }
            let (a, b) = (s - m, s + len + m);
            match self.door_busy[d].iter().find(|&&(x, y)| x < b && a < y) {
                None => {
                    self.door_busy[d].push((a, b));
                    return Some(s);
                }
                Some(&(x, y)) => s = if backward { x - len - m - 1 } else { y + m + 1 },
            }
        }
        None
    }

    /// Writes one door visit: the grant, the door opening, the door closing after `hold`.
    pub(super) fn door_visit(
        &mut self,
        d: usize,
        s: Secs,
        grant: Grant,
        hold: Secs,
    ) -> (Secs, Secs) {
        let door = self.cfg.doors[d].id.clone();
        let lag = match grant {
            Grant::Forced => 0,
            _ => secs(self.cfg.rules.door_grant_window).min(2),
        };
        match grant {
            Grant::Badge { reader, card } => self.push(s, EventKind::Badge { reader, card }),
            Grant::Button => self.push(s, EventKind::ExitButton { door: door.clone() }),
            Grant::Forced => {}
        }
        let (open, closed) = (s + lag, s + lag + hold);
        self.push(
            open,
            EventKind::Door {
                door: door.clone(),
                state: DoorState::Open,
            },
        );
        self.push(
            closed,
            EventKind::Door {
                door,
                state: DoorState::Closed,
            },
        );
        (open, closed)
    }

    /// How long a door stays open for an ordinary visit: a few seconds, well short of
    /// `door_held_open`.
    pub(super) fn short_hold(&mut self) -> Secs {
        let held = secs(self.cfg.rules.door_held_open);
        (self.rng.gen_range(3..=8) as Secs).min(held - 1).max(0)
    }

    /// An ordinary visit through the entrance: inward, finished before `by`; or outward,
    /// starting after `after`.
    pub(super) fn pass_entrance(
        &mut self,
        card: Option<&str>,
        by: Option<Secs>,
        after: Option<Secs>,
    ) {
        let Some(d) = self.entrance() else { return };
        let hold = self.short_hold();
        let lag = secs(self.cfg.rules.door_grant_window).min(2);
        let len = lag + hold;
        let (slot, grant) = match (by, after) {
            (Some(by), _) => (
                self.book_door(d, by - len, len, true),
                self.grant_for(d, card),
            ),
            (None, Some(after)) => (self.book_door(d, after, len, false), Grant::Button),
            (None, None) => return,
        };
        if let Some(s) = slot {
            self.door_visit(d, s, grant, hold);
        }
    }

    pub(super) fn local(&self, at: Secs) -> DateTime<FixedOffset> {
        let naive = self.t0 + Duration::seconds(at);
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.fixed_offset(),
            // In a daylight-saving gap: the same wall time an hour on.
            LocalResult::None => self
                .tz
                .from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
                .unwrap_or_else(|| self.tz.from_utc_datetime(&naive))
                .fixed_offset(),
        }
    }

    pub(super) fn finish(mut self) -> SimulatedDay {
        self.events.sort_by_key(|&(at, seq, _)| (at, seq));
        let mut events: Vec<Event> = std::mem::take(&mut self.events)
            .into_iter()
            .map(|(at, _, kind)| Event::at(self.local(at), kind))
            .collect();
        // Local wall time is not always in instant order (daylight saving); the log is.
        events.sort_by_key(|e| e.utc());
        let mut incidents: Vec<Incident> = self
            .incidents
            .iter()
            .map(|(kind, subject, at, until)| Incident {
                kind: *kind,
                subject: subject.clone(),
                at: self.local(*at),
                until: until.map(|u| self.local(u)),
            })
            .collect();
        incidents.sort_by_key(|i| i.at);
        SimulatedDay { events, incidents }
    }
}
