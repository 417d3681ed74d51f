//! The simulated nursery day: one seeded, planned day at a nursery, as an event log.
//!
//! The generator does not scatter random events; it plans a day the way a nursery director
//! would, then writes down what the door controller, the card readers, the attendance
//! terminal and the room sensors would report:
//!
//! 1. **Families.** Children who share a guardian come and go together. Each family arrives
//!    between `open` and `open + 90m` and is picked up between `close - 90m` and
//!    `close - 10m` by one of the children's guardians; now and then a family stays home.
//!    Ages are taken on the simulated date, and a room admits only as many children as its
//!    counted staff can cover under the ratio preset and as its capacity allows.
//! 2. **Staff.** Each room's counted staff get shifts — an opener who arrives before the
//!    room's first child, a closer who leaves after its last — stretched minute by minute
//!    until the room's required staff (⌈Σ n_b / r_b⌉, [`Preset::required_staff`]) is always
//!    met. Lunch breaks and room moves are placed only where a minute-by-minute occupancy
//!    check shows the ratio still holds; a break in a room without slack waits for a
//!    colleague to step in from a room with slack. The health worker makes a round of
//!    the rooms. Staff who count in no ratio keep their own hours.
//! 3. **Incidents**, each once, at seed-varied times, and only when the roster has what
//!    they need ([`IncidentKind`]): a caregiver who steps out of a room that has no slack
//!    for longer than `ratio_grace`; a door held open beyond `door_held_open`; a child
//!    picked up by an adult who is not their guardian; an afternoon room hotter than
//!    `temperature.max_c` for longer than `sustain`; a sensor silent for longer than
//!    `sensor_stale_after`; an unknown card; a door forced open.
//! 4. **Events.** Arrivals come through the entrance — a card at the access reader (or the
//!    release button pressed from inside for an adult without a card), the door opening and
//!    closing a few seconds later — then the attendance record; departures press the exit
//!    button before the door opens. Staff badge the attendance reader, and a room reader
//!    when they move into its room. Door visits are booked so that they never overlap.
//!    Every sensor reports once a minute from the start of the day to its end.
//!
//! Presence is planned on a grid of minutes, conservatively: a child counts in the whole
//! minute of their arrival and of their departure, a staff member in neither the minute
//! they arrive, leave or move, nor in any minute of a break. So whatever second an event
//! falls on, the rules never see a shortfall the plan did not intend.
//!
//! The day runs from midnight to midnight of the simulated date: people come and go between
//! `open` and `close`, but the sensors report all day and night, so a daemon fed one day
//! after another sees no silent sensors overnight. `[simulation] start` is for the daemon
//! (where to begin feeding); the generated day is always whole. (On a day when the clocks
//! change, the repeated or skipped local hour is not modelled.)

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike,
};
use chrono_tz::Tz;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::alert::AlertType;
use crate::config::{Config, Dur, ReaderPurpose, Role};
use crate::event::{AttendanceAction, DoorState, Event, EventKind};
use crate::presets::{completed_months, Preset};

/// Generates one simulated day for the roster in `cfg`, in time order.
///
/// The same `cfg`, `seed` and `date` always give the same day.
pub fn simulate_day(cfg: &Config, seed: u64, date: NaiveDate) -> Vec<Event> {
    plan_day(cfg, seed, date).events
}

/// A simulated day: its events and the incidents planted in it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedDay {
    /// In time order; every `ts` carries the facility's local offset.
    pub events: Vec<Event>,
    pub incidents: Vec<Incident>,
}

/// One incident planted in the day, and the alert it should cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub kind: IncidentKind,
    /// The room, door, reader, sensor or child the alert names.
    pub subject: String,
    /// When the incident starts (its alert follows after the rule's grace, if any).
    pub at: DateTime<FixedOffset>,
    /// When it ends; `None` for a one-off.
    pub until: Option<DateTime<FixedOffset>>,
}

/// The incidents of the day. Each needs something of the roster; without it, it is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentKind {
    /// A caregiver leaves a room that has no slack for longer than `ratio_grace`, then
    /// returns. Needs a room requiring at least two counted staff for a while.
    CaregiverStepsOut,
    /// A door stays open beyond `door_held_open`. Needs a door.
    DoorHeldOpen,
    /// A child is checked out by an adult who is not among their guardians. Needs a
    /// present child and a roster guardian of another family.
    PickupByNonGuardian,
    /// A room's sensor reads above `temperature.max_c` for longer than `sustain` in the
    /// afternoon, then the room cools. Needs a sensor.
    HotRoom,
    /// A sensor sends nothing for longer than `sensor_stale_after`, then resumes. Needs a
    /// sensor.
    SensorSilent,
    /// A card on no roster is shown to a reader. Needs a reader.
    UnknownCard,
    /// A door opens with no badge or button before it. Needs a door.
    DoorForced,
}

impl IncidentKind {
    /// The alert the rules raise for this incident.
    pub fn alert_type(self) -> AlertType {
        match self {
            IncidentKind::CaregiverStepsOut => AlertType::RatioBreach,
            IncidentKind::DoorHeldOpen => AlertType::DoorHeldOpen,
            IncidentKind::PickupByNonGuardian => AlertType::UnauthorizedPickup,
            IncidentKind::HotRoom => AlertType::TemperatureHigh,
            IncidentKind::SensorSilent => AlertType::SensorStale,
            IncidentKind::UnknownCard => AlertType::BadgeDenied,
            IncidentKind::DoorForced => AlertType::DoorForced,
        }
    }
}

/// Plans one day for the roster in `cfg` (see the module documentation).
pub fn plan_day(cfg: &Config, seed: u64, date: NaiveDate) -> SimulatedDay {
    let mut p = Planner::new(cfg, seed, date);
    p.plan_families();
    p.plan_shifts();
    p.plan_breaks();
    p.plan_moves();
    p.plan_health_round();
    p.plan_step_out();
    p.emit_door_incidents();
    p.emit_staff();
    p.emit_families();
    p.emit_unknown_card();
    p.emit_readings();
    p.finish()
}

// ---- the plan ------------------------------------------------------------------------

/// Minutes since the start of the simulated day.
type Minute = usize;
/// Seconds since the start of the simulated day.
type Secs = i64;

/// Where a staff member goes, at the minute of the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    CheckIn(usize),
    CheckOut,
    Move(usize),
}

struct Kid {
    cfg: usize,
    room: usize,
    band: usize,
}

struct Family {
    kids: Vec<usize>,
    /// Guardians of every child in the family.
    common: Vec<String>,
    present: bool,
    arrive: Minute,
    depart: Minute,
    dropper: String,
    picker: String,
    /// The picker is not the children's guardian (the planted incident).
    stranger: bool,
}

struct Worker {
    cfg: usize,
    home: usize,
    counts: bool,
    card: Option<String>,
    role: Role,
    /// Sorted by minute, at most one per minute.
    acts: Vec<(Minute, Act)>,
    /// Where the worker is for the whole of each minute (`None` in the minute of an action).
    loc: Vec<Option<usize>>,
}

/// How a door is released for a visit.
enum Grant {
    Badge { reader: String, card: String },
    Button,
    Forced,
}

struct Planner<'a> {
    cfg: &'a Config,
    rng: ChaCha8Rng,
    tz: Tz,
    preset: Preset,
    /// Local midnight starting the day (minute 0).
    t0: NaiveDateTime,
    /// Minutes in the day.
    n: usize,
    open: Minute,
    close: Minute,
    room_ix: HashMap<&'a str, usize>,
    kids: Vec<Kid>,
    families: Vec<Family>,
    workers: Vec<Worker>,
    /// Required staff per room per minute.
    need: Vec<Vec<u32>>,
    /// Counted staff per room per minute.
    cover: Vec<Vec<u32>>,
    /// Booked door visits per door, in seconds (margins included).
    door_busy: Vec<Vec<(Secs, Secs)>>,
    /// The caregiver who steps out: worker, minute out, minute back.
    step_out: Option<(usize, Minute, Minute)>,
    events: Vec<(Secs, u64, EventKind)>,
    incidents: Vec<(IncidentKind, String, Secs, Option<Secs>)>,
}

fn minute_of_day(t: NaiveTime) -> u32 {
    t.hour() * 60 + t.minute()
}

fn secs(d: Dur) -> i64 {
    i64::try_from(d.0.as_secs()).unwrap_or(i64::MAX / 4)
}

/// Whole minutes needed to cover `d`, capped at a day.
fn minutes_ceil(d: Dur) -> usize {
    let s = d.0.as_secs().min(24 * 3600);
    s.div_ceil(60) as usize
}

/// A value between `lo` and `hi` (inclusive), more likely in the middle.
fn triangular(rng: &mut ChaCha8Rng, lo: usize, hi: usize) -> usize {
    if hi <= lo {
        return lo;
    }
    // Sampled as u64, never usize: the same seed gives the same day on 32- and 64-bit
    // boards (rand's usize sampling depends on the pointer width).
    let w = (hi - lo) as u64;
    lo + ((rng.gen_range(0..=w) + rng.gen_range(0..=w)) / 2) as usize
}

fn pick(rng: &mut ChaCha8Rng, lo: usize, hi: usize) -> usize {
    if hi <= lo {
        lo
    } else {
        lo + rng.gen_range(0..=(hi - lo) as u64) as usize
    }
}

/// Where a worker is in each minute, given their actions.
fn locate(acts: &[(Minute, Act)], n: usize) -> Vec<Option<usize>> {
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

fn with_acts(acts: &[(Minute, Act)], more: &[(Minute, Act)]) -> Vec<(Minute, Act)> {
    let mut v: Vec<_> = acts.iter().chain(more).copied().collect();
    v.sort_by_key(|&(m, _)| m);
    v
}

impl<'a> Planner<'a> {
    fn new(cfg: &'a Config, seed: u64, date: NaiveDate) -> Planner<'a> {
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
    fn at_clock(&self, hh: u32, mm: u32) -> Minute {
        ((hh * 60 + mm) as usize).min(self.n - 1)
    }

    fn span(&self) -> usize {
        self.close - self.open
    }

    // ---- families ---------------------------------------------------------------------

    fn plan_families(&mut self) {
        self.group_families();
        let span = self.span();
        if span < 60 {
            // Too short a day for anyone to come and go.
            return;
        }
        let arrive_lo = self.open.max(15);
        let arrive_hi = arrive_lo + 90.min(span / 4);
        let depart_hi = self.close - 10;
        let depart_lo = depart_hi - 80.min(span / 4);
        for f in &mut self.families {
            f.present = !f.common.is_empty() && !self.rng.gen_bool(0.04);
            f.arrive = triangular(&mut self.rng, arrive_lo, arrive_hi);
            f.depart = triangular(&mut self.rng, depart_lo, depart_hi);
            if let (Some(d), Some(p)) = (
                f.common.choose(&mut self.rng),
                f.common.choose(&mut self.rng),
            ) {
                f.dropper = d.clone();
                f.picker = p.clone();
            }
        }
        self.admit();
        self.plan_stranger_pickup();
        self.compute_need();
    }

    /// Children who share a guardian form one family, provided some guardian is common to
    /// all of them; otherwise each child comes on their own.
    fn group_families(&mut self) {
        let children = &self.cfg.children;
        let mut parent: Vec<usize> = (0..self.kids.len()).collect();
        fn root(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let mut first_with: HashMap<&str, usize> = HashMap::new();
        for (k, kid) in self.kids.iter().enumerate() {
            for g in &children[kid.cfg].guardians {
                match first_with.get(g.as_str()) {
                    Some(&o) => {
                        let (a, b) = (root(&mut parent, k), root(&mut parent, o));
                        parent[a.max(b)] = a.min(b);
                    }
                    None => {
                        first_with.insert(g, k);
                    }
                }
            }
        }
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for k in 0..self.kids.len() {
            groups.entry(root(&mut parent, k)).or_default().push(k);
        }
        let guardians_of = |k: usize| &children[self.kids[k].cfg].guardians;
        let mut families = Vec::new();
        for kids in groups.into_values() {
            let common: Vec<String> = guardians_of(kids[0])
                .iter()
                .filter(|g| kids.iter().all(|&k| guardians_of(k).contains(g)))
                .cloned()
                .collect();
            let split = if common.is_empty() {
                kids.iter()
                    .map(|&k| (vec![k], guardians_of(k).clone()))
                    .collect()
            } else {
                vec![(kids, common)]
            };
            for (kids, common) in split {
                families.push(Family {
                    kids,
                    common,
                    present: false,
                    arrive: 0,
                    depart: 0,
                    dropper: String::new(),
                    picker: String::new(),
                    stranger: false,
                });
            }
        }
        self.families = families;
    }

    /// A room takes only the children its counted staff can cover and its capacity holds.
    fn admit(&mut self) {
        let rooms = self.cfg.rooms.len();
        let bands = self.preset.bands();
        let mut staff = vec![0u32; rooms];
        for s in &self.cfg.staff {
            if let Some(&r) = self.room_ix.get(s.room.as_str()) {
                if s.counts_in_ratio() {
                    staff[r] += 1;
                }
            }
        }
        let mut order: Vec<(usize, usize)> = self
            .families
            .iter()
            .enumerate()
            .filter(|(_, f)| f.present)
            .flat_map(|(i, f)| f.kids.iter().map(move |&k| (i, k)))
            .collect();
        order.shuffle(&mut self.rng);
        let mut counts = vec![vec![0u32; bands.len()]; rooms];
        let mut refused = HashSet::new();
        for (_, k) in order {
            let kid = &self.kids[k];
            let r = kid.room;
            counts[r][kid.band] += 1;
            let n: u32 = counts[r].iter().sum();
            // The smallest group size any subset of these children could have.
            let limit = self.cfg.rooms[r].capacity.unwrap_or_else(|| {
                bands
                    .iter()
                    .zip(&counts[r])
                    .filter(|(_, &c)| c > 0)
                    .filter_map(|(b, _)| b.group_size)
                    .min()
                    .unwrap_or(u32::MAX)
            });
            if self.preset.required_staff(&counts[r]) > staff[r] || n > limit {
                counts[r][kid.band] -= 1;
                refused.insert(k);
            }
        }
        for f in &mut self.families {
            f.kids.retain(|k| !refused.contains(k));
            if f.kids.is_empty() {
                f.present = false;
            }
        }
    }

    /// Incident: one family is picked up by a roster guardian who is not theirs.
    fn plan_stranger_pickup(&mut self) {
        let present: Vec<usize> = (0..self.families.len())
            .filter(|&i| self.families[i].present)
            .collect();
        let single: Vec<usize> = present
            .iter()
            .copied()
            .filter(|&i| self.families[i].kids.len() == 1)
            .collect();
        let pool = if single.is_empty() { &present } else { &single };
        let Some(&f) = pool.choose(&mut self.rng) else {
            return;
        };
        let theirs: HashSet<&str> = self.families[f]
            .kids
            .iter()
            .flat_map(|&k| self.cfg.children[self.kids[k].cfg].guardians.iter())
            .map(String::as_str)
            .collect();
        let mut others: Vec<&str> = self
            .cfg
            .guardians
            .iter()
            .filter(|g| !theirs.contains(g.id.as_str()))
            .filter(|g| g.card.is_some())
            .map(|g| g.id.as_str())
            .collect();
        if others.is_empty() {
            others = self
                .cfg
                .guardians
                .iter()
                .filter(|g| !theirs.contains(g.id.as_str()))
                .map(|g| g.id.as_str())
                .collect();
        }
        let Some(&by) = others.choose(&mut self.rng) else {
            return;
        };
        let fam = &mut self.families[f];
        fam.picker = by.to_string();
        fam.stranger = true;
    }

    fn compute_need(&mut self) {
        let rooms = self.cfg.rooms.len();
        let bands = self.preset.bands().len();
        let mut counts = vec![vec![vec![0u32; bands]; self.n]; rooms];
        for f in self.families.iter().filter(|f| f.present) {
            for &k in &f.kids {
                let kid = &self.kids[k];
                for c in &mut counts[kid.room][f.arrive..=f.depart] {
                    c[kid.band] += 1;
                }
            }
        }
        for (r, per_minute) in counts.iter().enumerate() {
            for (t, c) in per_minute.iter().enumerate() {
                self.need[r][t] = self.preset.required_staff(c);
            }
        }
    }

    // ---- staff ------------------------------------------------------------------------

    /// Shifts: an opener before the room's first child, a closer after its last, the others
    /// early or late; then every shift is stretched, the cheapest first, until each minute
    /// has the staff the room requires.
    fn plan_shifts(&mut self) {
        let n = self.n;
        for (i, s) in self.cfg.staff.iter().enumerate() {
            let Some(&home) = self.room_ix.get(s.room.as_str()) else {
                continue;
            };
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
        if n < 4 {
            return;
        }
        let (open, close) = (self.open, self.close);
        let latest = n - 2;
        for r in 0..self.cfg.rooms.len() {
            let mut team: Vec<usize> = (0..self.workers.len())
                .filter(|&w| self.workers[w].home == r && self.workers[w].counts)
                .collect();
            team.shuffle(&mut self.rng);
            let need = &self.need[r];
            let first = need.iter().position(|&q| q > 0);
            let last = need.iter().rposition(|&q| q > 0);
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
            // Stretch shifts until every minute is covered.
            for (t, &required) in need.iter().enumerate() {
                let covering = |shifts: &[(Minute, Minute)]| {
                    shifts.iter().filter(|&&(a, l)| a < t && t < l).count()
                };
                while (covering(&shifts) as u32) < required {
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
            for (&w, &(a, l)) in team.iter().zip(&shifts) {
                self.workers[w].acts = vec![(a, Act::CheckIn(r)), (l, Act::CheckOut)];
            }
        }
        // Staff who count in no ratio keep their own hours.
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
        for w in &mut self.workers {
            w.loc = locate(&w.acts, n);
        }
        for w in &self.workers {
            if w.counts {
                for (t, room) in w.loc.iter().enumerate() {
                    if let Some(r) = room {
                        self.cover[*r][t] += 1;
                    }
                }
            }
        }
    }

    /// Replaces a worker's actions. With `enforce`, refuses (and changes nothing) when a
    /// room would fall below its required staff in any minute.
    fn replace_acts(&mut self, w: usize, acts: Vec<(Minute, Act)>, enforce: bool) -> bool {
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
    fn at_home(&self, w: usize, a: isize, b: usize) -> bool {
        let worker = &self.workers[w];
        a >= 0 && b < self.n && (a as usize..=b).all(|t| worker.loc[t] == Some(worker.home))
    }

    fn lunch_window(&self) -> (Minute, Minute) {
        let lo = (self.open + 180).max(self.at_clock(11, 0));
        let hi = self.close.saturating_sub(180).min(self.at_clock(14, 30));
        (lo, hi)
    }

    /// A lunch break for every counted staff member, where the ratio allows, with a
    /// colleague from a room with slack stepping in when their own room has none.
    fn plan_breaks(&mut self) {
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
    fn plan_moves(&mut self) {
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
    fn plan_health_round(&mut self) {
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

    /// Incident: a caregiver steps out of a room with no slack for longer than the grace.
    fn plan_step_out(&mut self) {
        let rooms = self.cfg.rooms.len();
        let d = minutes_ceil(self.cfg.rules.ratio_grace) + 2 + pick(&mut self.rng, 0, 2);
        let (lo, hi) = (self.open + 90, self.close.saturating_sub(120 + d));
        if hi <= lo {
            return;
        }
        let mut candidates: Vec<(usize, Minute)> = (0..self.workers.len())
            .filter(|&w| self.workers[w].counts)
            .flat_map(|w| (lo..=hi).map(move |s| (w, s)))
            .collect();
        candidates.shuffle(&mut self.rng);
        for (w, s) in candidates {
            if !self.at_home(w, s as isize - 3, s + d + 3) {
                continue;
            }
            let r = self.workers[w].home;
            let c = self.cover[r][s - 2];
            let tight = c >= 2
                && (s - 2..=s + d + 2).all(|t| self.cover[r][t] == c && self.need[r][t] == c);
            if !tight {
                continue;
            }
            let acts = if rooms >= 2 {
                let others: Vec<usize> = (0..rooms).filter(|&x| x != r).collect();
                let to = others.choose(&mut self.rng).copied().unwrap_or(r);
                [(s, Act::Move(to)), (s + d, Act::Move(r))]
            } else {
                [(s, Act::CheckOut), (s + d, Act::CheckIn(r))]
            };
            let acts = with_acts(&self.workers[w].acts, &acts);
            self.replace_acts(w, acts, false);
            self.step_out = Some((w, s, s + d));
            return;
        }
    }

    // ---- events -----------------------------------------------------------------------

    fn push(&mut self, at: Secs, kind: EventKind) {
        let seq = self.events.len() as u64;
        self.events.push((at, seq, kind));
    }

    fn door_margin(&self) -> Secs {
        secs(self.cfg.rules.door_grant_window) + 2
    }

    /// The door families and staff use: `entrance`, else one with an access reader, else
    /// the first.
    fn entrance(&self) -> Option<usize> {
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

    fn access_reader(&self, door: &str) -> Option<String> {
        self.cfg
            .readers
            .iter()
            .find(|r| r.purpose == ReaderPurpose::Access && r.door.as_deref() == Some(door))
            .map(|r| r.id.clone())
    }

    fn grant_for(&self, door: usize, card: Option<&str>) -> Grant {
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
    fn book_door(&mut self, d: usize, want: Secs, len: Secs, backward: bool) -> Option<Secs> {
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
    fn door_visit(&mut self, d: usize, s: Secs, grant: Grant, hold: Secs) -> (Secs, Secs) {
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
    fn short_hold(&mut self) -> Secs {
        let held = secs(self.cfg.rules.door_held_open);
        (self.rng.gen_range(3..=8) as Secs).min(held - 1).max(0)
    }

    /// An ordinary visit through the entrance: inward, finished before `by`; or outward,
    /// starting after `after`.
    fn pass_entrance(&mut self, card: Option<&str>, by: Option<Secs>, after: Option<Secs>) {
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

    /// Incidents at the doors: one held open, one forced.
    fn emit_door_incidents(&mut self) {
        let doors = self.cfg.doors.len();
        if doors == 0 || self.span() < 180 {
            return;
        }
        // Held open: a delivery at a door, propped for a minute or two past the limit.
        let d = pick(&mut self.rng, 0, doors - 1);
        let hold = secs(self.cfg.rules.door_held_open) + self.rng.gen_range(20..=120);
        let want = pick(&mut self.rng, self.open + 60, self.close - 60) as Secs * 60;
        let lag = secs(self.cfg.rules.door_grant_window).min(2);
        if let Some(s) = self.book_door(d, want, lag + hold, false) {
            let card = self
                .workers
                .iter()
                .filter_map(|w| w.card.clone())
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .cloned();
            let grant = self.grant_for(d, card.as_deref());
            let (open, closed) = self.door_visit(d, s, grant, hold);
            let id = self.cfg.doors[d].id.clone();
            self.incidents
                .push((IncidentKind::DoorHeldOpen, id, open, Some(closed)));
        }
        // Forced: the other door if there is one, pushed open with no badge or button.
        let f = if doors >= 2 {
            (d + pick(&mut self.rng, 1, doors - 1)) % doors
        } else {
            d
        };
        let hold = self.short_hold().max(1);
        let want = pick(&mut self.rng, self.open + 150, self.close - 120) as Secs * 60;
        if let Some(s) = self.book_door(f, want, hold, false) {
            let (open, closed) = self.door_visit(f, s, Grant::Forced, hold);
            let id = self.cfg.doors[f].id.clone();
            self.incidents
                .push((IncidentKind::DoorForced, id, open, Some(closed)));
        }
    }

    fn emit_staff(&mut self) {
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
            let id = self.cfg.staff[worker.cfg].id.clone();
            let (home, card, acts) = (worker.home, worker.card.clone(), worker.acts.clone());
            let first_in = acts.first().map(|&(m, _)| m);
            let last_out = acts.last().map(|&(m, _)| m);
            for (m, act) in acts {
                let at = m as Secs * 60 + self.rng.gen_range(5..=55);
                let kind = match (act, &card, &attendance) {
                    (Act::CheckIn(r), Some(card), Some(reader)) if r == home => EventKind::Badge {
                        reader: reader.clone(),
                        card: card.clone(),
                    },
                    (Act::CheckOut, Some(card), Some(reader)) => EventKind::Badge {
                        reader: reader.clone(),
                        card: card.clone(),
                    },
                    (Act::Move(r), Some(card), _) if room_reader.contains_key(&r) => {
                        EventKind::Badge {
                            reader: room_reader[&r].clone(),
                            card: card.clone(),
                        }
                    }
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
                };
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

    fn guardian_card(&self, id: &str) -> Option<String> {
        self.cfg
            .guardians
            .iter()
            .find(|g| g.id == id)
            .and_then(|g| g.card.clone())
    }

    fn emit_families(&mut self) {
        for f in 0..self.families.len() {
            let fam = &self.families[f];
            if !fam.present {
                continue;
            }
            let kids: Vec<String> = fam
                .kids
                .iter()
                .map(|&k| self.cfg.children[self.kids[k].cfg].id.clone())
                .collect();
            let (arrive, depart) = (fam.arrive as Secs * 60, fam.depart as Secs * 60);
            let (dropper, picker, stranger) =
                (fam.dropper.clone(), fam.picker.clone(), fam.stranger);
            let step = |base: Secs| -> Secs {
                if kids.len() > 1 {
                    ((58 - base) / (kids.len() as Secs - 1)).min(6)
                } else {
                    0
                }
            };

            // Morning: in through the entrance, the children checked in, out again.
            let base = self.rng.gen_range(15..=30);
            let card = self.guardian_card(&dropper);
            self.pass_entrance(card.as_deref(), Some(arrive + base - 10), None);
            let st = step(base);
            for (j, kid) in kids.iter().enumerate() {
                let at = arrive + base + st * j as Secs;
                self.push(
                    at,
                    EventKind::Attendance {
                        person: kid.clone(),
                        action: AttendanceAction::CheckIn,
                        room: None,
                        by: None,
                    },
                );
            }
            let after = arrive + 60 + self.rng.gen_range(0..=60);
            self.pass_entrance(None, None, Some(after));

            // Afternoon: in, the children checked out by the picker, out through the door.
            let base = self.rng.gen_range(5..=20);
            let card = self.guardian_card(&picker);
            let walk = self.rng.gen_range(60..=120);
            self.pass_entrance(card.as_deref(), Some(depart + base - walk), None);
            let st = step(base);
            for (j, kid) in kids.iter().enumerate() {
                let at = depart + base + st * j as Secs;
                self.push(
                    at,
                    EventKind::Attendance {
                        person: kid.clone(),
                        action: AttendanceAction::CheckOut,
                        room: None,
                        by: Some(picker.clone()),
                    },
                );
                if stranger {
                    self.incidents
                        .push((IncidentKind::PickupByNonGuardian, kid.clone(), at, None));
                }
            }
            let after = depart + 60 + self.rng.gen_range(0..=60);
            self.pass_entrance(None, None, Some(after));
        }
    }

    /// Incident: a card on no roster at the entrance reader (or any reader).
    fn emit_unknown_card(&mut self) {
        let readers = &self.cfg.readers;
        let entrance = self.entrance().map(|d| self.cfg.doors[d].id.clone());
        let reader = entrance
            .and_then(|d| self.access_reader(&d))
            .or_else(|| readers.first().map(|r| r.id.clone()));
        let Some(reader) = reader else { return };
        if self.span() < 180 {
            return;
        }
        let known: HashSet<&str> = self
            .cfg
            .staff
            .iter()
            .filter_map(|s| s.card.as_deref())
            .chain(self.cfg.guardians.iter().filter_map(|g| g.card.as_deref()))
            .collect();
        let card = loop {
            let c = format!("9{:07}", self.rng.gen_range(0..10_000_000u32));
            if !known.contains(c.as_str()) {
                break c;
            }
        };
        let at = pick(&mut self.rng, self.open + 60, self.close - 60) as Secs * 60
            + self.rng.gen_range(0..60);
        self.push(
            at,
            EventKind::Badge {
                reader: reader.clone(),
                card,
            },
        );
        self.incidents
            .push((IncidentKind::UnknownCard, reader, at, None));
    }

    /// One reading a minute from every sensor: a room between 22 and 26 °C that warms
    /// slowly towards the afternoon, humidity between 40 and 60 %; one room overheats in
    /// the afternoon, one sensor goes quiet for a while.
    fn emit_readings(&mut self) {
        let sensors = self.cfg.sensors.len();
        if sensors == 0 {
            return;
        }
        let n = self.n;
        let t = self.cfg.rules.temperature.clone();
        let h = self.cfg.rules.humidity.clone();
        let band = |lo: f64, hi: f64, min: f64, max: f64, margin: f64| {
            let (a, b) = (lo.max(min + margin + 0.5), hi.min(max - margin - 0.5));
            if a <= b {
                (a, b)
            } else {
                let mid = (min + max) / 2.0;
                (mid, mid)
            }
        };
        let (t_lo, t_hi) = band(22.0, 26.0, t.min_c, t.max_c, t.hysteresis_c);
        let (h_lo, h_hi) = band(40.0, 60.0, h.min_pct, h.max_pct, h.hysteresis_pct);

        // The hot afternoon: a 10-minute rise to just under the limit, above it for the
        // sustain and then some, and a drop below the hysteresis when the air conditioning
        // comes on.
        let ramp = 10;
        let hold = minutes_ceil(t.sustain) + pick(&mut self.rng, 5, 15);
        let cool = 15;
        let hot_len = ramp + hold + cool;
        let lo = (self.open + self.span() * 55 / 100).max(self.at_clock(13, 0));
        let hi = self.close.saturating_sub(hot_len + 10);
        let hot = (self.span() >= 180 && hi >= lo && lo + hot_len < n).then(|| {
            (
                pick(&mut self.rng, 0, sensors - 1),
                pick(&mut self.rng, lo, hi),
            )
        });

        // The silent sensor, in the morning.
        let gap = minutes_ceil(self.cfg.rules.sensor_stale_after) + pick(&mut self.rng, 3, 8);
        let lo = self.open + 90;
        let hi = (self.open + 240).min(n.saturating_sub(gap + 20));
        let mut silent = (self.span() >= 180 && hi >= lo).then(|| {
            let s = match hot {
                Some((hs, _)) if sensors >= 2 => {
                    (hs + pick(&mut self.rng, 1, sensors - 1)) % sensors
                }
                _ => pick(&mut self.rng, 0, sensors - 1),
            };
            (s, pick(&mut self.rng, lo, hi))
        });
        if let (Some((hs, h0)), Some((ss, s0))) = (hot, silent) {
            if hs == ss && s0 + gap + 2 >= h0 {
                silent = None;
            }
        }

        let period = (secs(self.cfg.rules.sensor_stale_after) / 3).clamp(1, 60);
        for s in 0..sensors {
            let id = self.cfg.sensors[s].id.clone();
            let offset = (3 + 7 * s as Secs) % period.max(1);
            // Per-minute values first.
            let base_t = self.rng.gen_range(t_lo..=t_hi);
            let base_h = self.rng.gen_range(h_lo..=h_hi);
            let (mut walk_t, mut walk_h) = (0.0f64, 0.0f64);
            let mut temp = Vec::with_capacity(n);
            let mut hum = Vec::with_capacity(n);
            for m in 0..n {
                walk_t = (walk_t + self.rng.gen_range(-0.08..=0.08)).clamp(-0.6, 0.6);
                walk_h = (walk_h + self.rng.gen_range(-0.4..=0.4)).clamp(-4.0, 4.0);
                let day = (std::f64::consts::PI * m as f64 / n as f64).sin();
                temp.push((base_t - 0.6 + 1.2 * day + walk_t).clamp(t_lo, t_hi));
                hum.push((base_h + 2.0 * day + walk_h).clamp(h_lo, h_hi));
            }
            if let Some((hs, h0)) = hot {
                if hs == s {
                    let start = temp[h0];
                    let top = t.max_c - 0.3;
                    for i in 0..ramp {
                        temp[h0 + i] = start + (top - start) * (i as f64 / ramp as f64);
                    }
                    for i in 0..hold {
                        temp[h0 + ramp + i] = t.max_c + 0.5 + self.rng.gen_range(0.0..=1.3);
                    }
                    let from = t.max_c - t.hysteresis_c - 0.4;
                    for i in 0..cool {
                        let m = h0 + ramp + hold + i;
                        let k = i as f64 / cool as f64;
                        temp[m] = from + (temp[m].min(from) - from) * k;
                    }
                }
            }
            let mut first_hot = None;
            let mut first_cool = None;
            let mut last_before = None;
            let mut resumed = None;
            let mut at = offset;
            while at < n as Secs * 60 {
                let m = (at / 60) as usize;
                let quiet = silent.is_some_and(|(ss, s0)| ss == s && (s0..s0 + gap).contains(&m));
                if !quiet {
                    let c = (temp[m] * 10.0).round() / 10.0;
                    let rh = (hum[m] * 10.0).round() / 10.0;
                    self.push(
                        at,
                        EventKind::Reading {
                            sensor: id.clone(),
                            celsius: Some(c),
                            humidity: Some(rh),
                        },
                    );
                    if let Some((hs, h0)) = hot {
                        if hs == s && c > t.max_c && first_hot.is_none() {
                            first_hot = Some(at);
                        }
                        if hs == s && m >= h0 + ramp + hold && first_cool.is_none() {
                            first_cool = Some(at);
                        }
                    }
                    if let Some((ss, s0)) = silent {
                        if ss == s && m < s0 {
                            last_before = Some(at);
                        }
                        if ss == s && m >= s0 + gap && resumed.is_none() {
                            resumed = Some(at);
                        }
                    }
                }
                at += period;
            }
            if let Some(at) = first_hot {
                self.incidents
                    .push((IncidentKind::HotRoom, id.clone(), at, first_cool));
            }
            if let Some(at) = last_before {
                self.incidents
                    .push((IncidentKind::SensorSilent, id.clone(), at, resumed));
            }
        }
    }

    // ---- output -----------------------------------------------------------------------

    fn local(&self, at: Secs) -> DateTime<FixedOffset> {
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

    fn finish(mut self) -> SimulatedDay {
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use super::*;
    use crate::alert::{AlertState, Transition};
    use crate::rules::Engine;

    fn demo() -> Config {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/demo.toml"));
        crate::config::load(path).unwrap_or_else(|e| panic!("{e}"))
    }

    fn demo_date(cfg: &Config) -> NaiveDate {
        cfg.simulation
            .as_ref()
            .and_then(|s| s.date)
            .expect("the demo fixes its simulated date")
    }

    fn roster(text: &str) -> Config {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs a day through a fresh engine the way `replay` does, insisting that every event
    /// is accepted and in time order, and that nothing is left open at the end.
    fn run(cfg: &Config, events: &[Event]) -> Vec<Transition> {
        let mut engine = Engine::new(cfg).expect("the roster builds an engine");
        let mut out = Vec::new();
        let mut previous = None;
        for (i, ev) in events.iter().enumerate() {
            assert!(previous <= ev.utc(), "event {i} goes back in time");
            previous = ev.utc();
            let ts = engine
                .on_event(ev)
                .unwrap_or_else(|e| panic!("event {i} {} rejected: {e}", ev.to_json_line()));
            out.extend(ts);
        }
        let open = engine.open_alerts();
        assert!(open.is_empty(), "left open at the end of the day: {open:?}");
        out
    }

    fn raised(ts: &[Transition]) -> BTreeMap<AlertType, Vec<String>> {
        let mut m: BTreeMap<AlertType, Vec<String>> = BTreeMap::new();
        for t in ts.iter().filter(|t| t.state == AlertState::Raised) {
            m.entry(t.alert_type).or_default().push(t.subject.clone());
        }
        m
    }

    /// Who was checked in during the day, by attendance record or attendance-reader badge.
    fn checked_in(cfg: &Config, events: &[Event], prefix: &str) -> BTreeSet<String> {
        let attendance: HashSet<&str> = cfg
            .readers
            .iter()
            .filter(|r| r.purpose == ReaderPurpose::Attendance)
            .map(|r| r.id.as_str())
            .collect();
        let cards: HashMap<&str, &str> = cfg
            .staff
            .iter()
            .filter_map(|s| Some((s.card.as_deref()?, s.id.as_str())))
            .collect();
        events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Attendance {
                    person,
                    action: AttendanceAction::CheckIn,
                    ..
                } => Some(person.clone()),
                EventKind::Badge { reader, card } if attendance.contains(reader.as_str()) => {
                    cards.get(card.as_str()).map(|s| s.to_string())
                }
                _ => None,
            })
            .filter(|p| p.starts_with(prefix))
            .collect()
    }

    const INTENDED: [AlertType; 7] = [
        AlertType::RatioBreach,
        AlertType::DoorHeldOpen,
        AlertType::UnauthorizedPickup,
        AlertType::TemperatureHigh,
        AlertType::SensorStale,
        AlertType::BadgeDenied,
        AlertType::DoorForced,
    ];

    #[test]
    fn the_same_seed_gives_the_same_day() {
        let cfg = demo();
        let date = demo_date(&cfg);
        assert_eq!(plan_day(&cfg, 7, date), plan_day(&cfg, 7, date));
    }

    #[test]
    fn another_seed_gives_another_day() {
        let cfg = demo();
        let date = demo_date(&cfg);
        assert_ne!(simulate_day(&cfg, 7, date), simulate_day(&cfg, 8, date));
        let at = |seed| -> Vec<_> {
            plan_day(&cfg, seed, date)
                .incidents
                .iter()
                .map(|i| i.at)
                .collect()
        };
        assert_ne!(at(7), at(8), "incident times vary with the seed");
    }

    #[test]
    fn the_demo_day_raises_exactly_its_planted_incidents_and_resolves_them() {
        let cfg = demo();
        let date = demo_date(&cfg);
        for seed in 2019..2029 {
            let day = plan_day(&cfg, seed, date);
            let transitions = run(&cfg, &day.events);
            let raised = raised(&transitions);
            let types: BTreeSet<AlertType> = raised.keys().copied().collect();
            assert_eq!(
                types,
                INTENDED.into_iter().collect(),
                "seed {seed}: {raised:?}"
            );
            for (ty, subjects) in &raised {
                assert_eq!(subjects.len(), 1, "seed {seed}: {ty:?} raised {subjects:?}");
            }
            // Each alert names the subject of the incident planted for it.
            for inc in &day.incidents {
                let ty = inc.kind.alert_type();
                assert_eq!(
                    raised[&ty],
                    vec![inc.subject.clone()],
                    "seed {seed}: {inc:?}"
                );
            }
            assert_eq!(day.incidents.len(), INTENDED.len(), "seed {seed}");
            // Everything that can resolve did (`run` checks nothing is left open).
            let resolved = transitions
                .iter()
                .filter(|t| t.state == AlertState::Resolved)
                .count();
            assert_eq!(resolved, INTENDED.len() - 2, "seed {seed}");
        }
    }

    #[test]
    fn the_demo_day_brings_most_children_and_all_staff() {
        let cfg = demo();
        let date = demo_date(&cfg);
        for seed in [1, 2019, 4242] {
            let events = simulate_day(&cfg, seed, date);
            let children = checked_in(&cfg, &events, "c-").len();
            let staff = checked_in(&cfg, &events, "s-").len();
            assert!(
                (30..=50).contains(&children),
                "seed {seed}: {children} children"
            );
            assert!((8..=12).contains(&staff), "seed {seed}: {staff} staff");
        }
    }

    #[test]
    fn every_timestamp_carries_the_facility_offset() {
        let cfg = demo();
        let date = demo_date(&cfg);
        let events = simulate_day(&cfg, 2019, date);
        assert!(!events.is_empty());
        for ev in &events {
            let ts = ev.ts.expect("every simulated event has a ts");
            assert_eq!(
                ts.offset().local_minus_utc(),
                8 * 3600,
                "{}",
                ev.to_json_line()
            );
            assert_eq!(ts.date_naive(), date);
        }
    }

    #[test]
    fn the_printed_day_parses_back_and_replays_without_rejections() {
        let cfg = demo();
        let date = demo_date(&cfg);
        let events = simulate_day(&cfg, 2019, date);
        // What `nursery-agent simulate` prints: one `to_json_line` per event.
        let text: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
        for (line, ev) in text.lines().zip(&events) {
            assert_eq!(
                &Event::parse(line).unwrap_or_else(|e| panic!("{line}: {e}")),
                ev
            );
        }
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let outcome = crate::replay::replay(&cfg, text.as_bytes(), None, &mut out, &mut err)
            .expect("replay runs");
        assert_eq!(outcome.rejected, 0, "{}", String::from_utf8_lossy(&err));
        assert_eq!(outcome.accepted as usize, events.len());
        let printed = String::from_utf8(out).unwrap();
        assert_eq!(printed.lines().count(), 12, "{printed}");
    }

    #[test]
    fn day_after_day_the_sensors_never_fall_silent_overnight() {
        // How the daemon uses the generator: one day's events after another's, one engine.
        let cfg = demo();
        let first = demo_date(&cfg);
        let second = first.succ_opt().unwrap();
        let mut events = simulate_day(&cfg, 2019, first);
        events.extend(simulate_day(&cfg, 2019, second));
        let raised = raised(&run(&cfg, &events));
        for ty in INTENDED {
            assert_eq!(raised[&ty].len(), 2, "{ty:?}: {raised:?}");
        }
        assert_eq!(raised.len(), INTENDED.len(), "{raised:?}");
    }

    #[test]
    fn the_demo_stays_lawful_when_its_children_have_grown() {
        let cfg = demo();
        for date in ["2026-11-23", "2027-09-01"] {
            let date: NaiveDate = date.parse().unwrap();
            let day = plan_day(&cfg, 2019, date);
            let raised = raised(&run(&cfg, &day.events));
            for ty in raised.keys() {
                assert!(INTENDED.contains(ty), "{date}: {raised:?}");
            }
        }
    }

    const SMALL: &str = r#"
        [facility]
        id = "310115-0001"
        name = "小树苗"
        timezone = "Asia/Shanghai"
        ratio_preset = "cn-2019"
        open = "07:30"
        close = "18:00"

        [[rooms]]
        id = "toddler"
        name = "托小班"

        [[staff]]
        id = "s-01"
        name = "王老师"
        role = "caregiver"
        room = "toddler"

        [[staff]]
        id = "s-02"
        name = "李老师"
        role = "teacher"
        room = "toddler"

        [[children]]
        id = "c-01"
        name = "小明"
        birth_date = "2024-10-01"
        room = "toddler"
        guardians = ["g-01"]

        [[children]]
        id = "c-02"
        name = "小红"
        birth_date = "2024-09-01"
        room = "toddler"
        guardians = ["g-01"]

        [[children]]
        id = "c-03"
        name = "小刚"
        birth_date = "2024-08-01"
        room = "toddler"
        guardians = ["g-02"]

        [[children]]
        id = "c-04"
        name = "小丽"
        birth_date = "2024-07-01"
        room = "toddler"
        guardians = ["g-03"]

        [[children]]
        id = "c-05"
        name = "小华"
        birth_date = "2024-06-01"
        room = "toddler"
        guardians = ["g-04"]

        [[children]]
        id = "c-06"
        name = "小军"
        birth_date = "2024-05-01"
        room = "toddler"
        guardians = ["g-05"]

        [[children]]
        id = "c-07"
        name = "没人接"
        birth_date = "2024-05-01"
        room = "toddler"

        [[guardians]]
        id = "g-01"
        name = "张女士"

        [[guardians]]
        id = "g-02"
        name = "刘先生"

        [[guardians]]
        id = "g-03"
        name = "陈女士"

        [[guardians]]
        id = "g-04"
        name = "赵先生"

        [[guardians]]
        id = "g-05"
        name = "孙女士"
    "#;

    #[test]
    fn a_roster_without_doors_readers_or_sensors_still_has_a_lawful_day() {
        let cfg = roster(SMALL);
        let date: NaiveDate = "2026-03-02".parse().unwrap();
        for seed in 0..5 {
            let day = plan_day(&cfg, seed, date);
            assert!(day
                .events
                .iter()
                .all(|e| matches!(e.kind, EventKind::Attendance { .. })));
            let raised = raised(&run(&cfg, &day.events));
            let allowed = [AlertType::RatioBreach, AlertType::UnauthorizedPickup];
            for ty in raised.keys() {
                assert!(allowed.contains(ty), "seed {seed}: {raised:?}");
            }
            // The child nobody may pick up stays at home rather than be left at close.
            assert!(!checked_in(&cfg, &day.events, "c-07").contains("c-07"));
            assert!(!checked_in(&cfg, &day.events, "c-").is_empty());
        }
    }

    #[test]
    fn a_small_roster_with_a_door_and_a_sensor_gets_the_incidents_it_can_have() {
        let text = format!(
            "{SMALL}{}",
            r#"
            [[doors]]
            id = "front"

            [[readers]]
            id = "front-reader"
            purpose = "access"
            door = "front"

            [[sensors]]
            id = "t-toddler"
            room = "toddler"
            "#
        );
        let cfg = roster(&text);
        let date: NaiveDate = "2026-03-02".parse().unwrap();
        let mut breaches = 0;
        for seed in 0..10 {
            let day = plan_day(&cfg, seed, date);
            let raised = raised(&run(&cfg, &day.events));
            let types: BTreeSet<AlertType> = raised.keys().copied().collect();
            let planted: BTreeSet<AlertType> =
                day.incidents.iter().map(|i| i.kind.alert_type()).collect();
            assert_eq!(types, planted, "seed {seed}: {raised:?}");
            // Only the step-out needs luck: a family staying home leaves the room slack.
            assert!(
                planted.len() >= INTENDED.len() - 1,
                "seed {seed}: {planted:?}"
            );
            breaches += usize::from(planted.contains(&AlertType::RatioBreach));
        }
        assert!(breaches >= 5, "a step-out in only {breaches} of 10 days");
    }

    #[test]
    fn a_room_with_no_counted_staff_takes_no_children() {
        let text = SMALL
            .replace(r#"role = "caregiver""#, r#"role = "cook""#)
            .replace(r#"role = "teacher""#, r#"role = "health""#);
        let cfg = roster(&text);
        let date: NaiveDate = "2026-03-02".parse().unwrap();
        let day = plan_day(&cfg, 3, date);
        assert!(checked_in(&cfg, &day.events, "c-").is_empty());
        let raised = raised(&run(&cfg, &day.events));
        assert!(raised.is_empty(), "{raised:?}");
    }

    #[test]
    fn an_empty_roster_gives_an_empty_day() {
        let text: String = SMALL
            .split("[[rooms]]")
            .next()
            .expect("the facility table comes first")
            .to_string();
        let cfg = roster(&text);
        let day = plan_day(&cfg, 1, "2026-03-02".parse().unwrap());
        assert!(day.events.is_empty());
        assert!(day.incidents.is_empty());
    }

    /// FNV-1a over the printed day and its incidents: a digest that is the same on every
    /// platform and toolchain (std's hashers promise neither).
    fn digest(day: &SimulatedDay) -> (usize, u64) {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for e in &day.events {
            eat(e.to_json_line().as_bytes());
            eat(b"\n");
        }
        for i in &day.incidents {
            eat(format!("{i:?}\n").as_bytes());
        }
        (day.events.len(), h)
    }

    #[test]
    fn the_simulated_days_are_the_ones_the_single_file_planner_made() {
        // Recorded on the planner as it was in one file (main at 5428fbe), before it moved
        // into its folder: the split must not change a single event.
        let cfg = demo();
        let small = roster(SMALL);
        let cases: [(&Config, u64, &str); 4] = [
            (&cfg, 2019, "2026-03-02"),
            (&cfg, 7, "2026-03-03"),
            (&cfg, 2019, "2026-09-15"),
            (&small, 4, "2026-03-02"),
        ];
        let got: Vec<(usize, u64)> = cases
            .iter()
            .map(|&(cfg, seed, date)| digest(&plan_day(cfg, seed, date.parse().unwrap())))
            .collect();
        assert_eq!(
            got,
            vec![
                (6406, 10615393726071845717),
                (6382, 10809867910800008159),
                (6406, 13282290478196615052),
                (18, 17781706918914051387),
            ]
        );
    }
}
