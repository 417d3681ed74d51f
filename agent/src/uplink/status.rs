//! The link's state for the daemon and the staff page. The retained `status` message it
//! publishes is [`crate::wire::Status`].

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The link's state, shared with the daemon and the staff page. All fields are atomics.
#[derive(Debug)]
pub struct UplinkStatus {
    connected: AtomicBool,
    /// When `connected` last changed (UTC ms).
    since_ms: AtomicI64,
    last_connected_ms: AtomicI64,
    /// Offline time of the periods that have ended, in ms.
    offline_closed_ms: AtomicU64,
    pub(super) in_flight: AtomicU64,
    connects: AtomicU64,
    pub(super) published: AtomicU64,
    pub(super) acknowledged: AtomicU64,
    /// Telemetry messages dropped under storage pressure, in total (set by the core).
    telemetry_dropped: AtomicU64,
    /// The `telemetry_dropped` last put in a `status` message.
    pub(super) dropped_reported: AtomicU64,
    /// The broker keeps closing the connection seconds after accepting it: another client
    /// with the same client id is probably taking it over (see `link.rs`).
    client_id_conflict: AtomicBool,
    /// Journal writes fail and the core holds what it could not write (set by the core).
    journal_failing: AtomicBool,
    /// Inputs held for the journal (set by the core).
    journal_held: AtomicU64,
    /// The journal state last put in a `status` message: failing, and held (rounded to
    /// hundreds, so a status is not republished for every event).
    journal_reported: AtomicU64,
}

/// A copy of [`UplinkStatus`] at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UplinkStatusSnapshot {
    pub connected: bool,
    pub since: DateTime<Utc>,
    pub last_connected: Option<DateTime<Utc>>,
    /// Offline since `UplinkStatus::new`, the current period included. The daily summary
    /// takes the difference between two local midnights.
    pub offline_total_secs: u64,
    pub in_flight: u64,
    pub connects: u64,
    pub published: u64,
    pub acknowledged: u64,
    /// Another client with the same client id seems to be taking the connection over
    /// (repeated disconnects seconds after each CONNACK).
    pub client_id_conflict: bool,
}

impl UplinkStatus {
    /// Offline from `now` on, until the first connection.
    pub fn new(now: DateTime<Utc>) -> Arc<UplinkStatus> {
        Arc::new(UplinkStatus {
            connected: AtomicBool::new(false),
            since_ms: AtomicI64::new(now.timestamp_millis()),
            last_connected_ms: AtomicI64::new(i64::MIN),
            offline_closed_ms: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            published: AtomicU64::new(0),
            acknowledged: AtomicU64::new(0),
            telemetry_dropped: AtomicU64::new(0),
            dropped_reported: AtomicU64::new(0),
            client_id_conflict: AtomicBool::new(false),
            journal_failing: AtomicBool::new(false),
            journal_held: AtomicU64::new(0),
            journal_reported: AtomicU64::new(0),
        })
    }

    /// The outbox's total of telemetry dropped under storage pressure; the link reports it
    /// in its `status` message (republished when it changes).
    pub fn set_telemetry_dropped(&self, total: u64) {
        self.telemetry_dropped.store(total, Ordering::Relaxed);
    }

    /// Whether journal writes fail, and how many inputs the core holds for it; the link
    /// reports them in its `status` message (republished when they change).
    pub fn set_journal(&self, failing: bool, held: u64) {
        self.journal_failing.store(failing, Ordering::Relaxed);
        self.journal_held.store(held, Ordering::Relaxed);
    }

    /// The journal's state for the `status` message: `(failing, held)`. Noted as
    /// reported.
    pub(super) fn journal_report(&self) -> (bool, u64) {
        let r = (
            self.journal_failing.load(Ordering::Relaxed),
            self.journal_held.load(Ordering::Relaxed),
        );
        self.journal_reported
            .store(Self::journal_key(r), Ordering::Relaxed);
        r
    }

    /// Whether the journal's state changed since it was last reported.
    pub(super) fn journal_changed(&self) -> bool {
        let now = (
            self.journal_failing.load(Ordering::Relaxed),
            self.journal_held.load(Ordering::Relaxed),
        );
        Self::journal_key(now) != self.journal_reported.load(Ordering::Relaxed)
    }

    fn journal_key((failing, held): (bool, u64)) -> u64 {
        if failing {
            1 + held / 100
        } else {
            0
        }
    }

    pub fn telemetry_dropped(&self) -> u64 {
        self.telemetry_dropped.load(Ordering::Relaxed)
    }

    /// When the current connection was made, if connected.
    pub(super) fn connected_since(&self) -> Option<DateTime<Utc>> {
        if !self.connected.load(Ordering::Relaxed) {
            return None;
        }
        DateTime::from_timestamp_millis(self.since_ms.load(Ordering::Relaxed))
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self, now: DateTime<Utc>) -> UplinkStatusSnapshot {
        let connected = self.connected.load(Ordering::Relaxed);
        let since_ms = self.since_ms.load(Ordering::Relaxed);
        let mut offline = self.offline_closed_ms.load(Ordering::Relaxed);
        if !connected {
            offline += (now.timestamp_millis() - since_ms).max(0) as u64;
        }
        let last = self.last_connected_ms.load(Ordering::Relaxed);
        UplinkStatusSnapshot {
            connected,
            since: DateTime::from_timestamp_millis(since_ms).unwrap_or(now),
            last_connected: (last != i64::MIN)
                .then(|| DateTime::from_timestamp_millis(last))
                .flatten(),
            offline_total_secs: offline / 1000,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            connects: self.connects.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            acknowledged: self.acknowledged.load(Ordering::Relaxed),
            client_id_conflict: self.client_id_conflict.load(Ordering::Relaxed),
        }
    }

    /// Whether another client with the same client id seems to take the connection over.
    pub fn client_id_conflict(&self) -> bool {
        self.client_id_conflict.load(Ordering::Relaxed)
    }

    pub(super) fn set_client_id_conflict(&self, conflict: bool) {
        self.client_id_conflict.store(conflict, Ordering::Relaxed);
    }

    pub(super) fn set_connected(&self, connected: bool, now: DateTime<Utc>) {
        if self.connected.swap(connected, Ordering::Relaxed) == connected {
            return;
        }
        let now_ms = now.timestamp_millis();
        let since = self.since_ms.swap(now_ms, Ordering::Relaxed);
        if connected {
            self.offline_closed_ms
                .fetch_add((now_ms - since).max(0) as u64, Ordering::Relaxed);
            self.last_connected_ms.store(now_ms, Ordering::Relaxed);
            self.connects.fetch_add(1, Ordering::Relaxed);
        } else {
            self.in_flight.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::{LinkState, Status};

    #[test]
    fn status_messages_are_byte_for_byte_what_the_platform_received_before() {
        let since = "2026-03-02T01:16:00Z".parse().unwrap();
        let fraction = "2026-03-02T01:16:00.123456Z".parse().unwrap();
        let v = env!("CARGO_PKG_VERSION");
        // Captured from the agent before the status moved to `wire` (then `StatusMessage`),
        // plus contract 1.1's `clock_synced`, last and always present.
        let new = |state, at| {
            let mut s = Status::new(state, at);
            s.clock_synced = false;
            s
        };
        assert_eq!(
            new(LinkState::Online, since).with_dropped(3).to_json(),
            format!(
                r#"{{"state":"online","version":"{v}","since":"2026-03-02T01:16:00Z","telemetry_dropped":3,"clock_synced":false}}"#
            )
        );
        assert_eq!(
            new(LinkState::Online, since).with_dropped(0).to_json(),
            format!(
                r#"{{"state":"online","version":"{v}","since":"2026-03-02T01:16:00Z","telemetry_dropped":0,"clock_synced":false}}"#
            )
        );
        assert_eq!(
            new(LinkState::Offline, fraction).to_json(),
            format!(
                r#"{{"state":"offline","version":"{v}","since":"2026-03-02T01:16:00.123456Z","clock_synced":false}}"#
            )
        );
    }
}
