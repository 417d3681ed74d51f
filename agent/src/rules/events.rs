//! Events: their ids looked up ([`Engine::resolve`], which rejects and changes nothing),
//! then applied by one handler per kind (badge, door, attendance, reading, fault,
//! acknowledgement; naps and sleep checks in `naps`).

use super::model::{CardHolder, Limit, Person};
use super::transitions::{Acknowledged, Badge, Fault, Level, Nothing, Pickup};
use super::{Dt, Engine, Rejection};
use crate::alert::{AlertState, AlertType, Transition};
use crate::config::ReaderPurpose;
use crate::event::{
    AttendanceAction, DispositionAction, DoorState, EmergencyAction, EmergencyKind, EventKind,
    InputState, NapAction,
};

fn unknown(what: &'static str, id: &str) -> Rejection {
    Rejection::Unknown {
        what,
        id: id.to_string(),
    }
}

/// An event with its ids looked up: what `apply` acts on.
pub(super) enum Resolved<'e> {
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
    Nap {
        room: usize,
        action: NapAction,
    },
    SleepCheck {
        room: usize,
        by: &'e str,
    },
    Input {
        input: usize,
        state: InputState,
        test: bool,
    },
    Disposition {
        alert_id: &'e str,
        by: &'e str,
        action: DispositionAction,
    },
    Emergency {
        kind: EmergencyKind,
        action: EmergencyAction,
    },
    RollCall {
        person: &'e str,
    },
    HealthCheck {
        child: usize,
        celsius: Option<f64>,
        result: crate::event::HealthResult,
    },
    Absence {
        child: usize,
        date: chrono::NaiveDate,
        #[allow(dead_code)] // journalled; counted by the summary, not by the rules
        reason: crate::event::AbsenceReason,
    },
    Presence {
        staff: usize,
        state: crate::event::PresenceState,
    },
    AgentStarted,
    Acknowledge {
        alert_id: &'e str,
        by: &'e str,
    },
    /// Handled by `on_event` itself, before the order check.
    ClockJump,
    ConfigLoaded,
}

impl Resolved<'_> {
    pub fn is_agent_started(&self) -> bool {
        matches!(self, Resolved::AgentStarted)
    }
}

/// A sensor reading outside what the sensor can physically measure is a fault, not a hot
/// (or humid) room.
fn out_of_range(celsius: Option<f64>, humidity: Option<f64>) -> bool {
    celsius.is_some_and(|c| !(-20.0..=60.0).contains(&c))
        || humidity.is_some_and(|h| !(0.0..=100.0).contains(&h))
}

impl Engine {
    /// Looks up the event's ids; rejects it (changing nothing) when one is unknown or the
    /// event cannot apply.
    pub(super) fn resolve<'e>(&self, kind: &'e EventKind) -> Result<Resolved<'e>, Rejection> {
        Ok(match kind {
            EventKind::Badge { reader, card } => {
                if !self.m.readers.contains_key(reader) {
                    return Err(unknown("reader", reader));
                }
                Resolved::Badge { reader, card }
            }
            EventKind::Door { door, state } => Resolved::Door {
                door: self.door_ix(door)?,
                state: *state,
            },
            EventKind::ExitButton { door } => Resolved::ExitButton {
                door: self.door_ix(door)?,
            },
            EventKind::Attendance {
                person,
                action,
                room,
                by,
            } => self.resolve_attendance(person, *action, room.as_deref(), by.as_deref())?,
            EventKind::Reading {
                sensor,
                celsius,
                humidity,
            } => self.resolve_reading(sensor, *celsius, *humidity)?,
            EventKind::SensorFault { sensor, reason } => Resolved::SensorFault {
                sensor: self.sensor_ix(sensor)?,
                reason,
            },
            EventKind::Nap { room, action } => Resolved::Nap {
                room: self.room_ix(room)?,
                action: *action,
            },
            EventKind::SleepCheck { room, by } => {
                let room = self.room_ix(room)?;
                if !matches!(self.m.people.get(by.as_str()), Some(Person::Staff(_))) {
                    return Err(unknown("member of staff", by));
                }
                Resolved::SleepCheck { room, by }
            }
            EventKind::Input { input, state, test } => Resolved::Input {
                input: self.input_ix(input)?,
                state: *state,
                test: *test,
            },
            EventKind::Disposition {
                alert_id,
                by,
                action,
                ..
            } => {
                if !matches!(self.m.people.get(by.as_str()), Some(Person::Staff(_))) {
                    return Err(unknown("member of staff", by));
                }
                if self.disposable(alert_id).is_none() {
                    return Err(unknown("alert", alert_id));
                }
                Resolved::Disposition {
                    alert_id,
                    by,
                    action: *action,
                }
            }
            EventKind::Emergency { kind, action } => {
                self.check_emergency(*kind, *action)?;
                Resolved::Emergency {
                    kind: *kind,
                    action: *action,
                }
            }
            EventKind::RollCall { person } => {
                self.check_roll_call(person)?;
                Resolved::RollCall { person }
            }
            EventKind::HealthCheck {
                person,
                celsius,
                result,
                by,
            } => {
                if let Some(by) = by {
                    if !matches!(self.m.people.get(by.as_str()), Some(Person::Staff(_))) {
                        return Err(unknown("member of staff", by));
                    }
                }
                self.resolve_health_check(person, *celsius, *result)?
            }
            EventKind::Absence {
                person,
                date,
                reason,
            } => self.resolve_absence(person, *date, *reason)?,
            EventKind::Presence { person, state } => self.resolve_presence(person, *state)?,
            EventKind::AgentStarted => Resolved::AgentStarted,
            EventKind::Acknowledge { alert_id, by } => self.resolve_acknowledge(alert_id, by)?,
            EventKind::ClockJump { .. } => Resolved::ClockJump,
            // Applied by whoever drives the engine (`Engine::reload`), which has the file.
            EventKind::ConfigLoaded { .. } => Resolved::ConfigLoaded,
        })
    }

    fn door_ix(&self, id: &str) -> Result<usize, Rejection> {
        self.m
            .door_ix
            .get(id)
            .copied()
            .ok_or_else(|| unknown("door", id))
    }

    fn room_ix(&self, id: &str) -> Result<usize, Rejection> {
        self.m
            .room_ix
            .get(id)
            .copied()
            .ok_or_else(|| unknown("room", id))
    }

    fn sensor_ix(&self, id: &str) -> Result<usize, Rejection> {
        self.m
            .sensor_ix
            .get(id)
            .copied()
            .ok_or_else(|| unknown("sensor", id))
    }

    fn resolve_attendance<'e>(
        &self,
        person: &'e str,
        action: AttendanceAction,
        room: Option<&'e str>,
        by: Option<&'e str>,
    ) -> Result<Resolved<'e>, Rejection> {
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
            Some(r) => Some(self.room_ix(r)?),
            None => None,
        };
        if action == AttendanceAction::Move && room.is_none() {
            return Err(Rejection::Invalid(format!(
                "`move` of `{person}` needs a `room`"
            )));
        }
        Ok(Resolved::Attendance {
            person: p,
            action,
            room,
            by,
        })
    }

    fn resolve_reading<'e>(
        &self,
        s: &'e str,
        celsius: Option<f64>,
        humidity: Option<f64>,
    ) -> Result<Resolved<'e>, Rejection> {
        let sensor = self.sensor_ix(s)?;
        if celsius.is_none() && humidity.is_none() {
            return Err(Rejection::Invalid(format!(
                "reading from `{s}` has neither `celsius` nor `humidity`"
            )));
        }
        if celsius.is_some_and(|v| !v.is_finite()) || humidity.is_some_and(|v| !v.is_finite()) {
            return Err(Rejection::Invalid(format!(
                "reading from `{s}` is not a finite number"
            )));
        }
        Ok(Resolved::Reading {
            sensor,
            celsius,
            humidity,
        })
    }

    fn resolve_acknowledge<'e>(
        &self,
        alert_id: &'e str,
        by: &'e str,
    ) -> Result<Resolved<'e>, Rejection> {
        if !matches!(self.m.people.get(by), Some(Person::Staff(_))) {
            return Err(unknown("member of staff", by));
        }
        let open = self.s.open_alerts(&self.m);
        match open
            .iter()
            .find(|(a, ..)| a.id == alert_id)
            .map(|(a, ..)| &a.ack)
        {
            None => Err(unknown("open alert", alert_id)),
            Some(Some((who, _))) => Err(Rejection::Invalid(format!(
                "alert `{alert_id}` is already acknowledged by `{who}`"
            ))),
            Some(None) => Ok(Resolved::Acknowledge { alert_id, by }),
        }
    }

    pub(super) fn apply(&mut self, ev: Resolved<'_>, now: Dt, out: &mut Vec<Transition>) {
        match ev {
            Resolved::Badge { reader, card } => self.badge(reader, card, now, out),
            Resolved::Door { door, state } => self.door(door, state, now, out),
            Resolved::ExitButton { door } => self.s.doors[door].last_grant = Some(now),
            Resolved::Attendance {
                person: Person::Child(c),
                action,
                room,
                by,
            } => self.child_attendance(c, action, room, by, now, out),
            Resolved::Attendance {
                person: Person::Staff(i),
                action,
                room,
                ..
            } => self.staff_attendance(i, action, room, now, out),
            // Rejected by `resolve`.
            Resolved::Attendance {
                person: Person::Guardian,
                ..
            } => {}
            Resolved::Reading {
                sensor,
                celsius,
                humidity,
            } => self.reading(sensor, celsius, humidity, now, out),
            Resolved::SensorFault { sensor, reason } => {
                let details = Fault {
                    reason,
                    celsius: None,
                    humidity: None,
                };
                self.fault(sensor, &details, now, out)
            }
            Resolved::Nap { room, action } => self.nap(room, action, now, out),
            Resolved::SleepCheck { room, by } => self.sleep_check(room, by, now, out),
            Resolved::Input { input, state, test } => self.input(input, state, test, now, out),
            Resolved::Disposition {
                alert_id,
                by,
                action,
            } => self.dispose(alert_id, by, action, now, out),
            Resolved::Emergency { kind, action } => self.emergency(kind, action, now, out),
            Resolved::RollCall { person } => self.account(person, now, out),
            Resolved::HealthCheck {
                child,
                celsius,
                result,
            } => self.health_check(child, celsius, result, now, out),
            Resolved::Absence { child, date, .. } => self.absence(child, date, now, out),
            Resolved::Presence { staff, state } => self.presence(staff, state, now, out),
            // Handled before the clock advances (see `on_event`).
            Resolved::AgentStarted | Resolved::ClockJump | Resolved::ConfigLoaded => {}
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
            &Acknowledged { by },
        );
        out.push(t);
    }

    fn badge(&mut self, reader_id: &str, card: &str, now: Dt, out: &mut Vec<Transition>) {
        let reader = &self.m.readers[reader_id];
        let Some(holder) = self.m.cards.get(card).copied() else {
            // One-shot: raised and never resolved, so the open alert is not kept.
            let _ = self.raise(AlertType::BadgeDenied, reader_id, now, &Badge { card }, out);
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
                self.staff_moved(i, from, now, out);
                self.reevaluate([from, self.s.staff_room[i]], now, out);
            }
            (ReaderPurpose::Room, CardHolder::Staff(i)) => {
                let from = self.s.staff_room[i];
                let to = reader.room;
                self.s.staff_room[i] = to;
                self.staff_moved(i, from, now, out);
                self.reevaluate([from, to], now, out);
            }
            (ReaderPurpose::SleepCheck, CardHolder::Staff(i)) => {
                if let Some(room) = reader.room {
                    let by = self.m.staff[i].id.clone();
                    self.sleep_check(room, &by, now, out);
                }
            }
            (ReaderPurpose::Assembly, CardHolder::Staff(i)) => {
                let id = self.m.staff[i].id.clone();
                self.account(&id, now, out);
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
                    let a = self.raise(AlertType::DoorForced, &id, now, &Nothing {}, out);
                    self.s.doors[d].forced = Some(a);
                }
            }
            DoorState::Closed if door.open => {
                door.open = false;
                door.opened_at = None;
                let forced = door.forced.take();
                let held = door.held.take();
                if let Some(a) = forced {
                    self.resolve_alert(AlertType::DoorForced, &id, a, now, &Nothing {}, out);
                }
                if let Some(a) = held {
                    self.resolve_alert(AlertType::DoorHeldOpen, &id, a, now, &Nothing {}, out);
                }
            }
            // Open when open, closed when closed: nothing changes.
            _ => {}
        }
    }

    fn child_attendance(
        &mut self,
        c: usize,
        action: AttendanceAction,
        room: Option<usize>,
        by: Option<&str>,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        use AttendanceAction::*;
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
            self.checked_out(c, by, now, out);
            self.health_checked_out(c, now, out);
        }
        if action == CheckIn {
            self.health_checked_in(c, now, out);
        }
        self.reevaluate([from, to], now, out);
    }

    /// A child left: flagged if not by one of their guardians, and no longer awaited.
    fn checked_out(&mut self, c: usize, by: Option<&str>, now: Dt, out: &mut Vec<Transition>) {
        let child = &self.m.children[c];
        let authorised = by.is_some_and(|g| child.guardians.contains(g));
        let id = child.id.clone();
        if !authorised {
            // One-shot: raised and never resolved.
            let _ = self.raise(AlertType::UnauthorizedPickup, &id, now, &Pickup { by }, out);
        }
        if let Some(a) = self.s.not_picked_up[c].take() {
            let ty = AlertType::ChildNotCheckedOut;
            self.resolve_alert(ty, &id, a, now, &Nothing {}, out);
        }
    }

    fn staff_attendance(
        &mut self,
        i: usize,
        action: AttendanceAction,
        room: Option<usize>,
        now: Dt,
        out: &mut Vec<Transition>,
    ) {
        use AttendanceAction::*;
        let from = self.s.staff_room[i];
        let to = match (action, from) {
            (CheckIn, None) => Some(room.unwrap_or(self.m.staff[i].home)),
            (CheckOut, Some(_)) => None,
            (Move, _) => room,
            _ => return,
        };
        self.s.staff_room[i] = to;
        self.staff_moved(i, from, now, out);
        self.reevaluate([from, to], now, out);
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
            self.resolve_alert(AlertType::SensorStale, &id, a, now, &Nothing {}, out);
        }
        if out_of_range(celsius, humidity) {
            let details = Fault {
                reason: "out_of_range",
                celsius,
                humidity,
            };
            self.fault(s, &details, now, out);
            return;
        }
        if let Some(a) = self.s.sensors[s].fault.take() {
            self.resolve_alert(AlertType::SensorFault, &id, a, now, &Nothing {}, out);
        }

        let t = self.m.rules.temperature.clone();
        let h = self.m.rules.humidity.clone();
        if let Some(c) = celsius {
            self.s.sensors[s].celsius = Some(c);
            let high = (c > t.max_c, c <= t.max_c - t.hysteresis_c);
            let low = (c < t.min_c, c >= t.min_c + t.hysteresis_c);
            self.condition(s, Limit::TempHigh, high, c, now, out);
            self.condition(s, Limit::TempLow, low, c, now, out);
        }
        if let Some(v) = humidity {
            self.s.sensors[s].humidity = Some(v);
            let high = (v > h.max_pct, v <= h.max_pct - h.hysteresis_pct);
            let low = (v < h.min_pct, v >= h.min_pct + h.hysteresis_pct);
            self.condition(s, Limit::HumHigh, high, v, now, out);
            self.condition(s, Limit::HumLow, low, v, now, out);
        }
    }

    /// One sustained condition, given as (`breached`, `cleared`): `breached` starts (or
    /// continues) the sustain period; anything else ends it, and `cleared` (past the
    /// hysteresis) resolves a raised alert.
    fn condition(
        &mut self,
        s: usize,
        limit: Limit,
        (breached, cleared): (bool, bool),
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
                let details = Level::of(limit, Some(value));
                self.resolve_alert(limit.alert_type(), &id, a, now, &details, out);
            }
        }
    }

    fn fault(&mut self, s: usize, details: &Fault<'_>, now: Dt, out: &mut Vec<Transition>) {
        if self.s.sensors[s].fault.is_none() {
            let id = self.m.sensors[s].clone();
            let a = self.raise(AlertType::SensorFault, &id, now, details, out);
            self.s.sensors[s].fault = Some(a);
        }
    }
}
