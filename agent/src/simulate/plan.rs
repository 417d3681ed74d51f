//! The planner's state: the day on a grid of minutes, who is where, and what has been
//! written down so far. Each part of the plan adds its own `impl Planner` in its file.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::IncidentKind;
use crate::config::{Config, Dur, Role};
use crate::event::EventKind;
use crate::presets::{completed_months, Preset};

/// Minutes since the start of the simulated day.
pub(super) type Minute = usize;
/// Seconds since the start of the simulated day.
pub(super) type Secs = i64;

/// Where a staff member goes, at the minute of the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Act {
    CheckIn(usize),
    CheckOut,
    Move(usize),
}

pub(super) struct Kid {
    pub(super) cfg: usize,
    pub(super) room: usize,
    pub(super) band: usize,
}

pub(super) struct Family {
    pub(super) kids: Vec<usize>,
    /// Guardians of every child in the family.
    pub(super) common: Vec<String>,
    pub(super) present: bool,
    pub(super) arrive: Minute,
    pub(super) depart: Minute,
    pub(super) dropper: String,
    pub(super) picker: String,
    /// The picker is not the children's guardian (the planted incident).
    pub(super) stranger: bool,
}

pub(super) struct Worker {
    pub(super) cfg: usize,
    pub(super) home: usize,
    pub(super) counts: bool,
    pub(super) card: Option<String>,
    pub(super) role: Role,
    /// Sorted by minute, at most one per minute.
    pub(super) acts: Vec<(Minute, Act)>,
    /// Where the worker is for the whole of each minute (`None` in the minute of an action).
    pub(super) loc: Vec<Option<usize>>,
}

/// How a door is released for a visit.
pub(super) enum Grant {
    Badge { reader: String, card: String },
    Button,
    Forced,
}

pub(super) struct Planner<'a> {
    pub(super) cfg: &'a Config,
    pub(super) rng: ChaCha8Rng,
    pub(super) tz: Tz,
    pub(super) preset: Preset,
    /// Local midnight starting the day (minute 0).
    pub(super) t0: NaiveDateTime,
    /// Minutes in the day.
    pub(super) n: usize,
    pub(super) open: Minute,
    pub(super) close: Minute,
    pub(super) room_ix: HashMap<&'a str, usize>,
    pub(super) kids: Vec<Kid>,
    pub(super) families: Vec<Family>,
    pub(super) workers: Vec<Worker>,
    /// Required staff per room per minute.
    pub(super) need: Vec<Vec<u32>>,
    /// Counted staff per room per minute.
    pub(super) cover: Vec<Vec<u32>>,
    /// Booked door visits per door, in seconds (margins included).
    pub(super) door_busy: Vec<Vec<(Secs, Secs)>>,
    /// The caregiver who steps out: worker, minute out, minute back.
    pub(super) step_out: Option<(usize, Minute, Minute)>,
    pub(super) events: Vec<(Secs, u64, EventKind)>,
    pub(super) incidents: Vec<(IncidentKind, String, Secs, Option<Secs>)>,
}

pub(super) fn minute_of_day(t: NaiveTime) -> u32 {
    t.hour() * 60 + t.minute()
}

pub(super) fn secs(d: Dur) -> i64 {
    i64::try_from(d.0.as_secs()).unwrap_or(i64::MAX / 4)
}

/// Whole minutes needed to cover `d`, capped at a day.
pub(super) fn minutes_ceil(d: Dur) -> usize {
    let s = d.0.as_secs().min(24 * 3600);
    s.div_ceil(60) as usize
}

/// A value between `lo` and `hi` (inclusive), more likely in the middle.
pub(super) fn triangular(rng: &mut ChaCha8Rng, lo: usize, hi: usize) -> usize {
    if hi <= lo {
        return lo;
    }
    // Sampled as u64, never usize: the same seed gives the same day on 32- and 64-bit
    // boards (rand's usize sampling depends on the pointer width).
    let w = (hi - lo) as u64;
    lo + ((rng.gen_range(0..=w) + rng.gen_range(0..=w)) / 2) as usize
}

pub(super) fn pick(rng: &mut ChaCha8Rng, lo: usize, hi: usize) -> usize {
    if hi <= lo {
        lo
    } else {
        lo + rng.gen_range(0..=(hi - lo) as u64) as usize
    }
}

/// Where a worker is in each minute, given their actions.
pub(super) fn locate(acts: &[(Minute, Act)], n: usize) -> Vec<Option<usize>> {
    let mut loc = vec![None; n];
    let mut here = None;
    let mut next = acts.iter().peekable();
    for (t, slot) in loc.iter_mut().enumerate() {
        let mut acted = false;
        while let Some(&&(m, act)) = next.peek() {
            if m != t {
                break;
            }
            here = match act {
                Act::CheckIn(r) | Act::Move(r) => Some(r),
                Act::CheckOut => None,
            };
            acted = true;
            next.next();
        }
        *slot = if acted { None } else { here };
    }
    loc
}

pub(super) fn with_acts(acts: &[(Minute, Act)], more: &[(Minute, Act)]) -> Vec<(Minute, Act)> {
    let mut v: Vec<_> = acts.iter().chain(more).copied().collect();
    v.sort_by_key(|&(m, _)| m);
    v
}

impl<'a> Planner<'a> {
    pub(super) fn new(cfg: &'a Config, seed: u64, date: NaiveDate) -> Planner<'a> {
        let open_md = minute_of_day(cfg.facility.open.0);
        let close_md = minute_of_day(cfg.facility.close.0).max(open_md);
        let t0 = NaiveDateTime::new(date, NaiveTime::MIN);
        let (open, close) = (open_md as usize, close_md as usize);
        let n = 24 * 60;
        let room_ix: HashMap<&str, usize> = cfg
            .rooms
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let preset = cfg.facility.ratio_preset;
        let kids = cfg
            .children
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let room = *room_ix.get(c.room.as_str())?;
                let months = completed_months(c.birth_date, date);
                Some(Kid {
                    cfg: i,
                    room,
                    band: preset.band_of(months),
                })
            })
            .collect();
        let rooms = cfg.rooms.len();
        Planner {
            cfg,
            rng: ChaCha8Rng::seed_from_u64(seed),
            tz: cfg.facility.timezone,
            preset,
            t0,
            n,
            open,
            close,
            room_ix,
            kids,
            families: Vec::new(),
            workers: Vec::new(),
            need: vec![vec![0; n]; rooms],
            cover: vec![vec![0; n]; rooms],
            door_busy: vec![Vec::new(); cfg.doors.len()],
            step_out: None,
            events: Vec::new(),
            incidents: Vec::new(),
        }
    }

    /// The minute of local time `hh:mm`, clamped to the day.
    pub(super) fn at_clock(&self, hh: u32, mm: u32) -> Minute {
        ((hh * 60 + mm) as usize).min(self.n - 1)
    }

    pub(super) fn span(&self) -> usize {
        self.close - self.open
    }
}
