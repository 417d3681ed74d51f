//! References between the parts of the file: home rooms, the rooms of sensors, the doors and
//! rooms of readers, the guardians of children — and that there is a room at all.

use super::{Doc, Findings, Found};
use crate::config::{Config, ReaderPurpose};

impl Findings<'_> {
    /// Reports `key` when `id` names no element of `kind`.
    fn exists(&mut self, key: String, kind: &str, what: &str, id: &str, ids: &[&str]) {
        if !ids.contains(&id) && !self.doc.lost(kind, id) {
            let known = if ids.is_empty() {
                format!("none is defined in [[{kind}]]")
            } else {
                format!("defined: {}", ids.join(", "))
            };
            self.report(key, format!("unknown {what} `{id}` ({known})"));
        }
    }
}

/// The ids of each kind that can be named.
struct Ids<'c> {
    rooms: Vec<&'c str>,
    doors: Vec<&'c str>,
    staff: Vec<&'c str>,
    guardians: Vec<&'c str>,
}

/// Every name of a room, door or guardian exists, and a reader has what its purpose needs.
pub(super) fn check_references(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let ids = Ids {
        rooms: cfg.rooms.iter().map(|r| r.id.as_str()).collect(),
        doors: cfg.doors.iter().map(|d| d.id.as_str()).collect(),
        staff: cfg.staff.iter().map(|s| s.id.as_str()).collect(),
        guardians: cfg.guardians.iter().map(|g| g.id.as_str()).collect(),
    };
    let mut f = Findings::new(doc);
    for (i, s) in cfg.staff.iter().enumerate() {
        let key = format!("{}.room", doc.elem("staff", i));
        f.exists(key, "rooms", "room", &s.room, &ids.rooms);
    }
    for (i, s) in cfg.sensors.iter().enumerate() {
        let key = format!("{}.room", doc.elem("sensors", i));
        f.exists(key, "rooms", "room", &s.room, &ids.rooms);
    }
    check_readers(&mut f, cfg, &ids);
    check_children(&mut f, cfg, &ids);
    f.done()
}

/// A reader of purpose `access` names a door, one of purpose `room` a room; any door or room
/// a reader names exists.
fn check_readers(f: &mut Findings, cfg: &Config, ids: &Ids) {
    for (i, r) in cfg.readers.iter().enumerate() {
        let elem = f.doc.elem("readers", i);
        let needs = match r.purpose {
            ReaderPurpose::Access if r.door.is_none() => Some(("door", "access")),
            ReaderPurpose::Room if r.room.is_none() => Some(("room", "room")),
            ReaderPurpose::SleepCheck if r.room.is_none() => Some(("room", "sleep_check")),
            _ => None,
        };
        if let Some((key, purpose)) = needs {
            f.report(
                format!("{elem}.{key}"),
                format!("a reader of purpose \"{purpose}\" needs a {key}"),
            );
        }
        if let Some(door) = &r.door {
            f.exists(format!("{elem}.door"), "doors", "door", door, &ids.doors);
        }
        if let Some(room) = &r.room {
            f.exists(format!("{elem}.room"), "rooms", "room", room, &ids.rooms);
        }
    }
}

/// Before this date the system clock is not believable (a board that booted at 1970 with
/// no real-time clock): the birth-date check is skipped rather than refusing a good roster
/// and keeping the agent from starting until the clock is set.
const BELIEVABLE_CLOCK: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(2026, 1, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// A child's home room exists, and its guardians are defined in `[[guardians]]`, once each;
/// a `guardians` list, when written, is not empty; a child is born by today (in the
/// facility's time zone: the check reads the clock, as a birth date in the future can only
/// be a typo; under a clock before [`BELIEVABLE_CLOCK`] it is skipped).
fn check_children(f: &mut Findings, cfg: &Config, ids: &Ids) {
    let today = Some(
        chrono::Utc::now()
            .with_timezone(&cfg.facility.timezone)
            .date_naive(),
    )
    .filter(|d| *d >= BELIEVABLE_CLOCK)
    .unwrap_or(chrono::NaiveDate::MAX);
    for (i, c) in cfg.children.iter().enumerate() {
        let elem = f.doc.elem("children", i);
        f.exists(format!("{elem}.room"), "rooms", "room", &c.room, &ids.rooms);
        if c.birth_date > today {
            f.report(
                format!("{elem}.birth_date"),
                format!(
                    "birth date {} is in the future (today is {today} in {})",
                    c.birth_date, cfg.facility.timezone
                ),
            );
        }
        let list = format!("{elem}.guardians");
        if c.guardians.is_empty() && f.doc.has(&list) {
            f.report(
                list.clone(),
                "an empty list: nobody may pick this child up (every check-out would raise \
                 unauthorized_pickup); name at least one guardian",
            );
        }
        for (j, g) in c.guardians.iter().enumerate() {
            let key = f.doc.elem(&list, j);
            if c.guardians[..j].contains(g) {
                f.report(key, format!("guardian `{g}` is listed twice"));
            } else if ids.staff.contains(&g.as_str()) && !ids.guardians.contains(&g.as_str()) {
                f.report(
                    key,
                    format!("`{g}` is a member of staff, not a guardian; define the adult in [[guardians]]"),
                );
            } else {
                f.exists(key, "guardians", "guardian", g, &ids.guardians);
            }
        }
    }
}

/// At least one room, and a room's capacity, when given, is at least 1.
pub(super) fn check_rooms(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    if cfg.rooms.is_empty() && !doc.damaged("rooms") {
        f.report(
            "rooms",
            "no rooms: at least one [[rooms]] is needed, or there is nothing to watch",
        );
    }
    for (i, r) in cfg.rooms.iter().enumerate() {
        if r.capacity == Some(0) {
            let key = format!("{}.capacity", doc.elem("rooms", i));
            f.report(
                key,
                "capacity must be at least 1 (leave it out to use the preset's group size)",
            );
        }
    }
    f.done()
}
