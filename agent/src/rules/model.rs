//! The configuration turned into lookup tables the rules use on every event.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;

use crate::alert::AlertType;
use crate::config::{
    CertificateKind, Config, HumidityRule, InputKind, ReaderPurpose, Rules, TemperatureRule,
};
use crate::presets::Preset;

pub(crate) struct RoomM {
    pub id: String,
    pub capacity: Option<u32>,
    /// How long a nap may go without a sleep check: the room's own or the rules'.
    pub sleep_check_interval: Duration,
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
    /// The weekdays the child is expected (their own days the facility opens).
    pub days: HashSet<crate::config::DayName>,
}

pub(crate) struct StaffM {
    pub id: String,
    pub home: usize,
    /// Whether the role counts toward ratios (before presence and certificates).
    pub counts: bool,
    /// Certificate kind → last valid local date.
    pub certificates: BTreeMap<CertificateKind, NaiveDate>,
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

pub(crate) struct InputM {
    pub id: String,
    pub kind: InputKind,
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
    pub panic_test_every: Duration,
    pub roll_call_within: Duration,
    pub drill_every: Option<Duration>,
    pub health_check_within: Option<Duration>,
    pub fever_c: f64,
    pub arrival_deadline: Option<NaiveTime>,
    pub required_certificates: Vec<CertificateKind>,
    pub certificate_warning: Duration,
}

pub(crate) struct Model {
    /// The facility's id: the subject of `roll_call_incomplete` and `drill_overdue`.
    pub facility: String,
    pub tz: Tz,
    pub preset: Preset,
    pub open: NaiveTime,
    pub close: NaiveTime,
    pub rules: RulesM,
    pub rooms: Vec<RoomM>,
    pub room_ix: HashMap<String, usize>,
    pub doors: Vec<String>,
    pub door_ix: HashMap<String, usize>,
    pub readers: HashMap<String, ReaderM>,
    pub sensors: Vec<String>,
    pub sensor_ix: HashMap<String, usize>,
    pub inputs: Vec<InputM>,
    pub input_ix: HashMap<String, usize>,
    pub children: Vec<ChildM>,
    pub staff: Vec<StaffM>,
    pub people: HashMap<String, Person>,
    pub cards: HashMap<String, CardHolder>,
}

impl Model {
    /// Builds the tables. Fails (rather than panics) on a dangling reference, for a
    /// configuration that skipped validation.
    pub fn build(cfg: &Config) -> Result<Model, String> {
        let room_ix = index(cfg.rooms.iter().map(|r| &r.id));
        let door_ix = index(cfg.doors.iter().map(|d| &d.id));
        let sensor_ix = index(cfg.sensors.iter().map(|s| &s.id));
        let readers = readers(cfg, &room_ix, &door_ix)?;
        let roster = Roster::build(cfg, &room_ix)?;
        Ok(Model {
            facility: cfg.facility.id.clone(),
            tz: cfg.facility.timezone,
            preset: cfg.facility.ratio_preset,
            open: cfg.facility.open.0,
            close: cfg.facility.close.0,
            rules: RulesM::from_config(&cfg.rules),
            rooms: cfg
                .rooms
                .iter()
                .map(|r| RoomM {
                    id: r.id.clone(),
                    capacity: r.capacity,
                    sleep_check_interval: r
                        .sleep_check_interval
                        .unwrap_or(cfg.rules.sleep_check_interval)
                        .as_chrono(),
                })
                .collect(),
            room_ix,
            doors: cfg.doors.iter().map(|d| d.id.clone()).collect(),
            door_ix,
            readers,
            sensors: cfg.sensors.iter().map(|s| s.id.clone()).collect(),
            sensor_ix,
            inputs: cfg
                .inputs
                .iter()
                .map(|i| InputM {
                    id: i.id.clone(),
                    kind: i.kind,
                })
                .collect(),
            input_ix: index(cfg.inputs.iter().map(|i| &i.id)),
            children: roster.children,
            staff: roster.staff,
            people: roster.people,
            cards: roster.cards,
        })
    }
}

impl RulesM {
    fn from_config(r: &Rules) -> RulesM {
        RulesM {
            ratio_grace: r.ratio_grace.as_chrono(),
            unsupervised_grace: r.unsupervised_grace.as_chrono(),
            door_held_open: r.door_held_open.as_chrono(),
            door_grant_window: r.door_grant_window.as_chrono(),
            sensor_stale_after: r.sensor_stale_after.as_chrono(),
            pickup_grace: r.pickup_grace.as_chrono(),
            temperature: r.temperature.clone(),
            humidity: r.humidity.clone(),
            panic_test_every: r.panic_test_every.as_chrono(),
            roll_call_within: r.roll_call_within.as_chrono(),
            drill_every: r.drill_every.map(|d| d.as_chrono()),
            health_check_within: r.health_check_within.map(|d| d.as_chrono()),
            fever_c: r.fever_c,
            arrival_deadline: r.arrival_deadline.map(|t| t.0),
            required_certificates: r.required_certificates.clone(),
            certificate_warning: r.certificate_warning.as_chrono(),
        }
    }
}

/// Position by id.
fn index<'a>(ids: impl Iterator<Item = &'a String>) -> HashMap<String, usize> {
    ids.enumerate().map(|(i, id)| (id.clone(), i)).collect()
}

/// The position of room `id`, which `what` refers to.
fn room_of(room_ix: &HashMap<String, usize>, id: &str, what: &str) -> Result<usize, String> {
    room_ix
        .get(id)
        .copied()
        .ok_or_else(|| format!("{what} refers to unknown room `{id}`"))
}

fn readers(
    cfg: &Config,
    room_ix: &HashMap<String, usize>,
    door_ix: &HashMap<String, usize>,
) -> Result<HashMap<String, ReaderM>, String> {
    let mut readers = HashMap::new();
    for r in &cfg.readers {
        let door = match &r.door {
            Some(d) => Some(
                *door_ix
                    .get(d)
                    .ok_or_else(|| format!("reader `{}` refers to unknown door `{d}`", r.id))?,
            ),
            None => None,
        };
        let room = match &r.room {
            Some(x) => Some(room_of(room_ix, x, &format!("reader `{}`", r.id))?),
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
    Ok(readers)
}

/// The people on the roster: children, staff, everyone by id, and cards by number.
struct Roster {
    children: Vec<ChildM>,
    staff: Vec<StaffM>,
    people: HashMap<String, Person>,
    cards: HashMap<String, CardHolder>,
}

impl Roster {
    fn build(cfg: &Config, room_ix: &HashMap<String, usize>) -> Result<Roster, String> {
        let mut people = HashMap::new();
        let mut cards = HashMap::new();
        let mut children = Vec::new();
        for (i, c) in cfg.children.iter().enumerate() {
            children.push(ChildM {
                id: c.id.clone(),
                birth: c.birth_date,
                home: room_of(room_ix, &c.room, &format!("child `{}`", c.id))?,
                guardians: c.guardians.iter().cloned().collect(),
                days: crate::config::DayName::ALL
                    .iter()
                    .copied()
                    .filter(|d| c.expected_on(&cfg.facility, *d))
                    .collect(),
            });
            people.insert(c.id.clone(), Person::Child(i));
        }
        let mut staff = Vec::new();
        for (i, s) in cfg.staff.iter().enumerate() {
            staff.push(StaffM {
                id: s.id.clone(),
                home: room_of(room_ix, &s.room, &format!("staff `{}`", s.id))?,
                counts: s.counts_in_ratio(),
                certificates: s.certificates.iter().map(|c| (c.kind, c.expires)).collect(),
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
        Ok(Roster {
            children,
            staff,
            people,
            cards,
        })
    }
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
    pub const ALL: [Limit; 4] = [
        Limit::TempHigh,
        Limit::TempLow,
        Limit::HumHigh,
        Limit::HumLow,
    ];

    pub fn alert_type(self) -> AlertType {
        match self {
            Limit::TempHigh => AlertType::TemperatureHigh,
            Limit::TempLow => AlertType::TemperatureLow,
            Limit::HumHigh => AlertType::HumidityHigh,
            Limit::HumLow => AlertType::HumidityLow,
        }
    }

    /// Whether the limit is on temperature (else on humidity).
    pub fn is_temperature(self) -> bool {
        matches!(self, Limit::TempHigh | Limit::TempLow)
    }

    /// How long the condition must hold before its alert is raised.
    pub fn sustain(self, rules: &RulesM) -> Duration {
        if self.is_temperature() {
            rules.temperature.sustain.as_chrono()
        } else {
            rules.humidity.sustain.as_chrono()
        }
    }
}
