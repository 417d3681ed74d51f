//! Storage pressure: the daemon's own `storage_pressure` alert, raised when the outbox is
//! over its cap with nothing left to drop and resolved once it is not. Its open alert is
//! kept in the journal's meta table so that a restart resolves the same alert.

use chrono::{DateTime, Utc};

use super::outbound::Outbound;
use super::record::Recorder;
use super::CoreError;
use crate::alert::{AlertState, AlertType, Transition};
use crate::rules::Engine;

type Dt = DateTime<Utc>;

/// Meta key of the open `storage_pressure` alert.
pub(super) const PRESSURE_KEY: crate::journal::MetaKey = crate::journal::MetaKey::StoragePressure;

/// The open alert as the journal keeps it.
pub(super) fn restore(value: Option<String>) -> Option<(String, Dt)> {
    value.and_then(|v| serde_json::from_str::<(String, Dt)>(&v).ok())
}

/// After a batch that enqueued something: raises or resolves the alert as the outbox
/// said, journalling and enqueueing the transition in the batch.
pub(super) fn check(
    engine: &Engine,
    open: &mut Option<(String, Dt)>,
    pressure: bool,
    clock: Dt,
    rec: &mut Recorder<'_, '_>,
    up: &mut Outbound<'_>,
) -> Result<(), CoreError> {
    let Some(t) = transition(engine, open, pressure, clock) else {
        return Ok(());
    };
    up.alert(&t, false)?;
    let v = open
        .as_ref()
        .map(|p| serde_json::to_string(p).unwrap_or_default());
    rec.batch()
        .set_meta(&PRESSURE_KEY, v.as_deref().unwrap_or(""))?;
    rec.record([t])?;
    Ok(())
}

fn transition(
    engine: &Engine,
    open: &mut Option<(String, Dt)>,
    pressure: bool,
    at: Dt,
) -> Option<Transition> {
    let state = match (pressure, open.is_some()) {
        (true, false) => {
            *open = Some((format!("P{}", at.format("%Y%m%dT%H%M%S%.3fZ")), at));
            AlertState::Raised
        }
        (false, true) => AlertState::Resolved,
        _ => return None,
    };
    let (id, _) = open.clone()?;
    if state == AlertState::Resolved {
        *open = None;
    }
    Some(Transition {
        ts: engine.local(at),
        alert_id: id,
        alert_type: AlertType::StoragePressure,
        severity: AlertType::StoragePressure.severity(),
        state,
        subject: "outbox".into(),
        details: serde_json::Map::new(),
    })
}

/// Meta key of the open `storage_pressure` alert for the storage itself.
pub(super) const DISK_KEY: crate::journal::MetaKey = crate::journal::MetaKey::DiskPressure;

/// The open `storage_pressure` alert for the storage (subject [`DISK_SUBJECT`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct DiskAlert {
    pub id: String,
    pub since: Dt,
    /// Raised critical: alerts themselves were at risk, or the journal was failing.
    pub critical: bool,
}

/// The subject of the storage's own `storage_pressure` alert; the outbox's cap keeps
/// its own (`outbox`), so the two are told apart.
pub const DISK_SUBJECT: &str = "storage";

pub(super) fn restore_disk(value: Option<String>) -> Option<DiskAlert> {
    value.and_then(|v| serde_json::from_str(&v).ok())
}

/// Raises, resolves or re-raises (when its severity changes) the storage's alert as the
/// core loop's reading says, journalling and enqueueing each transition in the batch.
pub(super) fn disk(
    engine: &Engine,
    open: &mut Option<DiskAlert>,
    note: &crate::input::StorageNote,
    clock: Dt,
    rec: &mut Recorder<'_, '_>,
    up: &mut Outbound<'_>,
) -> Result<(), CoreError> {
    let want = note.pressure;
    if open.as_ref().map(|o| o.critical) == want {
        return Ok(());
    }
    let details = disk_details(note);
    let mut out = Vec::new();
    if let Some(o) = open.take() {
        out.push(disk_transition(
            engine,
            &o,
            AlertState::Resolved,
            clock,
            &details,
        ));
    }
    if let Some(critical) = want {
        let o = DiskAlert {
            id: format!("D{}", clock.format("%Y%m%dT%H%M%S%.3fZ")),
            since: clock,
            critical,
        };
        out.push(disk_transition(
            engine,
            &o,
            AlertState::Raised,
            clock,
            &details,
        ));
        *open = Some(o);
    }
    for t in &out {
        up.alert(t, false)?;
    }
    let v = open
        .as_ref()
        .map(|o| serde_json::to_string(o).unwrap_or_default());
    rec.batch()
        .set_meta(&DISK_KEY, v.as_deref().unwrap_or(""))?;
    rec.record(out)?;
    Ok(())
}

fn disk_details(n: &crate::input::StorageNote) -> serde_json::Map<String, serde_json::Value> {
    let serde_json::Value::Object(m) = serde_json::json!({
        "dir": n.dir,
        "level": n.level,
        "headroom_bytes": n.headroom,
        "fs_free_bytes": n.fs_free,
        "used_bytes": n.used,
        "max_bytes": n.max_bytes,
        "journal": if n.journal_failing { "failing" } else { "ok" },
        "held": n.held,
    }) else {
        return serde_json::Map::new();
    };
    m
}

fn disk_transition(
    engine: &Engine,
    o: &DiskAlert,
    state: AlertState,
    at: Dt,
    details: &serde_json::Map<String, serde_json::Value>,
) -> Transition {
    Transition {
        ts: engine.local(at),
        alert_id: o.id.clone(),
        alert_type: AlertType::StoragePressure,
        severity: if o.critical {
            crate::alert::Severity::Critical
        } else {
            crate::alert::Severity::Warning
        },
        state,
        subject: DISK_SUBJECT.into(),
        details: details.clone(),
    }
}

impl super::Core {
    /// The daemon's own open alerts (`storage_pressure` of the outbox and of the storage),
    /// which the rules' engine does not hold, for the staff page's list of open alerts.
    pub fn daemon_alerts(&self) -> Vec<crate::rules::OpenAlert> {
        let alert = |id: &str, severity, subject: &str, raised| crate::rules::OpenAlert {
            alert_id: id.to_string(),
            alert_type: AlertType::StoragePressure,
            severity,
            subject: subject.to_string(),
            raised,
            acknowledged: None,
            disposed: None,
        };
        let mut out = Vec::new();
        if let Some((id, since)) = &self.pressure {
            out.push(alert(
                id,
                AlertType::StoragePressure.severity(),
                "outbox",
                *since,
            ));
        }
        if let Some(d) = &self.disk {
            let severity = if d.critical {
                crate::alert::Severity::Critical
            } else {
                crate::alert::Severity::Warning
            };
            out.push(alert(&d.id, severity, DISK_SUBJECT, d.since));
        }
        out
    }
}
