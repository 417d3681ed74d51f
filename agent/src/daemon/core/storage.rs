//! The storage budget, wired (contract section 11): the core loop polls it every
//! [`POLL_EVERY`], which reads the storage directory's size and the file system's free
//! space ([`StorageBudget`]) and, as the headroom shrinks, in this order:
//!
//! 1. drops the telemetry waiting in the outbox (counted as dropped, as over the outbox's
//!    cap; logged; `telemetry_dropped` in the MQTT status);
//! 2. deletes archives, oldest first;
//! 3. raises `storage_pressure` with subject `storage` — a warning while the archives
//!    are not enough, critical when alerts themselves are at risk
//!    ([`Pressure::AlertsAtRisk`]) or journal writes fail — locally and upstream, with
//!    the figures in its details. It resolves once the headroom is back
//!    ([`Pressure::Ok`], or [`Pressure::ShedTelemetry`] when nothing fails): the levels
//!    between raising and resolving keep it from flapping.
//!
//! The outbox's own cap keeps its `storage_pressure` alert with subject `outbox`: the two
//! say different things (the platform is away long enough to fill the outbox; the disk is
//! full), so they are two alerts.
//!
//! The alert is raised by the core as an input ([`Input::Storage`]) so that it is
//! journalled, held and re-executed in order like everything else. The journal's health
//! (ok / failing, items held) is published here too: to the health file `status` reads
//! and to the uplink's status.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::Core;
use crate::input::{Input, StorageNote};
use crate::journal::budget::{Pressure, StorageBudget};
use crate::journal::health::{self, JournalHealth};

/// How often the core loop reads the storage.
pub const POLL_EVERY: Duration = Duration::from_secs(5);

/// The budget and when it was last read.
pub(super) struct Watch {
    budget: StorageBudget,
    next: Instant,
}

impl Watch {
    pub fn new(cfg: &crate::config::Config) -> Watch {
        Watch {
            budget: StorageBudget::from_config(cfg),
            next: Instant::now(),
        }
    }
}

fn level_name(p: Pressure) -> &'static str {
    match p {
        Pressure::Ok => "ok",
        Pressure::ShedTelemetry => "shed_telemetry",
        Pressure::PruneArchives => "prune_archives",
        Pressure::AlertsAtRisk => "alerts_at_risk",
    }
}

/// The alert the level and the journal call for: `Some(critical)` or none, given the one
/// open (`open`, `Some(critical)`).
pub fn wanted(level: Pressure, journal_failing: bool, open: Option<bool>) -> Option<bool> {
    if journal_failing || level == Pressure::AlertsAtRisk {
        Some(true)
    } else if level == Pressure::PruneArchives {
        Some(false)
    } else if level == Pressure::ShedTelemetry && open.is_some() {
        // Not resolved until the headroom is clearly back; no longer critical.
        Some(false)
    } else {
        None
    }
}

impl Core {
    /// Every [`POLL_EVERY`]: reads the storage, relieves it as its level calls for, and
    /// returns the input that raises or resolves the storage's alert, when it changes.
    pub fn watch_storage(&mut self, now: DateTime<Utc>) -> Option<Input> {
        if Instant::now() < self.budget.next {
            return None;
        }
        self.budget.next = Instant::now() + POLL_EVERY;
        self.publish_health();
        // Telemetry is dropped through the journal: not while it cannot be written.
        let shed = self.hold.is_none();
        let budget = self.budget.budget.clone();
        let (reading, relieved) = match budget.relieve_with(&mut self.journal, now, shed) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "storage budget: cannot read the storage");
                return None;
            }
        };
        if relieved.telemetry_dropped > 0 {
            tracing::warn!(
                dropped = relieved.telemetry_dropped,
                headroom = reading.headroom,
                "storage budget: waiting telemetry dropped to make room"
            );
            if let Some(u) = &self.uplink {
                u.set_telemetry_dropped(u.telemetry_dropped() + relieved.telemetry_dropped);
            }
        }
        let open = self.disk.as_ref().map(|d| d.critical);
        let pressure = wanted(reading.level, self.hold.is_some(), open);
        if pressure == open {
            return None;
        }
        Some(Input::Storage(StorageNote {
            dir: budget.dir.display().to_string(),
            used: reading.used,
            fs_free: reading.fs_free,
            headroom: reading.headroom,
            max_bytes: budget.max_bytes,
            level: level_name(reading.level),
            pressure,
            journal_failing: self.hold.is_some(),
            held: self.held(),
        }))
    }

    /// The journal's health now.
    pub fn journal_health(&self) -> JournalHealth {
        let mut h = JournalHealth::ok(Utc::now());
        h.not_held = self.not_held;
        if let Some(hold) = &self.hold {
            h.state = "failing".into();
            h.held = hold.held();
            h.since = Some(hold.since);
            h.error = Some(hold.error.clone());
        }
        h
    }

    /// Publishes the journal's health to the uplink's status and, when it changed, to the
    /// health file `status` reads (while failing, at most every poll).
    pub(super) fn publish_health(&mut self) {
        let h = self.journal_health();
        if let Some(u) = &self.uplink {
            u.set_journal(h.failing(), h.held);
        }
        let key = (h.state.clone(), h.held, h.not_held);
        let due = match &self.health_written {
            None => true,
            Some((last, _)) if last.0 != key.0 => true,
            Some((last, at)) => *last != key && at.elapsed() >= POLL_EVERY,
        };
        if !due || self.scratch_mode {
            return;
        }
        match health::write(&self.cfg.storage.dir, &h) {
            Ok(()) => self.health_written = Some((key, Instant::now())),
            Err(e) => tracing::debug!(error = %e, "journal health record not written"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_storage_alert_is_raised_late_resolved_later_and_critical_when_alerts_are_at_risk() {
        use Pressure::*;
        assert_eq!(wanted(Ok, false, None), None);
        assert_eq!(
            wanted(ShedTelemetry, false, None),
            None,
            "telemetry goes first"
        );
        assert_eq!(wanted(PruneArchives, false, None), Some(false));
        assert_eq!(wanted(AlertsAtRisk, false, Some(false)), Some(true));
        assert_eq!(
            wanted(Ok, true, None),
            Some(true),
            "a failing journal is critical"
        );
        assert_eq!(wanted(ShedTelemetry, false, Some(true)), Some(false));
        assert_eq!(
            wanted(Ok, false, Some(false)),
            None,
            "resolved when there is room"
        );
    }
}
