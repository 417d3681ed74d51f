//! The configuration turned into lookup tables the rules use on every event.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;

use crate::config::{Config, HumidityRule, ReaderPurpose, TemperatureRule};
use crate::presets::Preset;

pub(crate) struct RoomM {
    pub id: String,
    pub capacity: Option<u32>,
}

pub(crate) struct ReaderM {
    pub purpose: ReaderPurpose,
    pub door: Option<usize>,
    pub room: Option<usize>,
}

pub(crate) struct ChildM {
    pub id: String,
    pub birth: NaiveDate,
    pub home: usize,
    pub guardians: HashSet<String>,
}

pub(crate) struct StaffM {
    pub id: String,
    pub home: usize,
    pub counts: bool,
}

#[derive(Clone, Copy)]
pub(crate) enum Person {
    Child(usize),
    Staff(usize),
    Guardian,
}

#[derive(Clone, Copy)]
pub(crate) enum CardHolder {
    Staff(usize),
    Guardian,
}

pub(crate) struct RulesM {
    pub ratio_grace: Duration,
    pub unsupervised_grace: Duration,
    pub door_held_open: Duration,
    pub door_grant_window: Duration,
    pub sensor_stale_after: Duration,
    pub pickup_grace: Duration,
    pub temperature: TemperatureRule,
    pub humidity: HumidityRule,
}

pub(crate) struct Model {
    pub tz: Tz,
    pub preset: Preset,
    pub close: NaiveTime,
    pub rules: RulesM,
    pub rooms: Vec<RoomM>,
    pub room_ix: HashMap<String, usize>,
    pub doors: Vec<String>,
    pub door_ix: HashMap<String, usize>,
    pub readers: HashMap<String, ReaderM>,
    pub sensors: Vec<String>,
    pub sensor_ix: HashMap<String, usize>,
    pub children: Vec<ChildM>,
    pub staff: Vec<StaffM>,
    pub people: HashMap<String, Person>,
    pub cards: HashMap<String, CardHolder>,
}

impl Model {
    /// Builds the tables. Fails (rather than panics) on a dangling reference, for a
    /// configuration that skipped validation.
    pub fn build(cfg: &Config) -> Result<Model, String> {
        let index = |ids: Vec<&String>| -> HashMap<String, usize> {
            ids.into_iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect()
        };
        let room_ix = index(cfg.rooms.iter().map(|r| &r.id).collect());
        let door_ix = index(cfg.doors.iter().map(|d| &d.id).collect());
        let sensor_ix = index(cfg.sensors.iter().map(|s| &s.id).collect());
        let room = |id: &str, what: &str| {
            room_ix
                .get(id)
                .copied()
                .ok_or_else(|| format!("{what} refers to unknown room `{id}`"))
        };

        let mut readers = HashMap::new();
        for r in &cfg.readers {
            let door =
                match &r.door {
                    Some(d) => Some(*door_ix.get(d).ok_or_else(|| {
                        format!("reader `{}` refers to unknown door `{d}`", r.id)
                    })?),
                    None => None,
                };
            let room = match &r.room {
                Some(x) => Some(room(x, &format!("reader `{}`", r.id))?),
                None => None,
            };
            readers.insert(
                r.id.clone(),
                ReaderM {
                    purpose: r.purpose,
                    door,
                    room,
                },
            );
        }

        let mut people = HashMap::new();
        let mut cards = HashMap::new();
        let mut children = Vec::new();
        for (i, c) in cfg.children.iter().enumerate() {
            children.push(ChildM {
                id: c.id.clone(),
                birth: c.birth_date,
                home: room(&c.room, &format!("child `{}`", c.id))?,
                guardians: c.guardians.iter().cloned().collect(),
            });
            people.insert(c.id.clone(), Person::Child(i));
        }
        let mut staff = Vec::new();
        for (i, s) in cfg.staff.iter().enumerate() {
            staff.push(StaffM {
                id: s.id.clone(),
                home: room(&s.room, &format!("staff `{}`", s.id))?,
                counts: s.counts_in_ratio(),
            });
            people.insert(s.id.clone(), Person::Staff(i));
            if let Some(card) = &s.card {
                cards.insert(card.clone(), CardHolder::Staff(i));
            }
        }
        for g in &cfg.guardians {
            people.insert(g.id.clone(), Person::Guardian);
            if let Some(card) = &g.card {
                cards.insert(card.clone(), CardHolder::Guardian);
            }
        }

        let r = &cfg.rules;
        Ok(Model {
            tz: cfg.facility.timezone,
            preset: cfg.facility.ratio_preset,
            close: cfg.facility.close.0,
            rules: RulesM {
                ratio_grace: r.ratio_grace.as_chrono(),
                unsupervised_grace: r.unsupervised_grace.as_chrono(),
                door_held_open: r.door_held_open.as_chrono(),
                door_grant_window: r.door_grant_window.as_chrono(),
                sensor_stale_after: r.sensor_stale_after.as_chrono(),
                pickup_grace: r.pickup_grace.as_chrono(),
                temperature: r.temperature.clone(),
                humidity: r.humidity.clone(),
            },
            rooms: cfg
                .rooms
                .iter()
                .map(|r| RoomM {
                    id: r.id.clone(),
                    capacity: r.capacity,
                })
                .collect(),
            room_ix,
            doors: cfg.doors.iter().map(|d| d.id.clone()).collect(),
            door_ix,
            readers,
            sensors: cfg.sensors.iter().map(|s| s.id.clone()).collect(),
            sensor_ix,
            children,
            staff,
            people,
            cards,
        })
    }
}
