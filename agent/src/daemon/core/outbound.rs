//! Outbound: what a batch puts in the outbox, in the batch's own transaction — every
//! transition as an alert message, and telemetry once a minute of the rules' clock. It
//! tallies what the outbox reports back (pressure, telemetry dropped) for the pressure
//! check at the end of the batch.

use std::collections::HashSet;

use chrono::{DateTime, DurationRound, Utc};
use rusqlite::Transaction;
use serde::Serialize;

use super::super::upstream;
use crate::alert::Transition;
use crate::config::Config;
use crate::outbox::{self, Kind, OutboxError};
use crate::rules::Engine;

type Dt = DateTime<Utc>;

/// The outbox side of one batch.
pub(super) struct Outbound<'a> {
    pub tx: &'a Transaction<'a>,
    pub cfg: &'a Config,
    pub cap: &'a outbox::Cap,
    pub person_ids: &'a HashSet<String>,
    /// Whether any enqueue of this batch reported pressure; `None` when nothing was
    /// enqueued.
    pub pressure_seen: Option<bool>,
    /// Telemetry rows the outbox dropped to stay under its cap.
    pub dropped: u64,
}

impl<'a> Outbound<'a> {
    pub fn new(
        tx: &'a Transaction<'a>,
        cfg: &'a Config,
        cap: &'a outbox::Cap,
        person_ids: &'a HashSet<String>,
    ) -> Self {
        Outbound {
            tx,
            cfg,
            cap,
            person_ids,
            pressure_seen: None,
            dropped: 0,
        }
    }

    fn note(&mut self, e: outbox::Enqueued) {
        self.pressure_seen = Some(self.pressure_seen.unwrap_or(false) || e.pressure);
        self.dropped += e.telemetry_dropped;
    }

    /// Enqueues a durable message and tallies the outcome.
    pub fn enqueue(
        &mut self,
        kind: Kind,
        id: &str,
        at: Dt,
        body: &(impl Serialize + ?Sized),
    ) -> Result<(), OutboxError> {
        let e = outbox::enqueue(self.tx, &self.cfg.facility.id, kind, id, at, body, self.cap)?;
        self.note(e);
        Ok(())
    }

    /// Enqueues a telemetry snapshot and tallies the outcome.
    pub fn telemetry(
        &mut self,
        at: Dt,
        body: &(impl Serialize + ?Sized),
    ) -> Result<(), OutboxError> {
        let e = outbox::enqueue_telemetry(self.tx, at, body, self.cap)?;
        self.note(e);
        Ok(())
    }

    /// An alert message, with personal data masked, for a transition. `tally` is false
    /// for the daemon's own `storage_pressure` alert, which must not feed the check that
    /// raised it.
    pub fn alert(&mut self, t: &Transition, tally: bool) -> Result<(), OutboxError> {
        let id = upstream::alert_message_id(t);
        let body = upstream::alert_body(t, self.person_ids);
        let e = outbox::enqueue(
            self.tx,
            &self.cfg.facility.id,
            Kind::Alert,
            &id,
            t.ts.to_utc(),
            &body,
            self.cap,
        )?;
        if tally {
            self.note(e);
        }
        if let (true, Some(seq)) = (is_urgent(t), e.seq) {
            outbox::mark_urgent(self.tx, seq)?;
        }
        Ok(())
    }

    /// A telemetry snapshot when the minute `next` has come (and the next one set).
    pub fn telemetry_if_due(
        &mut self,
        engine: &mut Engine,
        clock: Dt,
        next: &mut Option<Dt>,
    ) -> Result<(), OutboxError> {
        let minute = |t: Dt| t.duration_trunc(chrono::Duration::minutes(1)).unwrap_or(t);
        match *next {
            Some(due) if clock >= due => {
                let body = upstream::telemetry_body(self.cfg, engine, clock);
                self.telemetry(clock, &body)?;
                *next = Some(minute(clock) + chrono::Duration::minutes(1));
            }
            Some(_) => {}
            None => *next = Some(minute(clock) + chrono::Duration::minutes(1)),
        }
        Ok(())
    }
}

/// A panic button pressed or a fire alarm raised goes upstream ahead of any backlog
/// (issue 15.2); everything else keeps its place.
pub fn is_urgent(t: &Transition) -> bool {
    use crate::alert::{AlertState, AlertType};
    t.state == AlertState::Raised
        && matches!(t.alert_type, AlertType::PanicButton | AlertType::FireAlarm)
}
