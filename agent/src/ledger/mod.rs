//! The daily ledger (台账, issue 12 item 5): what an inspector asks to see on paper for one
//! local date — each child's arrivals and departures and who collected them, health checks
//! (晨午检), absences with their reasons (因病缺勤追踪), staff on duty with their
//! certificates, naps and sleep checks, and every alert with its acknowledgements and
//! dispositions (一事一反馈, notes included).
//!
//! It names people (from the configuration's roster) and carries free-text notes because it
//! never leaves the device: `nursery-agent report` prints it, and the staff page serves it
//! to logged-in staff only. Nothing of it goes upstream.
//!
//! - **Source.** Everything comes from the journal as it stands: the day's events replayed
//!   through a fresh [`Engine`] for who came and went (a staff badge at an attendance reader
//!   checks in *or* out, so only the rules can say which), and the raw event lines read by
//!   their contract JSON shape (section 9) for `health_check`, `absence`, `presence`,
//!   `sleep_check`, `nap` and `disposition` — an agent that does not act on a type yet
//!   still shows what was recorded. The alerts are the journalled transitions.
//! - **The day** is the local date in `facility.timezone` ([`crate::localtime::day_bounds`]),
//!   starting empty like the daily summary. An absence counts for the date it names, reported
//!   up to [`ABSENCE_LOOKBACK_DAYS`] before. An alert appears when any of its transitions
//!   falls on the day, with all of them (a raise the evening before, a resolve next morning).
//! - **Unknown people.** In health checks, absences, sleep checks and alerts, an id the roster
//!   no longer holds still appears, by id, marked. Attendance of such an id is refused by the
//!   rules built from today's roster, like any other line they refuse, and so is counted in
//!   [`Ledger::unreadable`].
//! - A journal line the ledger cannot read is counted in [`Ledger::unreadable`], not dropped
//!   silently.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{Config, ReaderPurpose, Staff};
use crate::event::{AttendanceAction, Event, EventKind};
use crate::journal::{day, ledger as q, JournalError, JournalReader};
use crate::localtime;
use crate::rules::Engine;

pub mod csv;
pub mod html;
mod labels;
pub mod tables;
#[cfg(test)]
mod tests;

pub use labels::{alert_label, code_label};

/// How long before the day an `absence` for it may have been reported.
pub const ABSENCE_LOOKBACK_DAYS: i64 = 62;

/// How long after the day a disposition of one of its alerts is looked for.
pub const DISPOSITION_LOOKAHEAD_DAYS: i64 = 31;

/// Why a ledger could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{0}")]
    Journal(#[from] JournalError),
    #[error("reading the journal for the ledger: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the configuration cannot drive the rules for the ledger: {0}")]
    Rules(String),
    /// The journal holds nothing on that date.
    #[error("the journal {path} holds nothing on {date} ({holds}); is the date right, and is the storage directory the agent's? (days older than storage.keep_days are in the archive directory, as event logs)")]
    NoData {
        path: String,
        date: NaiveDate,
        holds: String,
    },
}

/// A person as the ledger names them: the roster's name, or `None` when the roster no
/// longer holds the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: Option<String>,
}

impl Person {
    /// `王老师` — or the id, marked, when the roster does not know it.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None if self.id.is_empty() => String::new(),
            None => format!("{} (不在花名册 not on the roster)", self.id),
        }
    }
}

/// One stay: from a check-in to the matching check-out (either may be missing: a stay
/// still open at the end of the record, or a check-out without a check-in on the day).
#[derive(Debug, Clone, PartialEq)]
pub struct Stay {
    pub arrived: Option<DateTime<FixedOffset>>,
    pub left: Option<DateTime<FixedOffset>>,
    /// Room id at arrival.
    pub room: String,
    /// Who collected the child (the check-out's `by`).
    pub collected_by: Option<Person>,
    /// Whether `collected_by` is among the child's guardians (`None` for staff, and for a
    /// stay not yet ended).
    pub authorized: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChildDay {
    pub child: Person,
    /// Home room id.
    pub room: String,
    pub stays: Vec<Stay>,
    /// The reason of the absence reported for the date, if any (`sick`, `personal`, `other`).
    pub absence: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub at: DateTime<FixedOffset>,
    pub child: Person,
    pub celsius: Option<f64>,
    /// `pass` or `refer`.
    pub result: String,
    pub by: Option<Person>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Absence {
    pub child: Person,
    pub reason: String,
    pub reported_at: DateTime<FixedOffset>,
}

/// One certificate on the roster, and whether it is valid on the ledger's date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub kind: String,
    pub expires: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StaffDay {
    pub staff: Person,
    pub role: String,
    /// Home room id.
    pub room: String,
    pub stays: Vec<Stay>,
    /// Presence changes (`on_duty`, `break`, `other_work`), in time order.
    pub presence: Vec<(DateTime<FixedOffset>, String)>,
    /// The roster's certificates; `None` while the configuration has no such key.
    pub certificates: Option<Vec<Certificate>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Nap {
    pub room: String,
    pub start: Option<DateTime<FixedOffset>>,
    pub end: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SleepCheck {
    pub at: DateTime<FixedOffset>,
    pub room: String,
    pub by: Person,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disposition {
    pub at: DateTime<FixedOffset>,
    pub by: Person,
    pub action: String,
    /// Free text; stays on the device.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub alert_id: String,
    pub alert_type: String,
    pub severity: String,
    /// The subject's id, and its name when it has one (a room, a door, a person).
    pub subject: String,
    pub subject_name: Option<String>,
    pub raised: Option<DateTime<FixedOffset>>,
    /// The raise's details, as `key=value` pairs.
    pub details: String,
    pub acknowledged: Vec<(DateTime<FixedOffset>, Person)>,
    pub dispositions: Vec<Disposition>,
    pub resolved: Option<DateTime<FixedOffset>>,
}

/// The ledger of one local date.
#[derive(Debug, Clone, PartialEq)]
pub struct Ledger {
    pub facility_id: String,
    pub facility_name: String,
    pub date: NaiveDate,
    pub timezone: Tz,
    /// Every child on the roster (in roster order), then any other child id seen.
    pub children: Vec<ChildDay>,
    pub health_checks: Vec<HealthCheck>,
    pub absences: Vec<Absence>,
    /// Staff who were checked in or recorded a presence on the day, in roster order.
    pub staff: Vec<StaffDay>,
    pub naps: Vec<Nap>,
    pub sleep_checks: Vec<SleepCheck>,
    pub alerts: Vec<AlertRecord>,
    /// Journal lines of the day that the ledger could not read.
    pub unreadable: u64,
    /// Room id → name, from the roster.
    pub room_names: HashMap<String, String>,
}

/// The ledger of `date` from the journal in the configured storage directory (read-only,
/// safe while the daemon runs).
pub fn from_storage(cfg: &Config, date: NaiveDate) -> Result<Ledger, LedgerError> {
    let reader = JournalReader::open(&cfg.storage.dir, std::time::Duration::from_secs(5))?;
    let conn = reader.connection();
    let (start, end) = bounds(cfg.facility.timezone, date);
    if !q::holds_any(conn, start, end)? {
        let tz = cfg.facility.timezone;
        let holds = match q::event_span(conn)? {
            Some((a, b)) => format!(
                "its events run from {} to {}",
                local_date(tz, a),
                local_date(tz, b)
            ),
            None => "it holds no events at all".to_string(),
        };
        return Err(LedgerError::NoData {
            path: reader.path().display().to_string(),
            date,
            holds,
        });
    }
    build(cfg, conn, date)
}

fn local_date(tz: Tz, ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| localtime::date_of(tz, t).to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// `[start, end)` of the local `date`, in UTC milliseconds.
fn bounds(tz: Tz, date: NaiveDate) -> (i64, i64) {
    let (s, e) = localtime::day_bounds(tz, date);
    (s.timestamp_millis(), e.timestamp_millis())
}

/// The certificates the roster gives `staff`.
fn certificates_of(staff: &Staff) -> Option<Vec<Certificate>> {
    Some(
        staff
            .certificates
            .iter()
            .map(|c| Certificate {
                kind: c.kind.as_str().into(),
                expires: c.expires,
            })
            .collect(),
    )
}

/// The ledger of `date` from the journal on `conn`.
pub fn build(
    cfg: &Config,
    conn: &rusqlite::Connection,
    date: NaiveDate,
) -> Result<Ledger, LedgerError> {
    let tz = cfg.facility.timezone;
    let (start, end) = bounds(tz, date);
    let mut b = Builder::new(cfg, tz)?;
    day::for_each_event(conn, start, end, |at, body| b.row(at, body))?;

    // Absences for the date, reported on it or before.
    let lookback = start - chrono::Duration::days(ABSENCE_LOOKBACK_DAYS).num_milliseconds();
    q::for_each_event_containing(conn, lookback, end, "\"absence\"", |_, body| {
        b.absence(body, date)
    })?;
    let transitions = q::transitions_of_alerts_in(conn, start, end)?;
    // Notes of dispositions: the disposition events from the first transition on.
    b.alerts(&transitions);
    if let Some(first) = b.alerts.values().filter_map(|a| a.first_ms).min() {
        // Dispositions come while an alert is open or soon after it: a month bounds the scan.
        let until = end
            .saturating_add(chrono::Duration::days(DISPOSITION_LOOKAHEAD_DAYS).num_milliseconds());
        q::for_each_event_containing(conn, first, until, "\"disposition\"", |_, body| {
            b.disposition(body)
        })?;
    }
    Ok(b.finish(cfg, date))
}

/// The JSON shapes of contract section 9, read from the raw line.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    ty: String,
    ts: DateTime<FixedOffset>,
}

#[derive(Deserialize)]
struct HealthCheckLine {
    person: String,
    #[serde(default)]
    celsius: Option<f64>,
    result: String,
    #[serde(default)]
    by: Option<String>,
}

#[derive(Deserialize)]
struct AbsenceLine {
    person: String,
    date: NaiveDate,
    reason: String,
}

#[derive(Deserialize)]
struct PresenceLine {
    person: String,
    state: String,
}

#[derive(Deserialize)]
struct NapLine {
    room: String,
    action: String,
}

#[derive(Deserialize)]
struct SleepCheckLine {
    room: String,
    by: String,
}

#[derive(Deserialize)]
struct DispositionLine {
    alert_id: String,
    by: String,
    action: String,
    #[serde(default)]
    note: Option<String>,
}

/// A journalled transition (contract section 4), the fields the ledger shows.
#[derive(Deserialize)]
struct TransitionLine {
    ts: DateTime<FixedOffset>,
    alert_id: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    severity: String,
    state: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    details: Map<String, Value>,
}

struct AlertAcc {
    rec: AlertRecord,
    first_ms: Option<i64>,
    /// Dispositions from `disposed` transitions, used when no disposition event is found.
    disposed: Vec<Disposition>,
}

struct Builder<'c> {
    cfg: &'c Config,
    tz: Tz,
    engine: Engine,
    /// Person id → room, as the engine last reported it.
    inside: HashMap<String, String>,
    stays: HashMap<String, Vec<Stay>>,
    presence: HashMap<String, Vec<(DateTime<FixedOffset>, String)>>,
    health_checks: Vec<HealthCheck>,
    absences: BTreeMap<String, Absence>,
    naps: Vec<Nap>,
    sleep_checks: Vec<SleepCheck>,
    alerts: BTreeMap<String, AlertAcc>,
    /// Alert ids in the order of their first transition.
    alert_order: Vec<String>,
    unreadable: u64,
    /// Staff card → staff id.
    cards: HashMap<&'c str, &'c str>,
    /// Ids of the `sleep_check` readers → their room.
    sleep_readers: HashMap<&'c str, &'c str>,
    children: HashMap<&'c str, usize>,
}

/// The raw types the ledger reads by their shape, whether or not the rules know them.
const RAW_TYPES: &[&str] = &[
    "health_check",
    "absence",
    "presence",
    "nap",
    "sleep_check",
    "disposition",
];

impl<'c> Builder<'c> {
    fn new(cfg: &'c Config, tz: Tz) -> Result<Self, LedgerError> {
        Ok(Builder {
            cfg,
            tz,
            engine: Engine::new(cfg).map_err(LedgerError::Rules)?,
            inside: HashMap::new(),
            stays: HashMap::new(),
            presence: HashMap::new(),
            health_checks: Vec::new(),
            absences: BTreeMap::new(),
            naps: Vec::new(),
            sleep_checks: Vec::new(),
            alerts: BTreeMap::new(),
            alert_order: Vec::new(),
            unreadable: 0,
            cards: cfg
                .staff
                .iter()
                .filter_map(|s| Some((s.card.as_deref()?, s.id.as_str())))
                .collect(),
            sleep_readers: cfg
                .readers
                .iter()
                .filter(|r| r.purpose == ReaderPurpose::SleepCheck)
                .filter_map(|r| Some((r.id.as_str(), r.room.as_deref()?)))
                .collect(),
            children: cfg
                .children
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id.as_str(), i))
                .collect(),
        })
    }

    fn local(&self, t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.tz).fixed_offset()
    }

    fn person(&self, id: &str) -> Person {
        let name = self
            .cfg
            .children
            .iter()
            .map(|c| (&c.id, &c.name))
            .chain(self.cfg.staff.iter().map(|s| (&s.id, &s.name)))
            .chain(self.cfg.guardians.iter().map(|g| (&g.id, &g.name)))
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n.clone());
        Person {
            id: id.to_string(),
            name,
        }
    }

    /// One journalled event row.
    fn row(&mut self, _at: i64, body: Option<&str>) {
        let Some(body) = body else {
            self.unreadable += 1;
            return;
        };
        let head: Option<Head> = serde_json::from_str(body).ok();
        let raw_ok = match &head {
            Some(h) if RAW_TYPES.contains(&h.ty.as_str()) => self.raw(h, body),
            _ => false,
        };
        match Event::parse(body) {
            Ok(ev) => self.replay(&ev),
            Err(_) if raw_ok => {}
            Err(_) => self.unreadable += 1,
        }
    }

    /// A line of one of [`RAW_TYPES`]; whether it had the contract's shape.
    fn raw(&mut self, head: &Head, body: &str) -> bool {
        let at = self.local(head.ts);
        match head.ty.as_str() {
            "health_check" => match serde_json::from_str::<HealthCheckLine>(body) {
                Ok(l) => {
                    let check = HealthCheck {
                        at,
                        child: self.person(&l.person),
                        celsius: l.celsius,
                        result: l.result,
                        by: l.by.as_deref().map(|b| self.person(b)),
                    };
                    self.health_checks.push(check);
                    true
                }
                Err(_) => false,
            },
            "presence" => match serde_json::from_str::<PresenceLine>(body) {
                Ok(l) => {
                    self.presence
                        .entry(l.person)
                        .or_default()
                        .push((at, l.state));
                    true
                }
                Err(_) => false,
            },
            "nap" => match serde_json::from_str::<NapLine>(body) {
                Ok(l) => {
                    self.nap(&l.room, &l.action, at);
                    true
                }
                Err(_) => false,
            },
            "sleep_check" => match serde_json::from_str::<SleepCheckLine>(body) {
                Ok(l) => {
                    let by = self.person(&l.by);
                    self.sleep_checks.push(SleepCheck {
                        at,
                        room: l.room,
                        by,
                    });
                    true
                }
                Err(_) => false,
            },
            // Read on their own passes (`absence`, `disposition`); here only checked.
            "absence" => serde_json::from_str::<AbsenceLine>(body).is_ok(),
            "disposition" => serde_json::from_str::<DispositionLine>(body).is_ok(),
            _ => false,
        }
    }

    fn nap(&mut self, room: &str, action: &str, at: DateTime<FixedOffset>) {
        match action {
            "start" => self.naps.push(Nap {
                room: room.to_string(),
                start: Some(at),
                end: None,
            }),
            _ => match self
                .naps
                .iter_mut()
                .rev()
                .find(|n| n.room == room && n.end.is_none())
            {
                Some(n) => n.end = Some(at),
                None => self.naps.push(Nap {
                    room: room.to_string(),
                    start: None,
                    end: Some(at),
                }),
            },
        }
    }

    /// An event the rules know: replayed, and who came and went noted.
    fn replay(&mut self, ev: &Event) {
        if self.engine.on_event(ev).is_err() {
            self.unreadable += 1;
            return;
        }
        let Some(ts) = ev.ts else { return };
        let at = self.local(ts);
        match &ev.kind {
            EventKind::Attendance {
                person,
                action: AttendanceAction::CheckOut,
                by,
                ..
            } => self.moved(at, Some((person.as_str(), by.as_deref()))),
            EventKind::Attendance { .. } => self.moved(at, None),
            EventKind::Badge { reader, card } => {
                self.moved(at, None);
                if let (Some(room), Some(staff)) = (
                    self.sleep_readers.get(reader.as_str()),
                    self.cards.get(card.as_str()),
                ) {
                    let by = self.person(staff);
                    self.sleep_checks.push(SleepCheck {
                        at,
                        room: room.to_string(),
                        by,
                    });
                }
            }
            _ => {}
        }
    }

    /// Compares who is in with who was; `checkout` is the check-out event's person and `by`.
    fn moved(&mut self, at: DateTime<FixedOffset>, checkout: Option<(&str, Option<&str>)>) {
        let now: HashMap<String, String> = self.engine.occupancy().into_iter().collect();
        for (id, room) in &now {
            if !self.inside.contains_key(id) {
                self.stays.entry(id.clone()).or_default().push(Stay {
                    arrived: Some(at),
                    left: None,
                    room: room.clone(),
                    collected_by: None,
                    authorized: None,
                });
            }
        }
        let gone: Vec<String> = self
            .inside
            .keys()
            .filter(|id| !now.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            let by = checkout
                .filter(|(p, _)| *p == id)
                .and_then(|(_, by)| by)
                .map(|b| self.person(b));
            let authorized = self.children.get(id.as_str()).map(|&i| {
                by.as_ref()
                    .is_some_and(|b| self.cfg.children[i].guardians.contains(&b.id))
            });
            let room = self.inside.get(&id).cloned().unwrap_or_default();
            let stays = self.stays.entry(id).or_default();
            match stays.last_mut().filter(|s| s.left.is_none()) {
                Some(s) => {
                    s.left = Some(at);
                    s.collected_by = by;
                    s.authorized = authorized;
                }
                None => stays.push(Stay {
                    arrived: None,
                    left: Some(at),
                    room,
                    collected_by: by,
                    authorized,
                }),
            }
        }
        self.inside = now;
    }

    fn absence(&mut self, body: &str, date: NaiveDate) {
        let (Ok(head), Ok(l)) = (
            serde_json::from_str::<Head>(body),
            serde_json::from_str::<AbsenceLine>(body),
        ) else {
            return;
        };
        if head.ty != "absence" || l.date != date {
            return;
        }
        // A later report for the same child and date replaces an earlier one.
        let absence = Absence {
            child: self.person(&l.person),
            reason: l.reason,
            reported_at: self.local(head.ts),
        };
        self.absences.insert(l.person, absence);
    }

    fn alerts(&mut self, lines: &[String]) {
        for line in lines {
            let Ok(t) = serde_json::from_str::<TransitionLine>(line) else {
                self.unreadable += 1;
                continue;
            };
            let at = self.local(t.ts);
            let by = t
                .details
                .get("by")
                .and_then(Value::as_str)
                .map(|b| self.person(b));
            if !self.alerts.contains_key(&t.alert_id) {
                self.alert_order.push(t.alert_id.clone());
                let subject_name = self.subject_name(&t.subject);
                self.alerts.insert(
                    t.alert_id.clone(),
                    AlertAcc {
                        rec: AlertRecord {
                            alert_id: t.alert_id.clone(),
                            alert_type: t.ty.clone(),
                            severity: t.severity.clone(),
                            subject: t.subject.clone(),
                            subject_name,
                            raised: None,
                            details: String::new(),
                            acknowledged: Vec::new(),
                            dispositions: Vec::new(),
                            resolved: None,
                        },
                        first_ms: None,
                        disposed: Vec::new(),
                    },
                );
            }
            let acc = self.alerts.get_mut(&t.alert_id).expect("inserted above");
            let ms = t.ts.timestamp_millis();
            acc.first_ms = Some(acc.first_ms.map_or(ms, |f| f.min(ms)));
            match t.state.as_str() {
                "raised" => {
                    acc.rec.raised = Some(at);
                    acc.rec.details = details_text(&t.details);
                }
                "acknowledged" => acc.rec.acknowledged.push((
                    at,
                    by.unwrap_or_else(|| Person {
                        id: String::new(),
                        name: None,
                    }),
                )),
                "disposed" => acc.disposed.push(Disposition {
                    at,
                    by: by.unwrap_or_else(|| Person {
                        id: String::new(),
                        name: None,
                    }),
                    action: t
                        .details
                        .get("action")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    note: None,
                }),
                "resolved" => acc.rec.resolved = Some(at),
                _ => {}
            }
        }
    }

    fn disposition(&mut self, body: &str) {
        let (Ok(head), Ok(l)) = (
            serde_json::from_str::<Head>(body),
            serde_json::from_str::<DispositionLine>(body),
        ) else {
            return;
        };
        if head.ty != "disposition" {
            return;
        }
        let at = self.local(head.ts);
        let by = self.person(&l.by);
        if let Some(acc) = self.alerts.get_mut(&l.alert_id) {
            acc.rec.dispositions.push(Disposition {
                at,
                by,
                action: l.action,
                note: l.note.filter(|n| !n.is_empty()),
            });
        }
    }

    /// The name of a room, door, input or person with this id.
    fn subject_name(&self, id: &str) -> Option<String> {
        let cfg = self.cfg;
        cfg.rooms
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.name.clone())
            .or_else(|| {
                cfg.doors
                    .iter()
                    .find(|d| d.id == id)
                    .and_then(|d| d.name.clone())
            })
            .or_else(|| {
                cfg.inputs
                    .iter()
                    .find(|i| i.id == id)
                    .and_then(|i| i.name.clone())
            })
            .or_else(|| self.person(id).name)
    }

    fn finish(mut self, cfg: &Config, date: NaiveDate) -> Ledger {
        let mut children: Vec<ChildDay> = cfg
            .children
            .iter()
            .map(|c| ChildDay {
                child: Person {
                    id: c.id.clone(),
                    name: Some(c.name.clone()),
                },
                room: c.room.clone(),
                stays: self.stays.remove(&c.id).unwrap_or_default(),
                absence: self.absences.get(&c.id).map(|a| a.reason.clone()),
            })
            .collect();
        let mut staff: Vec<StaffDay> = cfg
            .staff
            .iter()
            .filter_map(|s| {
                let stays = self.stays.remove(&s.id).unwrap_or_default();
                let presence = self.presence.remove(&s.id).unwrap_or_default();
                (!stays.is_empty() || !presence.is_empty()).then(|| StaffDay {
                    staff: Person {
                        id: s.id.clone(),
                        name: Some(s.name.clone()),
                    },
                    role: s.role.as_str().to_string(),
                    room: s.room.clone(),
                    stays,
                    presence,
                    certificates: certificates_of(s),
                })
            })
            .collect();
        // Ids the roster no longer holds: by id, in id order.
        let mut others: Vec<(String, Vec<Stay>)> = self.stays.drain().collect();
        others.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, stays) in others {
            let guessed_child = stays.iter().any(|s| s.collected_by.is_some());
            let person = Person { id, name: None };
            if guessed_child {
                children.push(ChildDay {
                    child: person,
                    room: String::new(),
                    stays,
                    absence: None,
                });
            } else {
                let presence = self.presence.remove(&person.id).unwrap_or_default();
                staff.push(StaffDay {
                    staff: person,
                    role: String::new(),
                    room: String::new(),
                    stays,
                    presence,
                    certificates: None,
                });
            }
        }
        let alerts = self
            .alert_order
            .iter()
            .filter_map(|id| self.alerts.remove(id))
            .map(|mut a| {
                if a.rec.dispositions.is_empty() {
                    a.rec.dispositions = a.disposed;
                }
                a.rec
            })
            .collect();
        let mut absences: Vec<Absence> = self.absences.into_values().collect();
        absences.sort_by_key(|a| {
            (
                self.children
                    .get(a.child.id.as_str())
                    .copied()
                    .unwrap_or(usize::MAX),
                a.child.id.clone(),
            )
        });
        Ledger {
            facility_id: cfg.facility.id.clone(),
            facility_name: cfg.facility.name.clone(),
            date,
            timezone: self.tz,
            children,
            health_checks: self.health_checks,
            absences,
            staff,
            naps: self.naps,
            sleep_checks: self.sleep_checks,
            alerts,
            unreadable: self.unreadable,
            room_names: cfg
                .rooms
                .iter()
                .map(|r| (r.id.clone(), r.name.clone()))
                .collect(),
        }
    }
}

/// `children=4, staff=1, required=2`: a transition's details, in key order.
fn details_text(details: &Map<String, Value>) -> String {
    details
        .iter()
        .filter(|(k, _)| k.as_str() != "by")
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Ledger {
    /// The name of the room with this id (the id when the roster lacks it).
    pub fn room<'a>(&'a self, id: &'a str) -> &'a str {
        self.room_names.get(id).map_or(id, String::as_str)
    }

    /// `HH:MM:SS` for a time on the ledger's date, `YYYY-MM-DD HH:MM:SS` otherwise.
    pub fn time(&self, t: &DateTime<FixedOffset>) -> String {
        if t.date_naive() == self.date {
            t.format("%H:%M:%S").to_string()
        } else {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
    }

    /// Whether the certificate is valid on the ledger's date (up to and including `expires`).
    pub fn valid(&self, c: &Certificate) -> bool {
        c.expires >= self.date
    }
}
