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
