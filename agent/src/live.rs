//! What the rules know now, published by the core after every committed batch, for the
//! staff page (and anything else local that watches the nursery live).
//!
//! The core owns the state; readers get an immutable [`LiveView`] behind an `Arc` through a
//! `tokio::sync::watch` channel (always the latest, never a backlog) and every committed
//! transition through a `broadcast` channel (a slow reader loses old ones and is told so,
//! and can re-read the view).

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::alert::Transition;
use crate::rules::{
    DoorFigures, Engine, NapFigures, OpenAlert, RoomFigures, SensorFigures, StaffFigures,
};

/// The nursery as the rules see it at `clock`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveView {
    /// The rules' clock, local time; `None` before anything happened.
    pub clock: Option<DateTime<FixedOffset>>,
    pub rooms: Vec<RoomFigures>,
    pub doors: Vec<DoorFigures>,
    pub sensors: Vec<SensorFigures>,
    /// Open alerts, critical first, then oldest first.
    pub alerts: Vec<OpenAlert>,
    /// Grows by one per published view.
    pub version: u64,
    /// Who is checked in where: (person id, room id). Children's ids only; names are
    /// looked up by the page for logged-in staff.
    pub occupancy: Vec<(String, String)>,
    /// Naps under way.
    pub naps: Vec<NapFigures>,
    /// The emergency under way and its roll call, if any.
    pub emergency: Option<crate::rules::EmergencyView>,
    /// Each child's health check and arrival today (ids only; the page adds names for
    /// logged-in staff).
    pub health: Vec<crate::rules::ChildHealth>,
    /// Every member of staff checked in: whether they count, and why not (ids only).
    pub staff: Vec<StaffFigures>,
    /// How the agent itself is doing: clock, configuration in force, journal.
    pub operations: crate::operations::Operations,
}

impl LiveView {
    pub fn of(engine: &mut Engine, version: u64) -> LiveView {
        let mut alerts = engine.open_alert_list();
        alerts.sort_by_key(|a| (a.severity, a.raised));
        LiveView {
            clock: engine.clock().map(|c| engine.local(c)),
            rooms: engine.rooms(),
            doors: engine.doors(),
            sensors: engine.sensors(),
            alerts,
            version,
            occupancy: engine.occupancy(),
            naps: engine.naps(),
            emergency: engine.emergency_view(),
            health: engine.children_health(),
            staff: engine.staff_figures(),
            operations: Default::default(),
        }
    }
}

/// The publishing side, held by the core.
pub struct Publisher {
    view: watch::Sender<Arc<LiveView>>,
    transitions: broadcast::Sender<Transition>,
    version: u64,
    operations: crate::operations::Operations,
    /// The daemon's own open alerts (storage), shown with the rules' ones.
    daemon_alerts: Vec<OpenAlert>,
}

/// The reading side: cheap to clone, one per consumer.
#[derive(Clone)]
pub struct Live {
    view: watch::Receiver<Arc<LiveView>>,
    transitions: broadcast::Sender<Transition>,
    /// Panic inputs armed for a test press from the staff page (see
    /// [`crate::hw::test_press`]).
    tests: crate::hw::test_press::TestPresses,
}

/// A publisher and its first reader.
pub fn channel(engine: &mut Engine) -> (Publisher, Live) {
    let (view_tx, view_rx) = watch::channel(Arc::new(LiveView::of(engine, 0)));
    let (transitions, _) = broadcast::channel(1024);
    (
        Publisher {
            view: view_tx,
            transitions: transitions.clone(),
            version: 0,
            operations: Default::default(),
            daemon_alerts: Vec::new(),
        },
        Live {
            view: view_rx,
            transitions,
            tests: Default::default(),
        },
    )
}

impl Publisher {
    /// What the next views say of the agent itself (see [`crate::operations`]).
    pub fn set_operations(&mut self, operations: crate::operations::Operations) {
        self.operations = operations;
    }

    /// The daemon's own open alerts the next views list with the rules' ones (the
    /// storage's `storage_pressure`: staff must see that the SD is full on the page too).
    pub fn set_daemon_alerts(&mut self, alerts: Vec<OpenAlert>) {
        self.daemon_alerts = alerts;
    }

    /// Publishes the engine's state and the batch's transitions (already committed).
    pub fn publish(&mut self, engine: &mut Engine, transitions: &[Transition]) {
        self.version += 1;
        let mut view = LiveView::of(engine, self.version);
        view.operations = self.operations.clone();
        if !self.daemon_alerts.is_empty() {
            view.alerts.extend(self.daemon_alerts.iter().cloned());
            view.alerts.sort_by_key(|a| (a.severity, a.raised));
        }
        self.view.send_replace(Arc::new(view));
        for t in transitions {
            // No receiver is not an error: nobody is looking.
            let _ = self.transitions.send(t.clone());
        }
    }
}

impl Live {
    /// The test presses armed from the staff page, shared with the hardware threads.
    pub fn test_presses(&self) -> &crate::hw::test_press::TestPresses {
        &self.tests
    }

    /// The latest view.
    pub fn view(&self) -> Arc<LiveView> {
        self.view.borrow().clone()
    }

    /// A receiver that wakes on every new view (`changed().await`).
    pub fn watch(&self) -> watch::Receiver<Arc<LiveView>> {
        self.view.clone()
    }

    /// Every transition committed from now on.
    pub fn transitions(&self) -> broadcast::Receiver<Transition> {
        self.transitions.subscribe()
    }
}

/// Seconds since `t`, for "raised 3 min ago".
pub fn age(now: DateTime<Utc>, t: DateTime<Utc>) -> i64 {
    (now - t).num_seconds().max(0)
}
