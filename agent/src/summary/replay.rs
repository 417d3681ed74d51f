//! The replay of one day of journalled events through a fresh [`Engine`], for the figures
//! the journal does not hold as such: who attended, how many were present, child- and
//! staff-minutes, readings, door opens, and naps with their sleep checks.
//!
//! Children and counted staff are constant between events, so the minutes are integrated
//! exactly, in integer milliseconds. The day starts empty (a nursery closes every night).

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;

use super::body::Stats;
use super::SummaryError;
use crate::config::Config;
use crate::event::{DoorState, Event, EventKind};
use crate::journal::day;
use crate::rules::Engine;

/// The physical ranges of contract section 3: a reading outside them is a sensor fault.
const CELSIUS: std::ops::RangeInclusive<f64> = -20.0..=60.0;
const HUMIDITY: std::ops::RangeInclusive<f64> = 0.0..=100.0;

#[derive(Debug, Default)]
pub(super) struct RoomAcc {
    children: u32,
    counted_staff: u32,
    pub(super) child_ms: u64,
    pub(super) staff_ms: u64,
    pub(super) peak_children: u32,
    pub(super) peak_required: u32,
    pub(super) attended: HashSet<String>,
    pub(super) celsius: Stats,
    pub(super) humidity: Stats,
    /// The nap under way: since when, and the latest check (or its start).
    nap: Option<(i64, i64)>,
    /// The latest check the engine reported for the nap under way.
    nap_check: Option<chrono::DateTime<chrono::Utc>>,
    pub(super) napped: bool,
    pub(super) nap_ms: u64,
    pub(super) sleep_checks: u64,
    pub(super) longest_gap_ms: u64,
}

impl RoomAcc {
    /// The nap under way ends (or the day's figures stop) at `at`.
    fn close_nap(&mut self, at: i64) {
        if let Some((since, mark)) = self.nap.take() {
            self.nap_ms += u64::try_from(at - since).unwrap_or(0);
            self.longest_gap_ms = self
                .longest_gap_ms
                .max(u64::try_from(at - mark).unwrap_or(0));
        }
        self.nap_check = None;
    }
}

/// The figures of the replayed day.
pub(super) struct Replay {
    /// In `cfg.rooms` order.
    pub(super) rooms: Vec<RoomAcc>,
    /// Opens per door, in `cfg.doors` order.
    pub(super) door_opens: Vec<u64>,
    /// Distinct children checked in anywhere during the day.
    pub(super) attended: usize,
    /// Most children present at once in the whole facility.
    pub(super) peak_children: u32,
    /// Journalled events of the day.
    pub(super) rows: u64,
    /// Of which not parsed or refused by the engine.
    pub(super) unreadable: u64,
    /// Panic presses and test presses.
    pub(super) panic: super::body::PanicFigures,
    /// Emergencies started: kind, start and when the roll call became full (UTC ms).
    pub(super) emergencies: Vec<(crate::event::EmergencyKind, i64, Option<i64>)>,
    /// Health checks (晨午检) recorded, and the distinct children they were of.
    pub(super) health_checks: u64,
    pub(super) health_checked: usize,
}

/// The replay under way: the engine, the roster's indexes and the running figures.
struct Replayer<'c> {
    engine: Engine,
    room_ix: HashMap<&'c str, usize>,
    /// Room ids in configuration order.
    room_ids: Vec<&'c str>,
    door_ix: HashMap<&'c str, usize>,
    sensor_room: HashMap<&'c str, usize>,
    children: HashSet<&'c str>,
    rooms: Vec<RoomAcc>,
    door_opens: Vec<u64>,
    door_open: Vec<bool>,
    attended: HashSet<String>,
    peak_children: u32,
    rows: u64,
    unreadable: u64,
    /// Ids of the panic inputs, and their presses so far.
    panic_inputs: HashSet<&'c str>,
    panic: super::body::PanicFigures,
    emergencies: Vec<(crate::event::EmergencyKind, i64, Option<i64>)>,
    health_checks: u64,
    health_checked: HashSet<String>,
    /// The time up to which the minutes are integrated.
    prev: i64,
}

impl Replay {
    /// Replays the events of `[start, end)`, integrating until `horizon`.
    pub(super) fn run(
        cfg: &Config,
        conn: &Connection,
        start: i64,
        end: i64,
        horizon: i64,
    ) -> Result<Replay, SummaryError> {
        let mut r = Replayer::new(cfg, start)?;
        day::for_each_event(conn, start, end, |at, body| r.row(at, body, horizon))?;
        r.advance(horizon);
        let until = horizon.max(r.prev);
        for room in &mut r.rooms {
            room.close_nap(until);
        }
        Ok(Replay {
            rooms: r.rooms,
            door_opens: r.door_opens,
            attended: r.attended.len(),
            peak_children: r.peak_children,
            rows: r.rows,
            unreadable: r.unreadable,
            panic: r.panic,
            emergencies: r.emergencies,
            health_checks: r.health_checks,
            health_checked: r.health_checked.len(),
        })
    }
}

impl<'c> Replayer<'c> {
    /// After an event at `at`: an emergency that started, and the moment its roll call
    /// became full.
    fn sample_emergency(&mut self, at: i64) {
        let Some(v) = self.engine.emergency_view() else {
            return;
        };
        let since = v.since.timestamp_millis();
        if self.emergencies.last().is_none_or(|(_, s, _)| *s != since) {
            self.emergencies.push((v.kind, since, None));
        }
        if let (true, Some(last)) = (v.missing.is_empty(), self.emergencies.last_mut()) {
            last.2.get_or_insert(at);
        }
    }

    fn new(cfg: &'c Config, start: i64) -> Result<Self, SummaryError> {
        let engine = Engine::new(cfg).map_err(SummaryError::Rules)?;
        let room_ix: HashMap<&str, usize> = cfg
            .rooms
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let door_ix = cfg
            .doors
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.as_str(), i))
            .collect();
        let sensor_room = cfg
            .sensors
            .iter()
            .filter_map(|s| Some((s.id.as_str(), *room_ix.get(s.room.as_str())?)))
            .collect();
        Ok(Replayer {
            engine,
            room_ix,
            room_ids: cfg.rooms.iter().map(|r| r.id.as_str()).collect(),
            door_ix,
            sensor_room,
            children: cfg.children.iter().map(|c| c.id.as_str()).collect(),
            rooms: cfg.rooms.iter().map(|_| RoomAcc::default()).collect(),
            door_opens: vec![0; cfg.doors.len()],
            door_open: vec![false; cfg.doors.len()],
            attended: HashSet::new(),
            peak_children: 0,
            rows: 0,
            unreadable: 0,
            panic_inputs: cfg
                .inputs
                .iter()
                .filter(|i| i.kind == crate::config::InputKind::Panic)
                .map(|i| i.id.as_str())
                .collect(),
            panic: Default::default(),
            emergencies: Vec::new(),
            health_checks: 0,
            health_checked: HashSet::new(),
            prev: start,
        })
    }

    /// One journalled row at `at`: counted, and unless it cannot be read, replayed.
    fn row(&mut self, at: i64, body: Option<&str>, horizon: i64) {
        self.rows += 1;
        let Some(ev) = body.and_then(|b| Event::parse(b).ok()) else {
            self.unreadable += 1;
            return;
        };
        if self.engine.on_event(&ev).is_err() {
            self.unreadable += 1;
            return;
        }
        self.advance(at.clamp(self.prev, horizon.max(self.prev)));
        self.sample_emergency(at);
        match &ev.kind {
            EventKind::Attendance { person, .. } => {
                // Only attendance moves children (a badge moves staff only).
                if self.children.contains(person.as_str()) {
                    self.note_attendance();
                }
                self.sample_rooms();
            }
            EventKind::Badge { .. } => {
                self.sample_rooms();
                self.sample_naps(at);
            }
            EventKind::Nap { .. } | EventKind::SleepCheck { .. } => self.sample_naps(at),
            // A break or a return changes who counts, so the staff-minutes.
            EventKind::Presence { .. } => self.sample_rooms(),
            EventKind::Reading {
                sensor,
                celsius,
                humidity,
            } => self.reading(sensor, *celsius, *humidity),
            EventKind::Door { door, state } => self.door(door, *state),
            EventKind::HealthCheck { person, .. } => {
                self.health_checks += 1;
                self.health_checked.insert(person.clone());
            }
            EventKind::Input {
                input,
                state: crate::event::InputState::Active,
                test,
            } if self.panic_inputs.contains(input.as_str()) => {
                if *test {
                    self.panic.tests += 1;
                } else {
                    self.panic.presses += 1;
                }
            }
            _ => {}
        }
    }

    /// Integrates the rooms' children and staff from the previous event up to `at`.
    fn advance(&mut self, at: i64) {
        let dt = u64::try_from(at - self.prev).unwrap_or(0);
        for r in &mut self.rooms {
            r.child_ms += u64::from(r.children) * dt;
            r.staff_ms += u64::from(r.counted_staff) * dt;
        }
        self.prev = self.prev.max(at);
    }

    /// Every child now checked in has attended their room today.
    fn note_attendance(&mut self) {
        for (id, room) in self.engine.occupancy() {
            if let (true, Some(&r)) = (
                self.children.contains(id.as_str()),
                self.room_ix.get(room.as_str()),
            ) {
                self.rooms[r].attended.insert(id.clone());
                self.attended.insert(id);
            }
        }
    }

    /// The rooms' figures after an event that can move a person.
    fn sample_rooms(&mut self) {
        let mut total = 0;
        for f in self.engine.rooms() {
            let Some(&r) = self.room_ix.get(f.room.as_str()) else {
                continue;
            };
            let acc = &mut self.rooms[r];
            acc.children = f.children;
            acc.counted_staff = f.counted_staff;
            acc.peak_children = acc.peak_children.max(f.children);
            acc.peak_required = acc.peak_required.max(f.required);
            total += f.children;
        }
        self.peak_children = self.peak_children.max(total);
    }

    /// The rooms' naps after an event that can start or end one or check on it.
    fn sample_naps(&mut self, at: i64) {
        let naps = self.engine.naps();
        for (id, acc) in self.room_ids.iter().zip(self.rooms.iter_mut()) {
            match (naps.iter().find(|n| n.room == *id), acc.nap) {
                (Some(n), None) => {
                    acc.nap = Some((at, at));
                    acc.nap_check = n.last_check;
                    acc.napped = true;
                }
                (Some(n), Some((since, mark))) if n.last_check != acc.nap_check => {
                    acc.sleep_checks += 1;
                    acc.longest_gap_ms = acc
                        .longest_gap_ms
                        .max(u64::try_from(at - mark).unwrap_or(0));
                    acc.nap = Some((since, at));
                    acc.nap_check = n.last_check;
                }
                (None, Some(_)) => acc.close_nap(at),
                _ => {}
            }
        }
    }

    fn reading(&mut self, sensor: &str, celsius: Option<f64>, humidity: Option<f64>) {
        let Some(&r) = self.sensor_room.get(sensor) else {
            return;
        };
        if let Some(c) = celsius.filter(|c| CELSIUS.contains(c)) {
            self.rooms[r].celsius.add(c);
        }
        if let Some(h) = humidity.filter(|h| HUMIDITY.contains(h)) {
            self.rooms[r].humidity.add(h);
        }
    }

    fn door(&mut self, door: &str, state: DoorState) {
        if let Some(&d) = self.door_ix.get(door) {
            let open = state == DoorState::Open;
            if open && !self.door_open[d] {
                self.door_opens[d] += 1;
            }
            self.door_open[d] = open;
        }
    }
}
