//! The live view as the page shows it to anyone on the network: room names, ids and
//! counts, never a person's name (those come from `/api/names`, for staff only).

use serde_json::{json, Map, Value};

use crate::alert::{AlertType, Severity};
use crate::config::{Config, Locale};
use crate::live::LiveView;
use crate::rules::{DoorFigures, NotCounted, OpenAlert, RoomFigures};

/// The page's language when the user has not chosen one.
pub fn default_language(cfg: &Config) -> &'static str {
    match cfg.facility.locale {
        Locale::En => "en",
        Locale::Zh | Locale::Bilingual => "zh",
    }
}

fn room_name<'c>(cfg: &'c Config, id: &'c str) -> &'c str {
    cfg.rooms
        .iter()
        .find(|r| r.id == id)
        .map_or(id, |r| r.name.as_str())
}

/// A human name for an alert's subject when it is a place or a device; a child subject
/// stays an id here.
fn subject_name(cfg: &Config, alert: AlertType, subject: &str) -> Option<String> {
    use AlertType::*;
    match alert {
        RatioBreach | UnsupervisedChildren | CapacityExceeded | SleepCheckMissed => cfg
            .rooms
            .iter()
            .find(|r| r.id == subject)
            .map(|r| r.name.clone()),
        DoorForced | DoorHeldOpen => cfg
            .doors
            .iter()
            .find(|d| d.id == subject)
            .and_then(|d| d.name.clone()),
        BadgeDenied => cfg
            .readers
            .iter()
            .find(|r| r.id == subject)
            .and_then(|r| r.name.clone()),
        TemperatureHigh | TemperatureLow | HumidityHigh | HumidityLow | SensorStale
        | SensorFault => cfg
            .sensors
            .iter()
            .find(|s| s.id == subject)
            .map(|s| room_name(cfg, &s.room).to_string()),
        PanicButton | FireAlarm | PanicUntested => cfg
            .inputs
            .iter()
            .find(|i| i.id == subject)
            .and_then(|i| i.name.clone()),
        RollCallIncomplete | DrillOverdue => Some(cfg.facility.name.clone()),
        StoragePressure => None,
        // A person: a name is for logged-in staff only (`/api/names`).
        UnauthorizedPickup
        | ChildNotCheckedOut
        | StaffNotQualified
        | CertificateExpiring
        | HealthCheckMissing
        | HealthCheckFailed
        | ChildAbsentUnreported => None,
    }
}

/// The public view: what `/api/view` returns and `/api/stream` sends.
pub fn public(cfg: &Config, view: &LiveView) -> Value {
    let bands: Vec<Value> = cfg
        .facility
        .ratio_preset
        .bands()
        .iter()
        .map(|b| json!({ "from": b.from_months, "to": b.to_months, "ratio": b.ratio }))
        .collect();
    let rooms: Vec<Value> = view.rooms.iter().map(|r| room(cfg, view, r)).collect();
    let doors: Vec<Value> = view.doors.iter().map(|d| door(cfg, d)).collect();
    let alerts: Vec<Value> = view.alerts.iter().map(|a| alert(cfg, a)).collect();
    json!({
        "facility": cfg.facility.name,
        "language": default_language(cfg),
        "clock": view.clock,
        "version": view.version,
        "bands": bands,
        "rooms": rooms,
        "doors": doors,
        "alerts": alerts,
        "inputs": super::inputs::listed(cfg),
        "emergency": super::emergency::public(cfg, view),
        // The agent itself: clock synchronised, configuration in force (a refused
        // reload by its number of problems only: they may quote the file), journal.
        "operations": view.operations,
    })
}

/// One room's card: its figures, its status in one word and its climate.
fn room(cfg: &Config, view: &LiveView, r: &RoomFigures) -> Value {
    // The room's climate: the first of its sensors with a reading.
    let sensors: Vec<&str> = cfg
        .sensors
        .iter()
        .filter(|s| s.room == r.room)
        .map(|s| s.id.as_str())
        .collect();
    let reading = view
        .sensors
        .iter()
        .filter(|s| sensors.contains(&s.sensor.as_str()))
        .find(|s| s.celsius.is_some() || s.humidity.is_some());
    // The room's status word is about its ratio and supervision; a missed sleep check
    // shows on the nap card instead.
    let critical = view.alerts.iter().any(|a| {
        a.subject == r.room
            && a.alert_type.severity() == Severity::Critical
            && a.alert_type != AlertType::SleepCheckMissed
    });
    let nap = view.naps.iter().find(|n| n.room == r.room).map(|n| {
        json!({
            "since": n.since,
            "last_check": n.last_check,
            "due": n.due,
            "missed": n.missed.is_some(),
        })
    });
    let status = if critical {
        "breach"
    } else if r.counted_staff < r.required {
        // Short, but not yet for the grace period.
        "short"
    } else if r.capacity.is_some_and(|c| r.children > c) {
        "over"
    } else {
        "ok"
    };
    json!({
        "id": r.room,
        "name": room_name(cfg, &r.room),
        "children": r.children,
        "by_band": r.by_band,
        "staff": r.counted_staff,
        "staff_present": r.staff_present,
        "required": r.required,
        "capacity": r.capacity,
        "status": status,
        "celsius": reading.and_then(|s| s.celsius),
        "humidity": reading.and_then(|s| s.humidity),
        "sensor_stale": reading.is_some_and(|s| s.stale),
        "nap": nap,
        "not_counted": not_counted(view, &r.room),
    })
}

/// Staff present in `room` but not counted, as counts only (the public view names nobody):
/// each member of staff once, under the first reason of break, other work, a required
/// certificate missing or expired, a role that does not count.
fn not_counted(view: &LiveView, room: &str) -> Value {
    let (mut on_break, mut other_work, mut certificate, mut role) = (0u32, 0u32, 0u32, 0u32);
    for s in view.staff.iter().filter(|s| s.room == room && !s.counted) {
        let has = |f: fn(&NotCounted) -> bool| s.not_counted.iter().any(f);
        if has(|r| matches!(r, NotCounted::Break)) {
            on_break += 1;
        } else if has(|r| matches!(r, NotCounted::OtherWork)) {
            other_work += 1;
        } else if has(|r| {
            matches!(
                r,
                NotCounted::CertificateMissing { .. } | NotCounted::CertificateExpired { .. }
            )
        }) {
            certificate += 1;
        } else {
            role += 1;
        }
    }
    json!({
        "break": on_break,
        "other_work": other_work,
        "certificate": certificate,
        "role": role,
    })
}

fn door(cfg: &Config, d: &DoorFigures) -> Value {
    let name = cfg
        .doors
        .iter()
        .find(|c| c.id == d.door)
        .and_then(|c| c.name.clone());
    json!({
        "id": d.door,
        "name": name,
        "open": d.open,
        "held": d.held.is_some(),
        "forced": d.forced.is_some(),
    })
}

fn alert(cfg: &Config, a: &OpenAlert) -> Value {
    json!({
        "alert_id": a.alert_id,
        "type": a.alert_type,
        "severity": a.severity,
        "subject": a.subject,
        "subject_name": subject_name(cfg, a.alert_type, &a.subject),
        "raised": a.raised,
        "acknowledged": a.acknowledged.as_ref().map(|(by, at)| json!({ "by": by, "at": at })),
        "disposed": a.disposed.as_ref().map(|(action, by, at)| json!({ "action": action, "by": by, "at": at })),
    })
}

/// A transition as the public may see it: an unknown card's number stays with staff.
pub fn public_transition(mut t: Value) -> Value {
    if let Some(details) = t.get_mut("details").and_then(Value::as_object_mut) {
        details.remove("card");
    }
    t
}

/// Names for logged-in staff: children and staff by id, and who is in which room.
pub fn names(cfg: &Config, view: &LiveView) -> Value {
    let children: Map<String, Value> = cfg
        .children
        .iter()
        .map(|c| (c.id.clone(), Value::from(c.name.clone())))
        .collect();
    let staff: Map<String, Value> = cfg
        .staff
        .iter()
        .map(|s| (s.id.clone(), Value::from(s.name.clone())))
        .collect();
    let mut rooms: Map<String, Value> = cfg
        .rooms
        .iter()
        .map(|r| (r.id.clone(), json!({ "children": [], "staff": [] })))
        .collect();
    for (person, room) in &view.occupancy {
        let kind = if children.contains_key(person) {
            "children"
        } else {
            "staff"
        };
        if let Some(list) = rooms
            .get_mut(room)
            .and_then(|r| r.get_mut(kind))
            .and_then(Value::as_array_mut)
        {
            list.push(Value::from(person.clone()));
        }
    }
    // Who counts, and why not, for each member of staff checked in (staff only: it says
    // whose certificate has run out).
    let presence: Map<String, Value> = view
        .staff
        .iter()
        .map(|s| {
            let v = json!({
                "room": s.room,
                "presence": s.presence,
                "counted": s.counted,
                "not_counted": s.not_counted,
            });
            (s.staff.clone(), v)
        })
        .collect();
    // A refused reload's problems may quote the file (cards, names): staff only.
    let problems: Vec<&String> = view
        .operations
        .refused
        .iter()
        .flat_map(|r| &r.problems)
        .collect();
    json!({ "children": children, "staff": staff, "rooms": rooms, "presence": presence,
            "config_problems": problems, "roll_call": super::emergency::missing(cfg, view) })
}
