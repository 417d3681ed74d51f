//! The engine's state: everything indexed by position in the roster, which is fast.
//! `snapshot` keys the same state by ids for the journal.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::model::{Limit, Model};
use crate::alert::AlertType;
use crate::config::CertificateKind;
use crate::event::PresenceState;

type Dt = DateTime<Utc>;

/// A raised alert that has not been resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Active {
    pub id: String,
    pub raised: Dt,
    /// Who acknowledged it on the staff page, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<(String, Dt)>,
    /// The latest disposition recorded for it (一事一反馈): action, staff id, when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposed: Option<(crate::event::DispositionAction, String, Dt)>,
}

/// A condition that must hold for some time before its alert is raised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cond {
    /// When the condition started to hold, while its alert is not raised yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Dt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Active>,
}

impl Cond {
    pub fn raised(a: Active) -> Cond {
        Cond {
            since: None,
            alert: Some(a),
        }
    }

    /// When the alert falls due, if the condition is pending (never, past the end of
    /// time).
    pub fn due(&self, after: Duration) -> Option<Dt> {
        match (&self.alert, self.since) {
            (None, Some(since)) => since.checked_add_signed(after),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RoomS {
    #[serde(default)]
    pub ratio: Cond,
    #[serde(default)]
    pub unsupervised: Cond,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Active>,
    /// The nap under way, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nap: Option<NapS>,
}

/// A nap under way in a room, watched for `sleep_check_missed` (contract section 10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NapS {
    /// When the nap started.
    pub since: Dt,
    /// The latest sleep check during the nap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<Dt>,
    /// Where the room's interval is counted from: the nap's start, its latest check, or the
    /// moment children came back to a room that had none. `None` while the room has no
    /// children (nobody to check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<Dt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<Active>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DoorS {
    #[serde(default)]
    pub open: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<Dt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_grant: Option<Dt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced: Option<Active>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Active>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SensorS {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reading: Option<Dt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub celsius: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub humidity: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale: Option<Active>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Active>,
    #[serde(default)]
    pub temp_high: Cond,
    #[serde(default)]
    pub temp_low: Cond,
    #[serde(default)]
    pub hum_high: Cond,
    #[serde(default)]
    pub hum_low: Cond,
}

impl SensorS {
    pub fn cond(&self, l: Limit) -> &Cond {
        match l {
            Limit::TempHigh => &self.temp_high,
            Limit::TempLow => &self.temp_low,
            Limit::HumHigh => &self.hum_high,
            Limit::HumLow => &self.hum_low,
        }
    }

    pub fn cond_mut(&mut self, l: Limit) -> &mut Cond {
        match l {
            Limit::TempHigh => &mut self.temp_high,
            Limit::TempLow => &mut self.temp_low,
            Limit::HumHigh => &mut self.hum_high,
            Limit::HumLow => &mut self.hum_low,
        }
    }
}

/// A panic or fire input (contract section 10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct InputS {
    #[serde(default)]
    pub active: bool,
    /// The open `panic_button` or `fire_alarm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Active>,
    /// The latest test press.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_test: Option<Dt>,
    /// The open `panic_untested`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untested: Option<Active>,
}

/// The emergency under way, if any, and the drills (contract sections 9 and 10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Emergencies {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<EmergencyS>,
    /// When the latest drill ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<Dt>,
    /// The open `drill_overdue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue: Option<Active>,
}

impl Emergencies {
    pub fn is_empty(&self) -> bool {
        *self == Emergencies::default()
    }
}

/// An emergency under way and its roll call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EmergencyS {
    pub kind: crate::event::EmergencyKind,
    pub since: Dt,
    /// Everyone checked in at the start, by id (children and staff).
    pub expected: std::collections::BTreeSet<String>,
    /// Those of `expected` not accounted for yet.
    pub missing: std::collections::BTreeSet<String>,
    /// The open `roll_call_incomplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Active>,
}
/// A child's health checks (晨午检) and expected arrival (contract section 10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct HealthS {
    /// The child's latest check-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_in: Option<Dt>,
    /// Checked in since then with no health check yet (only with `health_check_within`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Dt>,
    /// The latest health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check: Option<Dt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Active>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<Active>,
    /// Local dates reported absent, today's and later ones.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub absent: std::collections::BTreeSet<NaiveDate>,
    /// The open `child_absent_unreported`, and the local date it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreported: Option<(Active, NaiveDate)>,
}

impl HealthS {
    pub fn is_default(&self) -> bool {
        *self == HealthS::default()
    }
}
/// An open `certificate_expiring`: which certificate, and the expiry it warned of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Expiring {
    pub kind: CertificateKind,
    pub expires: NaiveDate,
    pub alert: Active,
}

/// A recently resolved alert, which a disposition may still be recorded against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Recent {
    pub id: String,
    #[serde(rename = "type")]
    pub ty: AlertType,
    pub subject: String,
}

/// How many resolved alerts a disposition may still name.
pub(crate) const RECENT: usize = 64;

pub(crate) struct State {
    pub clock: Option<Dt>,
    pub started: Option<Dt>,
    /// The agent's latest start: sensors count as silent from here at the earliest.
    pub stale_base: Option<Dt>,
    pub next_alert_no: u64,
    pub child_room: Vec<Option<usize>>,
    pub staff_room: Vec<Option<usize>>,
    /// Per member of staff: on duty, on a break, at other work (meaningful while checked in).
    pub presence: Vec<PresenceState>,
    /// Per member of staff: the open `certificate_expiring` alerts.
    pub expiring: Vec<Vec<Expiring>>,
    pub rooms: Vec<RoomS>,
    pub doors: Vec<DoorS>,
    pub sensors: Vec<SensorS>,
    pub inputs: Vec<InputS>,
    pub emergencies: Emergencies,
    /// Resolved alerts, the latest last, at most [`RECENT`].
    pub recent: Vec<Recent>,
    pub not_picked_up: Vec<Option<Active>>,
    /// Per child: health checks and the expected arrival.
    pub health: Vec<HealthS>,
    /// The next `arrival_deadline` (only when it is set).
    pub next_arrival: Option<Dt>,
    /// The next `open`, when the daily checks (`panic_untested`) run.
    pub next_open: Option<Dt>,
    pub next_pickup: Option<Dt>,
    pub next_midnight: Option<Dt>,
    /// The latest local date ages were judged on. Ages are never judged on an earlier
    /// date: after a board boots at 1970 (no battery-backed clock) children keep the
    /// ages of the last believable date until the clock synchronises.
    pub age_date: Option<NaiveDate>,
}

impl State {
    pub fn empty(m: &Model) -> State {
        State {
            clock: None,
            started: None,
            stale_base: None,
            next_alert_no: 0,
            child_room: vec![None; m.children.len()],
            staff_room: vec![None; m.staff.len()],
            presence: vec![PresenceState::OnDuty; m.staff.len()],
            expiring: vec![Vec::new(); m.staff.len()],
            rooms: vec![RoomS::default(); m.rooms.len()],
            doors: vec![DoorS::default(); m.doors.len()],
            sensors: vec![SensorS::default(); m.sensors.len()],
            inputs: vec![InputS::default(); m.inputs.len()],
            emergencies: Emergencies::default(),
            recent: Vec::new(),
            not_picked_up: vec![None; m.children.len()],
            health: vec![HealthS::default(); m.children.len()],
            next_arrival: None,
            next_open: None,
            next_pickup: None,
            next_midnight: None,
            age_date: None,
        }
    }

    /// Every open alert (with who acknowledged it, if anyone), its type and its subject.
    pub fn open_alerts(&self, m: &Model) -> Vec<(Active, AlertType, String)> {
        let mut v = Vec::new();
        let mut push = |a: &Option<Active>, t: AlertType, subject: &str| {
            if let Some(a) = a {
                v.push((a.clone(), t, subject.to_string()));
            }
        };
        for (r, s) in m.rooms.iter().zip(&self.rooms) {
            push(&s.ratio.alert, AlertType::RatioBreach, &r.id);
            push(
                &s.unsupervised.alert,
                AlertType::UnsupervisedChildren,
                &r.id,
            );
            push(&s.capacity, AlertType::CapacityExceeded, &r.id);
            if let Some(nap) = &s.nap {
                push(&nap.missed, AlertType::SleepCheckMissed, &r.id);
            }
        }
        for (d, s) in m.doors.iter().zip(&self.doors) {
            push(&s.forced, AlertType::DoorForced, d);
            push(&s.held, AlertType::DoorHeldOpen, d);
        }
        for (c, a) in m.children.iter().zip(&self.not_picked_up) {
            push(a, AlertType::ChildNotCheckedOut, &c.id);
        }
        for (c, h) in m.children.iter().zip(&self.health) {
            push(&h.missing, AlertType::HealthCheckMissing, &c.id);
            push(&h.failed, AlertType::HealthCheckFailed, &c.id);
            let unreported = h.unreported.as_ref().map(|(a, _)| a.clone());
            push(&unreported, AlertType::ChildAbsentUnreported, &c.id);
        }
        for (id, s) in m.sensors.iter().zip(&self.sensors) {
            for l in Limit::ALL {
                push(&s.cond(l).alert, l.alert_type(), id);
            }
            push(&s.stale, AlertType::SensorStale, id);
            push(&s.fault, AlertType::SensorFault, id);
        }
        for (x, s) in m.inputs.iter().zip(&self.inputs) {
            push(&s.alert, x.kind.alert_type(), &x.id);
            push(&s.untested, AlertType::PanicUntested, &x.id);
        }
        let e = &self.emergencies;
        if let Some(c) = &e.current {
            push(&c.alert, AlertType::RollCallIncomplete, &m.facility);
        }
        push(&e.overdue, AlertType::DrillOverdue, &m.facility);
        for (x, list) in m.staff.iter().zip(&self.expiring) {
            for e in list {
                push(
                    &Some(e.alert.clone()),
                    AlertType::CertificateExpiring,
                    &x.id,
                );
            }
        }
        v
    }
}

impl State {
    /// The open alert with this id, for acknowledging it: the alert, its type and subject.
    pub fn active_mut(&mut self, m: &Model, id: &str) -> Option<(&mut Active, AlertType, String)> {
        let hit = |a: &Option<Active>| a.as_ref().is_some_and(|a| a.id == id);
        for (r, s) in m.rooms.iter().zip(self.rooms.iter_mut()) {
            if hit(&s.ratio.alert) {
                return Some((
                    s.ratio.alert.as_mut()?,
                    AlertType::RatioBreach,
                    r.id.clone(),
                ));
            }
            if hit(&s.unsupervised.alert) {
                let a = s.unsupervised.alert.as_mut()?;
                return Some((a, AlertType::UnsupervisedChildren, r.id.clone()));
            }
            if hit(&s.capacity) {
                return Some((
                    s.capacity.as_mut()?,
                    AlertType::CapacityExceeded,
                    r.id.clone(),
                ));
            }
            if let Some(nap) = s.nap.as_mut().filter(|n| hit(&n.missed)) {
                let a = nap.missed.as_mut()?;
                return Some((a, AlertType::SleepCheckMissed, r.id.clone()));
            }
        }
        for (d, s) in m.doors.iter().zip(self.doors.iter_mut()) {
            if hit(&s.forced) {
                return Some((s.forced.as_mut()?, AlertType::DoorForced, d.clone()));
            }
            if hit(&s.held) {
                return Some((s.held.as_mut()?, AlertType::DoorHeldOpen, d.clone()));
            }
        }
        for (c, a) in m.children.iter().zip(self.not_picked_up.iter_mut()) {
            if hit(a) {
                return Some((a.as_mut()?, AlertType::ChildNotCheckedOut, c.id.clone()));
            }
        }
        for (c, h) in m.children.iter().zip(self.health.iter_mut()) {
            if hit(&h.missing) {
                let a = h.missing.as_mut()?;
                return Some((a, AlertType::HealthCheckMissing, c.id.clone()));
            }
            if hit(&h.failed) {
                let a = h.failed.as_mut()?;
                return Some((a, AlertType::HealthCheckFailed, c.id.clone()));
            }
            if let Some((a, _)) = h.unreported.as_mut().filter(|(a, _)| a.id == id) {
                return Some((a, AlertType::ChildAbsentUnreported, c.id.clone()));
            }
        }
        for (x, s) in m.sensors.iter().zip(self.sensors.iter_mut()) {
            for l in Limit::ALL {
                if hit(&s.cond(l).alert) {
                    return Some((s.cond_mut(l).alert.as_mut()?, l.alert_type(), x.clone()));
                }
            }
            if hit(&s.stale) {
                return Some((s.stale.as_mut()?, AlertType::SensorStale, x.clone()));
            }
            if hit(&s.fault) {
                return Some((s.fault.as_mut()?, AlertType::SensorFault, x.clone()));
            }
        }
        for (x, s) in m.inputs.iter().zip(self.inputs.iter_mut()) {
            if hit(&s.alert) {
                return Some((s.alert.as_mut()?, x.kind.alert_type(), x.id.clone()));
            }
            if hit(&s.untested) {
                return Some((s.untested.as_mut()?, AlertType::PanicUntested, x.id.clone()));
            }
        }
        let e = &mut self.emergencies;
        if let Some(c) = e.current.as_mut().filter(|c| hit(&c.alert)) {
            let a = c.alert.as_mut()?;
            return Some((a, AlertType::RollCallIncomplete, m.facility.clone()));
        }
        if hit(&e.overdue) {
            let a = e.overdue.as_mut()?;
            return Some((a, AlertType::DrillOverdue, m.facility.clone()));
        }
        for (x, list) in m.staff.iter().zip(self.expiring.iter_mut()) {
            if let Some(e) = list.iter_mut().find(|e| e.alert.id == id) {
                return Some((&mut e.alert, AlertType::CertificateExpiring, x.id.clone()));
            }
        }
        None
    }
}
