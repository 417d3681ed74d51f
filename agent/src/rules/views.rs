//! What the engine shows of itself: rooms, doors, sensors, who is where and the open
//! alerts, for the console, the staff page and telemetry. Reading a view changes no
//! alert.

use chrono::{DateTime, Utc};

use super::{Dt, Engine};
use crate::alert::AlertType;

/// A room's figures at one moment, for the console, the staff page and telemetry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomFigures {
    pub room: String,
    pub children: u32,
    /// Children per age band of the preset, youngest band first.
    pub by_band: Vec<u32>,
    pub counted_staff: u32,
    /// All staff present, counted or not.
    pub staff_present: u32,
    pub required: u32,
    pub capacity: Option<u32>,
}

/// A nap under way, for the staff page's nap card.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NapFigures {
    pub room: String,
    pub since: DateTime<Utc>,
    pub last_check: Option<DateTime<Utc>>,
    /// When the next check falls due (`None` while the room has no children or a check is
    /// already missed).
    pub due: Option<DateTime<Utc>>,
    /// The open `sleep_check_missed` alert, if any.
    pub missed: Option<String>,
}

/// An alert raised and not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenAlert {
    pub alert_id: String,
    #[serde(rename = "type")]
    pub alert_type: AlertType,
    pub severity: crate::alert::Severity,
    pub subject: String,
    pub raised: DateTime<Utc>,
    /// (staff id, when), once acknowledged on the staff page.
    pub acknowledged: Option<(String, DateTime<Utc>)>,
    /// (action, staff id, when), once a disposition was recorded for it.
    pub disposed: Option<(crate::event::DispositionAction, String, DateTime<Utc>)>,
}

/// A door as the rules see it now, for the staff page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DoorFigures {
    pub door: String,
    pub open: bool,
    /// Raised `door_held_open` alert id, if any.
    pub held: Option<String>,
    /// Raised `door_forced` alert id, if any.
    pub forced: Option<String>,
}

/// A sensor's latest reading, for the staff page and telemetry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SensorFigures {
    pub sensor: String,
    pub celsius: Option<f64>,
    pub humidity: Option<f64>,
    /// When the last valid reading arrived.
    pub at: Option<DateTime<Utc>>,
    pub stale: bool,
    pub fault: bool,
}

impl Engine {
    /// Figures for every room at the engine's clock.
    pub fn rooms(&mut self) -> Vec<RoomFigures> {
        let now = self.s.clock.unwrap_or_else(Utc::now);
        (0..self.m.rooms.len())
            .map(|r| self.figures(r, now))
            .collect()
    }

    /// Every door's state.
    pub fn doors(&self) -> Vec<DoorFigures> {
        self.m
            .doors
            .iter()
            .zip(&self.s.doors)
            .map(|(id, d)| DoorFigures {
                door: id.clone(),
                open: d.open,
                held: d.held.as_ref().map(|a| a.id.clone()),
                forced: d.forced.as_ref().map(|a| a.id.clone()),
            })
            .collect()
    }

    /// Every sensor's latest reading, with the room it is in (config order).
    pub fn sensors(&self) -> Vec<SensorFigures> {
        self.m
            .sensors
            .iter()
            .zip(&self.s.sensors)
            .map(|(id, s)| SensorFigures {
                sensor: id.clone(),
                celsius: s.celsius,
                humidity: s.humidity,
                at: s.last_reading,
                stale: s.stale.is_some(),
                fault: s.fault.is_some(),
            })
            .collect()
    }

    /// Every nap under way (config order of rooms).
    pub fn naps(&self) -> Vec<NapFigures> {
        self.m
            .rooms
            .iter()
            .zip(&self.s.rooms)
            .filter_map(|(room, s)| {
                let nap = s.nap.as_ref()?;
                Some(NapFigures {
                    room: room.id.clone(),
                    since: nap.since,
                    last_check: nap.checked,
                    due: nap.due(room.sleep_check_interval),
                    missed: nap.missed.as_ref().map(|a| a.id.clone()),
                })
            })
            .collect()
    }

    /// Which room each checked-in person is in, by id (children, then staff).
    pub fn occupancy(&self) -> Vec<(String, String)> {
        let children = self.m.children.iter().map(|c| &c.id);
        let staff = self.m.staff.iter().map(|s| &s.id);
        children
            .zip(&self.s.child_room)
            .chain(staff.zip(&self.s.staff_room))
            .filter_map(|(id, room)| room.map(|r| (id.clone(), self.m.rooms[r].id.clone())))
            .collect()
    }

    /// Alerts raised and not yet resolved, with who acknowledged them.
    pub fn open_alert_list(&self) -> Vec<OpenAlert> {
        self.s
            .open_alerts(&self.m)
            .into_iter()
            .map(|(a, alert_type, subject)| OpenAlert {
                alert_id: a.id,
                alert_type,
                severity: alert_type.severity(),
                subject,
                raised: a.raised,
                acknowledged: a.ack,
                disposed: a.disposed,
            })
            .collect()
    }

    /// Alerts raised and not yet resolved: (alert id, type, subject, raised at).
    pub fn open_alerts(&self) -> Vec<(String, AlertType, String, Dt)> {
        self.s
            .open_alerts(&self.m)
            .into_iter()
            .map(|(a, t, subject)| (a.id, t, subject, a.raised))
            .collect()
    }
}
