//! The rules engine: a pure, deterministic state machine.
//!
//! It holds the occupancy of every room, door states and grants, sensor states and the
//! pending timers, and turns events into alert transitions (contract section 4). It never
//! reads a clock and does no I/O: the daemon passes wall-clock time, `replay` passes the
//! events' own timestamps, and both get the same transitions.
//!
//! Timers (grace periods, doors held open, sustained temperatures, stale sensors, the
//! end-of-day pick-up check, the midnight age re-evaluation) are not stored in a queue:
//! they are derived from the state, so restoring a snapshot restores them too. Before an
//! event at `t` is applied, every timer due at or before `t` fires, in due order, with its
//! due time as the transition's `ts`.

mod model;
mod state;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};

use crate::alert::{AlertState, AlertType, Transition};
use crate::config::{Config, ReaderPurpose};
use crate::event::{AttendanceAction, DoorState, Event, EventKind};
use model::{CardHolder, Model, Person};
use state::{Active, Cond, State};
pub use state::{Snapshot, SnapshotError};

type Dt = DateTime<Utc>;

/// Why an event was not accepted. The message names the offending field and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("event has no `ts`")]
    MissingTs,
    #[error(
        "`ts` {ts} is earlier than the previous event ({previous}); events must be in time order"
    )]
    OutOfOrder { ts: String, previous: String },
    #[error("unknown {what} `{id}`")]
    Unknown { what: &'static str, id: String },
    #[error("{0}")]
    Invalid(String),
}

fn unknown(what: &'static str, id: &str) -> Rejection {
    Rejection::Unknown {
        what,
        id: id.to_string(),
    }
}

/// An event with its ids looked up: what `apply` acts on.
enum Resolved<'e> {
    Badge {
        reader: &'e str,
        card: &'e str,
    },
    Door {
        door: usize,
        state: DoorState,
    },
    ExitButton {
        door: usize,
    },
    Attendance {
        person: Person,
        action: AttendanceAction,
        room: Option<usize>,
        by: Option<&'e str>,
    },
    Reading {
        sensor: usize,
        celsius: Option<f64>,
        humidity: Option<f64>,
    },
    SensorFault {
        sensor: usize,
        reason: &'e str,
    },
    AgentStarted,
    Acknowledge {
        alert_id: &'e str,
        by: &'e str,
    },
}

/// A room's figures at one moment, for the console, the staff page and telemetry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomFigures {
    pub room: String,
    pub children: u32,
    /// Children per age band of the preset, youngest band first.
    pub by_band: Vec<u32>,
    pub counted_staff: u32,
    /// All staff present, counted or not.
    pub staff_present: u32,
    pub required: u32,
    pub capacity: Option<u32>,
}

/// An alert raised and not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenAlert {
    pub alert_id: String,
    #[serde(rename = "type")]
    pub alert_type: AlertType,
    pub severity: crate::alert::Severity,
    pub subject: String,
    pub raised: DateTime<Utc>,
    /// (staff id, when), once acknowledged on the staff page.
    pub acknowledged: Option<(String, DateTime<Utc>)>,
}

/// A door as the rules see it now, for the staff page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DoorFigures {
    pub door: String,
    pub open: bool,
    /// Raised `door_held_open` alert id, if any.
    pub held: Option<String>,
    /// Raised `door_forced` alert id, if any.
    pub forced: Option<String>,
}

/// A sensor's latest reading, for the staff page and telemetry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SensorFigures {
    pub sensor: String,
    pub celsius: Option<f64>,
    pub humidity: Option<f64>,
    /// When the last valid reading arrived.
    pub at: Option<DateTime<Utc>>,
    pub stale: bool,
    pub fault: bool,
}

/// A timer derived from the state.
#[derive(Debug, Clone, Copy)]
enum Timer {
    Ratio(usize),
    Unsupervised(usize),
    DoorHeld(usize),
    Stale(usize),
    Sustained(usize, Limit),
    Pickup,
    Midnight,
}

/// The four sustained conditions a sensor watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    TempHigh,
    TempLow,
    HumHigh,
    HumLow,
}

impl Limit {
    const ALL: [Limit; 4] = [
        Limit::TempHigh,
        Limit::TempLow,
        Limit::HumHigh,
        Limit::HumLow,
    ];

    fn alert_type(self) -> AlertType {
        match self {
            Limit::TempHigh => AlertType::TemperatureHigh,
            Limit::TempLow => AlertType::TemperatureLow,
            Limit::HumHigh => AlertType::HumidityHigh,
            Limit::HumLow => AlertType::HumidityLow,
        }
    }
}

pub struct Engine {
    m: Model,
    s: State,
    /// Age bands per child, valid for the local date `bands_on` (derived, not persisted).
    bands_on: Option<NaiveDate>,
    child_band: Vec<usize>,
    child_months: Vec<u32>,
}

impl Engine {
    pub fn new(cfg: &Config) -> Result<Engine, String> {
        let m = Model::build(cfg)?;
        let s = State::empty(&m);
        Ok(Engine {
            m,
            s,
            bands_on: None,
            child_band: Vec::new(),
            child_months: Vec::new(),
        })
    }

    /// Rebuilds an engine from a snapshot taken by [`Engine::snapshot`], possibly under an
    /// edited roster: people, rooms, doors and sensors that no longer exist are dropped.
    pub fn restore(cfg: &Config, snap: &Snapshot) -> Result<Engine, String> {
        let mut e = Engine::new(cfg)?;
        e.s = snap.to_state(&e.m);
        Ok(e)
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot::from_state(&self.s, &self.m)
    }

    /// The engine's clock: the time of the last event or tick, if any.
    pub fn clock(&self) -> Option<Dt> {
        self.s.clock
    }

    /// Tells the engine the agent (re)started at `now`: sensors that have been silent are
    /// counted as silent from here, not from before the agent was down.
    pub fn agent_started(&mut self, now: Dt) {
        self.start_if_needed(now);
        self.s.stale_base = Some(now);
    }

    /// Applies one event. On rejection nothing changes, not even the clock.
    pub fn on_event(&mut self, ev: &Event) -> Result<Vec<Transition>, Rejection> {
        let ts = ev.utc().ok_or(Rejection::MissingTs)?;
        if let Some(prev) = self.s.clock {
            if ts < prev {
                return Err(Rejection::OutOfOrder {
                    ts: self.local(ts).to_rfc3339(),
                    previous: self.local(prev).to_rfc3339(),
                });
            }
        }
        let resolved = self.resolve(&ev.kind)?;
        let mut out = Vec::new();
        self.start_if_needed(ts);
        if matches!(resolved, Resolved::AgentStarted) {
            // Silence while the agent was down is not evidence: staleness counts from here,
            // so no stale timer falls due inside the gap.
            self.s.stale_base = Some(ts);
        }
        self.advance(ts, &mut out);
        self.apply(resolved, ts, &mut out);
        // Zero-length grace periods and sustains fall due at once.
        self.advance(ts, &mut out);
        Ok(out)
    }

    /// Advances the clock to `now`, firing every timer due at or before it.
    pub fn on_tick(&mut self, now: Dt) -> Vec<Transition> {
        let mut out = Vec::new();
        self.start_if_needed(now);
        self.advance(now, &mut out);
        out
    }

    /// When the next timer falls due, if any: the daemon sleeps until then.
    pub fn next_due(&self) -> Option<Dt> {
        self.next_timer().map(|(t, _)| t)
    }

    /// Figures for every room at the engine's clock.
    pub fn rooms(&mut self) -> Vec<RoomFigures> {
        let now = self.s.clock.unwrap_or_else(Utc::now);
        (0..self.m.rooms.len())
            .map(|r| self.figures(r, now))
            .collect()
    }

    /// Every door's state.
    pub fn doors(&self) -> Vec<DoorFigures> {
        self.m
            .doors
            .iter()
            .zip(&self.s.doors)
            .map(|(id, d)| DoorFigures {
                door: id.clone(),
                open: d.open,
                held: d.held.as_ref().map(|a| a.id.clone()),
                forced: d.forced.as_ref().map(|a| a.id.clone()),
            })
            .collect()
    }

    /// Every sensor's latest reading, with the room it is in (config order).
    pub fn sensors(&self) -> Vec<SensorFigures> {
        self.m
            .sensors
            .iter()
            .zip(&self.s.sensors)
            .map(|(id, s)| SensorFigures {
                sensor: id.clone(),
                celsius: s.celsius,
                humidity: s.humidity,
                at: s.last_reading,
                stale: s.stale.is_some(),
                fault: s.fault.is_some(),
            })
            .collect()
    }

    /// Which room each checked-in person is in, by id (children, then staff).
    pub fn occupancy(&self) -> Vec<(String, String)> {
        let children = self.m.children.iter().map(|c| &c.id);
        let staff = self.m.staff.iter().map(|s| &s.id);
        children
            .zip(&self.s.child_room)
            .chain(staff.zip(&self.s.staff_room))
            .filter_map(|(id, room)| room.map(|r| (id.clone(), self.m.rooms[r].id.clone())))
            .collect()
    }

    /// Alerts raised and not yet resolved, with who acknowledged them.
    pub fn open_alert_list(&self) -> Vec<OpenAlert> {
        self.s
            .open_alerts(&self.m)
            .into_iter()
            .map(|(a, alert_type, subject)| OpenAlert {
                alert_id: a.id,
                alert_type,
                severity: alert_type.severity(),
                subject,
                raised: a.raised,
                acknowledged: a.ack,
            })
            .collect()
    }

    /// Alerts raised and not yet resolved: (alert id, type, subject, raised at).
    pub fn open_alerts(&self) -> Vec<(String, AlertType, String, Dt)> {
        self.s
            .open_alerts(&self.m)
            .into_iter()
            .map(|(a, t, subject)| (a.id, t, subject, a.raised))
            .collect()
    }

    pub fn local(&self, t: Dt) -> DateTime<FixedOffset> {
        t.with_timezone(&self.m.tz).fixed_offset()
    }

    pub fn timezone(&self) -> chrono_tz::Tz {
        self.m.tz
    }

    // ---- event handling -------------------------------------------------------------

    fn resolve<'e>(&self, kind: &'e EventKind) -> Result<Resolved<'e>, Rejection> {
        let door = |id: &str| {
            self.m
                .door_ix
                .get(id)
                .copied()
                .ok_or_else(|| unknown("door", id))
        };
        let sensor = |id: &str| {
            self.m
                .sensor_ix
                .get(id)
                .copied()
                .ok_or_else(|| unknown("sensor", id))
        };
        Ok(match kind {
            EventKind::Badge { reader, card } => {
                if !self.m.readers.contains_key(reader) {
                    return Err(unknown("reader", reader));
                }
                Resolved::Badge { reader, card }
            }
            EventKind::Door { door: d, state } => Resolved::Door {
                door: door(d)?,
                state: *state,
            },
            EventKind::ExitButton { door: d } => Resolved::ExitButton { door: door(d)? },
            EventKind::Attendance {
                person,
                action,
                room,
                by,
            } => {
                let p = *self
                    .m
                    .people
                    .get(person)
                    .ok_or_else(|| unknown("person", person))?;
                if matches!(p, Person::Guardian) {
                    return Err(Rejection::Invalid(format!(
                        "`{person}` is a guardian; attendance is for children and staff"
                    )));
                }
                let room = match room {
                    Some(r) => Some(
                        self.m
                            .room_ix
                            .get(r)
                            .copied()
                            .ok_or_else(|| unknown("room", r))?,
                    ),
                    None => None,
                };
                if *action == AttendanceAction::Move && room.is_none() {
                    return Err(Rejection::Invalid(format!(
                        "`move` of `{person}` needs a `room`"
                    )));
                }
                Resolved::Attendance {
                    person: p,
                    action: *action,
                    room,
                    by: by.as_deref(),
                }
            }
            EventKind::Reading {
                sensor: s,
                celsius,
                humidity,
            } => {
                let sensor = sensor(s)?;
                if celsius.is_none() && humidity.is_none() {
                    return Err(Rejection::Invalid(format!(
                        "reading from `{s}` has neither `celsius` nor `humidity`"
                    )));
                }
                if celsius.is_some_and(|v| !v.is_finite())
                    || humidity.is_some_and(|v| !v.is_finite())
                {
                    return Err(Rejection::Invalid(format!(
                        "reading from `{s}` is not a finite number"
                    )));
                }
                Resolved::Reading {
                    sensor,
                    celsius: *celsius,
                    humidity: *humidity,
                }
            }
            EventKind::SensorFault { sensor: s, reason } => Resolved::SensorFault {
                sensor: sensor(s)?,
                reason,
            },
            EventKind::AgentStarted => Resolved::AgentStarted,
            EventKind::Acknowledge { alert_id, by } => {
                if !matches!(self.m.people.get(by.as_str()), Some(Person::Staff(_))) {
                    return Err(unknown("member of staff", by));
                }
                let open = self.s.open_alerts(&self.m);
                match open
                    .iter()
                    .find(|(a, ..)| a.id == *alert_id)
                    .map(|(a, ..)| &a.ack)
                {
                    None => return Err(unknown("open alert", alert_id)),
                    Some(Some((who, _))) => {
                        return Err(Rejection::Invalid(format!(
                            "alert `{alert_id}` is already acknowledged by `{who}`"
                        )))
                    }
                    Some(None) => Resolved::Acknowledge { alert_id, by },
                }
            }
        })
    }

    fn apply(&mut self, ev: Resolved<'_>, now: Dt, out: &mut Vec<Transition>) {
        match ev {
            Resolved::Badge { reader, card } => self.badge(reader, card, now, out),
            Resolved::Door { door, state } => self.door(door, state, now, out),
            Resolved::ExitButton { door } => self.s.doors[door].last_grant = Some(now),
            Resolved::Attendance {
                person,
                action,
                room,
                by,
            } => self.attendance(person, action, room, by, now, out),
            Resolved::Reading {
                sensor,
                celsius,
                humidity,
            } => self.reading(sensor, celsius, humidity, now, out),
            Resolved::SensorFault { sensor, reason } => {
                self.fault(sensor, json!({ "reason": reason }), now, out)
            }
            // Handled before the clock advances (see `on_event`).
            Resolved::AgentStarted => {}
            Resolved::Acknowledge { alert_id, by } => self.acknowledge(alert_id, by, now, out),
        }
    }

    fn acknowledge(&mut self, alert_id: &str, by: &str, now: Dt, out: &mut Vec<Transition>) {
        // The alert may have been resolved by a timer that fell due before `now`.
        let Some((active, ty, subject)) = self.s.active_mut(&self.m, alert_id) else {
            return;
        };
        active.ack = Some((by.to_string(), now));
        let t = self.transition(
            ty,
            &subject,
            alert_id,
            AlertState::Acknowledged,
            now,
            json!({ "by": by }),
        );
        out.push(t);
    }

    fn badge(&mut self, reader_id: &str, card: &str, now: Dt, out: &mut Vec<Transition>) {
        let reader = &self.m.readers[reader_id];
        let Some(holder) = self.m.cards.get(card).copied() else {
            let a = self.raise(
                AlertType::BadgeDenied,
                reader_id,
                now,
                json!({ "card": card }),
                out,
            );
            drop(a);
            return;
        };
        match (reader.purpose, holder) {
            (ReaderPurpose::Access, _) => {
                if let Some(d) = reader.door {
                    self.s.doors[d].last_grant = Some(now);
                }
            }
            (ReaderPurpose::Attendance, CardHolder::Staff(i)) => {
                let from = self.s.staff_room[i];
                self.s.staff_room[i] = match from {
                    Some(_) => None,
                    None => Some(self.m.staff[i].home),
                };
                self.reevaluate([from, self.s.staff_room[i]], now, out);
            }
            (ReaderPurpose::Room, CardHolder::Staff(i)) => {
                let from = self.s.staff_room[i];
                self.s.staff_room[i] = reader.room;
                self.reevaluate([from, reader.room], now, out);
            }
            // A guardian's card only opens doors.
            (_, CardHolder::Guardian) => {}
        }
    }

    fn door(&mut self, d: usize, state: DoorState, now: Dt, out: &mut Vec<Transition>) {
        let id = self.m.doors[d].clone();
        let window = self.m.rules.door_grant_window;
        let door = &mut self.s.doors[d];
        match state {
            DoorState::Open if !door.open => {
                door.open = true;
                door.opened_at = Some(now);
                let granted = door
                    .last_grant
                    .is_some_and(|g| g <= now && now - g <= window);
                if !granted {
                    let a = self.raise(AlertType::DoorForced, &id, now, Map::new().into(), out);
                    self.s.doors[d].forced = Some(a);
                }
            }
            DoorState::Closed if door.open => {
                door.open = false;
                door.opened_at = None;
                let forced = door.forced.take();
                let held = door.held.take();
                if let Some(a) = forced {
                    self.resolve_alert(AlertType::DoorForced, &id, a, now, json!({}), out);
                }
                if let Some(a) = held {
                    self.resolve_alert(AlertType::DoorHeldOpen, &id, a, now, json!({}), out);
                }
            }
            // Open when open, closed when closed: nothing changes.
            _ => {}
        }
    }

    fn attendance(
        &mut self,
        person: Person,
        action: AttendanceAction,
        room: Option<usize>,
        by: Option<&str>,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        use AttendanceAction::*;
        match person {
            Person::Child(c) => {
                let from = self.s.child_room[c];
                let to = match (action, from) {
                    (CheckIn, None) => Some(room.unwrap_or(self.m.children[c].home)),
                    (CheckOut, Some(_)) => None,
                    (Move, Some(_)) => room,
                    // Already in, already out, or moving a child who is not here.
                    _ => return,
                };
                self.s.child_room[c] = to;
                if action == CheckOut {
                    let child = &self.m.children[c];
                    let authorised = by.is_some_and(|g| child.guardians.contains(g));
                    if !authorised {
                        let id = child.id.clone();
                        let details = match by {
                            Some(b) => json!({ "by": b }),
                            None => json!({}),
                        };
                        self.raise(AlertType::UnauthorizedPickup, &id, now, details, out);
                    }
                    if let Some(a) = self.s.not_picked_up[c].take() {
                        let id = self.m.children[c].id.clone();
                        self.resolve_alert(
                            AlertType::ChildNotCheckedOut,
                            &id,
                            a,
                            now,
                            json!({}),
                            out,
                        );
                    }
                }
                self.reevaluate([from, to], now, out);
            }
            Person::Staff(i) => {
                let from = self.s.staff_room[i];
                let to = match (action, from) {
                    (CheckIn, None) => Some(room.unwrap_or(self.m.staff[i].home)),
                    (CheckOut, Some(_)) => None,
                    (Move, _) => room,
                    _ => return,
                };
                self.s.staff_room[i] = to;
                self.reevaluate([from, to], now, out);
            }
            Person::Guardian => {}
        }
    }

    fn reading(
        &mut self,
        s: usize,
        celsius: Option<f64>,
        humidity: Option<f64>,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        let id = self.m.sensors[s].clone();
        // A reading of any kind shows the sensor is alive.
        self.s.sensors[s].last_reading = Some(now);
        if let Some(a) = self.s.sensors[s].stale.take() {
            self.resolve_alert(AlertType::SensorStale, &id, a, now, json!({}), out);
        }

        let t_bad = celsius.is_some_and(|c| !(-20.0..=60.0).contains(&c));
        let h_bad = humidity.is_some_and(|h| !(0.0..=100.0).contains(&h));
        if t_bad || h_bad {
            let mut d = Map::new();
            d.insert("reason".into(), "out_of_range".into());
            if let Some(c) = celsius {
                d.insert("celsius".into(), c.into());
            }
            if let Some(h) = humidity {
                d.insert("humidity".into(), h.into());
            }
            self.fault(s, Value::Object(d), now, out);
            return;
        }
        if let Some(a) = self.s.sensors[s].fault.take() {
            self.resolve_alert(AlertType::SensorFault, &id, a, now, json!({}), out);
        }

        let t = self.m.rules.temperature.clone();
        let h = self.m.rules.humidity.clone();
        if let Some(c) = celsius {
            self.s.sensors[s].celsius = Some(c);
            self.condition(
                s,
                Limit::TempHigh,
                c > t.max_c,
                c <= t.max_c - t.hysteresis_c,
                c,
                now,
                out,
            );
            self.condition(
                s,
                Limit::TempLow,
                c < t.min_c,
                c >= t.min_c + t.hysteresis_c,
                c,
                now,
                out,
            );
        }
        if let Some(v) = humidity {
            self.s.sensors[s].humidity = Some(v);
            self.condition(
                s,
                Limit::HumHigh,
                v > h.max_pct,
                v <= h.max_pct - h.hysteresis_pct,
                v,
                now,
                out,
            );
            self.condition(
                s,
                Limit::HumLow,
                v < h.min_pct,
                v >= h.min_pct + h.hysteresis_pct,
                v,
                now,
                out,
            );
        }
    }

    /// One sustained condition: `breached` starts (or continues) the sustain period;
    /// anything else ends it, and `cleared` (past the hysteresis) resolves a raised alert.
    #[allow(clippy::too_many_arguments)]
    fn condition(
        &mut self,
        s: usize,
        limit: Limit,
        breached: bool,
        cleared: bool,
        value: f64,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        let cond = self.s.sensors[s].cond_mut(limit);
        if breached {
            if cond.alert.is_none() && cond.since.is_none() {
                cond.since = Some(now);
            }
            return;
        }
        cond.since = None;
        if cleared {
            if let Some(a) = cond.alert.take() {
                let id = self.m.sensors[s].clone();
                let details = value_details(limit, value);
                self.resolve_alert(limit.alert_type(), &id, a, now, details, out);
            }
        }
    }

    fn fault(&mut self, s: usize, details: Value, now: Dt, out: &mut Vec<Transition>) {
        if self.s.sensors[s].fault.is_none() {
            let id = self.m.sensors[s].clone();
            let a = self.raise(AlertType::SensorFault, &id, now, details, out);
            self.s.sensors[s].fault = Some(a);
        }
    }

    // ---- rooms ------------------------------------------------------------------------

    fn reevaluate(&mut self, rooms: [Option<usize>; 2], now: Dt, out: &mut Vec<Transition>) {
        let [a, b] = rooms;
        if let Some(a) = a {
            self.evaluate_room(a, now, out);
        }
        if let Some(b) = b.filter(|b| Some(*b) != a) {
            self.evaluate_room(b, now, out);
        }
    }

    fn refresh_bands(&mut self, now: Dt) {
        let date = now.with_timezone(&self.m.tz).date_naive();
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

    fn figures(&mut self, r: usize, now: Dt) -> RoomFigures {
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
        let (mut counted, mut present) = (0, 0);
        for (i, room) in self.s.staff_room.iter().enumerate() {
            if *room == Some(r) {
                present += 1;
                if self.m.staff[i].counts {
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

    fn evaluate_room(&mut self, r: usize, now: Dt, out: &mut Vec<Transition>) {
        let f = self.figures(r, now);
        let id = f.room.clone();
        let ratio =
            json!({ "children": f.children, "staff": f.counted_staff, "required": f.required });

        let short = f.children > 0 && f.counted_staff < f.required;
        let room = &mut self.s.rooms[r];
        if short {
            if room.ratio.alert.is_none() && room.ratio.since.is_none() {
                room.ratio.since = Some(now);
            }
        } else {
            room.ratio.since = None;
            if let Some(a) = room.ratio.alert.take() {
                self.resolve_alert(AlertType::RatioBreach, &id, a, now, ratio, out);
            }
        }

        let alone = f.children > 0 && f.counted_staff == 0;
        let room = &mut self.s.rooms[r];
        if alone {
            if room.unsupervised.alert.is_none() && room.unsupervised.since.is_none() {
                room.unsupervised.since = Some(now);
            }
        } else {
            room.unsupervised.since = None;
            if let Some(a) = room.unsupervised.alert.take() {
                let d = json!({ "children": f.children });
                self.resolve_alert(AlertType::UnsupervisedChildren, &id, a, now, d, out);
            }
        }

        let over = f.capacity.is_some_and(|c| f.children > c);
        let d = json!({ "children": f.children, "capacity": f.capacity });
        match (over, self.s.rooms[r].capacity.take()) {
            (true, None) => {
                let a = self.raise(AlertType::CapacityExceeded, &id, now, d, out);
                self.s.rooms[r].capacity = Some(a);
            }
            (true, Some(a)) => self.s.rooms[r].capacity = Some(a),
            (false, Some(a)) => {
                self.resolve_alert(AlertType::CapacityExceeded, &id, a, now, d, out)
            }
            (false, None) => {}
        }
    }

    // ---- timers -----------------------------------------------------------------------

    fn start_if_needed(&mut self, now: Dt) {
        if self.s.started.is_some() {
            return;
        }
        self.s.started = Some(now);
        self.s.clock = Some(now);
        self.s.next_pickup =
            Some(self.next_local(now, self.m.close, self.m.rules.pickup_grace, true));
        self.s.next_midnight =
            Some(self.next_local(now, chrono::NaiveTime::MIN, Duration::zero(), false));
    }

    /// The first moment at or after (`inclusive`) or strictly after `t` that is local time
    /// `at` plus `offset` on some local date.
    fn next_local(&self, t: Dt, at: chrono::NaiveTime, offset: Duration, inclusive: bool) -> Dt {
        let tz = self.m.tz;
        let mut date = t.with_timezone(&tz).date_naive() - Duration::days(1);
        loop {
            let local = NaiveDateTime::new(date, at);
            let instant = match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(x) => x,
                chrono::LocalResult::Ambiguous(x, _) => x,
                // In a daylight-saving gap: the same wall time an hour on.
                chrono::LocalResult::None => tz
                    .from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
                    .expect("an hour past a gap is a valid local time"),
            }
            .with_timezone(&Utc)
                + offset;
            if instant > t || (inclusive && instant == t) {
                return instant;
            }
            date = date.succ_opt().expect("dates stay in range");
        }
    }

    fn next_timer(&self) -> Option<(Dt, Timer)> {
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
        }
        for (i, door) in self.s.doors.iter().enumerate() {
            if door.held.is_none() {
                consider(
                    door.opened_at.map(|t| t + r.door_held_open),
                    Timer::DoorHeld(i),
                );
            }
        }
        for (i, s) in self.s.sensors.iter().enumerate() {
            if s.stale.is_none() {
                let base = match (s.last_reading, self.s.stale_base.or(self.s.started)) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                consider(base.map(|t| t + r.sensor_stale_after), Timer::Stale(i));
            }
            for limit in Limit::ALL {
                let sustain = match limit {
                    Limit::TempHigh | Limit::TempLow => r.temperature.sustain.as_chrono(),
                    Limit::HumHigh | Limit::HumLow => r.humidity.sustain.as_chrono(),
                };
                consider(s.cond(limit).due(sustain), Timer::Sustained(i, limit));
            }
        }
        consider(self.s.next_pickup, Timer::Pickup);
        consider(self.s.next_midnight, Timer::Midnight);
        best
    }

    fn advance(&mut self, to: Dt, out: &mut Vec<Transition>) {
        while let Some((due, timer)) = self.next_timer() {
            if due > to {
                break;
            }
            self.s.clock = Some(self.s.clock.map_or(due, |c| c.max(due)));
            self.fire(timer, due, out);
        }
        self.s.clock = Some(self.s.clock.map_or(to, |c| c.max(to)));
    }

    fn fire(&mut self, timer: Timer, due: Dt, out: &mut Vec<Transition>) {
        match timer {
            Timer::Ratio(r) => {
                let f = self.figures(r, due);
                let d = json!({ "children": f.children, "staff": f.counted_staff, "required": f.required });
                let a = self.raise(AlertType::RatioBreach, &f.room, due, d, out);
                self.s.rooms[r].ratio = Cond::raised(a);
            }
            Timer::Unsupervised(r) => {
                let f = self.figures(r, due);
                let d = json!({ "children": f.children });
                let a = self.raise(AlertType::UnsupervisedChildren, &f.room, due, d, out);
                self.s.rooms[r].unsupervised = Cond::raised(a);
            }
            Timer::DoorHeld(d) => {
                let id = self.m.doors[d].clone();
                let opened = self.s.doors[d].opened_at;
                let secs = opened.map(|o| (due - o).num_seconds()).unwrap_or(0);
                let a = self.raise(
                    AlertType::DoorHeldOpen,
                    &id,
                    due,
                    json!({ "open_for_s": secs }),
                    out,
                );
                self.s.doors[d].held = Some(a);
            }
            Timer::Stale(s) => {
                let id = self.m.sensors[s].clone();
                let last = self.s.sensors[s]
                    .last_reading
                    .map(|t| self.local(t).to_rfc3339());
                let a = self.raise(
                    AlertType::SensorStale,
                    &id,
                    due,
                    json!({ "last_reading": last }),
                    out,
                );
                self.s.sensors[s].stale = Some(a);
            }
            Timer::Sustained(s, limit) => {
                let id = self.m.sensors[s].clone();
                let sensor = &self.s.sensors[s];
                let value = match limit {
                    Limit::TempHigh | Limit::TempLow => sensor.celsius,
                    Limit::HumHigh | Limit::HumLow => sensor.humidity,
                };
                let d = value_details(limit, value.unwrap_or(f64::NAN));
                let a = self.raise(limit.alert_type(), &id, due, d, out);
                *self.s.sensors[s].cond_mut(limit) = Cond::raised(a);
            }
            Timer::Pickup => {
                for c in 0..self.m.children.len() {
                    if let (Some(room), None) = (self.s.child_room[c], &self.s.not_picked_up[c]) {
                        let id = self.m.children[c].id.clone();
                        let d = json!({ "room": self.m.rooms[room].id });
                        let a = self.raise(AlertType::ChildNotCheckedOut, &id, due, d, out);
                        self.s.not_picked_up[c] = Some(a);
                    }
                }
                self.s.next_pickup =
                    Some(self.next_local(due, self.m.close, self.m.rules.pickup_grace, false));
            }
            Timer::Midnight => {
                // Children may have moved to an older age band at midnight.
                for r in 0..self.m.rooms.len() {
                    self.evaluate_room(r, due, out);
                }
                self.s.next_midnight =
                    Some(self.next_local(due, chrono::NaiveTime::MIN, Duration::zero(), false));
            }
        }
    }

    // ---- transitions ------------------------------------------------------------------

    fn raise(
        &mut self,
        ty: AlertType,
        subject: &str,
        at: Dt,
        details: Value,
        out: &mut Vec<Transition>,
    ) -> Active {
        self.s.next_alert_no += 1;
        let id = format!("A{}-{}", at.format("%Y%m%dT%H%M%SZ"), self.s.next_alert_no);
        out.push(self.transition(ty, subject, &id, AlertState::Raised, at, details));
        Active {
            id,
            raised: at,
            ack: None,
        }
    }

    fn resolve_alert(
        &self,
        ty: AlertType,
        subject: &str,
        a: Active,
        at: Dt,
        details: Value,
        out: &mut Vec<Transition>,
    ) {
        out.push(self.transition(ty, subject, &a.id, AlertState::Resolved, at, details));
    }

    fn transition(
        &self,
        ty: AlertType,
        subject: &str,
        id: &str,
        state: AlertState,
        at: Dt,
        details: Value,
    ) -> Transition {
        Transition {
            ts: self.local(at),
            alert_id: id.to_string(),
            alert_type: ty,
            severity: ty.severity(),
            state,
            subject: subject.to_string(),
            details: match details {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }
}

fn value_details(limit: Limit, v: f64) -> Value {
    match limit {
        Limit::TempHigh | Limit::TempLow => json!({ "celsius": v }),
        Limit::HumHigh | Limit::HumLow => json!({ "humidity": v }),
    }
}
