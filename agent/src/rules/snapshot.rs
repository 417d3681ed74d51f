//! The engine's state keyed by ids: what the journal stores to survive a restart.
//!
//! Inside the engine everything is indexed by position in the roster (`state`). The
//! snapshot is keyed by ids instead, so that an installer who edits the roster between
//! two runs does not scramble who is where: unknown ids are dropped on restore.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::model::Model;
use super::state::{
    Active, DoorS, Emergencies, Expiring, HealthS, InputS, Recent, RoomS, SensorS, State,
};
use crate::event::PresenceState;

type Dt = DateTime<Utc>;

/// The engine's state keyed by ids: what the journal stores to survive a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub(crate) clock: Option<Dt>,
    pub(crate) started: Option<Dt>,
    #[serde(default)]
    pub(crate) stale_base: Option<Dt>,
    pub(crate) next_alert_no: u64,
    /// Person id → room id, for everyone checked in.
    pub(crate) children: BTreeMap<String, String>,
    pub(crate) staff: BTreeMap<String, String>,
    /// Staff id → presence, for staff checked in and not on duty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) presence: BTreeMap<String, PresenceState>,
    /// Staff id → open `certificate_expiring` alerts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) expiring: BTreeMap<String, Vec<Expiring>>,
    pub(crate) rooms: BTreeMap<String, RoomS>,
    pub(crate) doors: BTreeMap<String, DoorS>,
    pub(crate) sensors: BTreeMap<String, SensorS>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) inputs: BTreeMap<String, InputS>,
    #[serde(default, skip_serializing_if = "Emergencies::is_empty")]
    pub(crate) emergencies: Emergencies,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) recent: Vec<Recent>,
    pub(crate) not_picked_up: BTreeMap<String, Active>,
    /// Child id → health checks and expected arrival, for the children with any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) health: BTreeMap<String, HealthS>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next_arrival: Option<Dt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next_open: Option<Dt>,
    pub(crate) next_pickup: Option<Dt>,
    pub(crate) next_midnight: Option<Dt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) age_date: Option<NaiveDate>,
}

#[derive(Debug, thiserror::Error)]
#[error("engine snapshot is not readable: {0}")]
pub struct SnapshotError(#[from] serde_json::Error);

impl Snapshot {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("snapshots always serialize")
    }

    pub fn from_json(s: &str) -> Result<Snapshot, SnapshotError> {
        Ok(serde_json::from_str(s)?)
    }

    /// The engine's clock when the snapshot was taken.
    pub fn clock(&self) -> Option<Dt> {
        self.clock
    }

    pub(crate) fn from_state(s: &State, m: &Model) -> Snapshot {
        let room_id = |r: &Option<usize>| r.map(|r| m.rooms[r].id.clone());
        let keyed = |ids: &mut dyn Iterator<Item = &String>, rooms: &[Option<usize>]| {
            ids.zip(rooms)
                .filter_map(|(id, r)| room_id(r).map(|r| (id.clone(), r)))
                .collect::<BTreeMap<_, _>>()
        };
        Snapshot {
            clock: s.clock,
            started: s.started,
            stale_base: s.stale_base,
            next_alert_no: s.next_alert_no,
            children: keyed(&mut m.children.iter().map(|c| &c.id), &s.child_room),
            staff: keyed(&mut m.staff.iter().map(|c| &c.id), &s.staff_room),
            presence: m
                .staff
                .iter()
                .zip(s.staff_room.iter().zip(&s.presence))
                .filter(|(_, (room, p))| room.is_some() && !p.is_on_duty())
                .map(|(st, (_, p))| (st.id.clone(), *p))
                .collect(),
            expiring: m
                .staff
                .iter()
                .zip(&s.expiring)
                .filter(|(_, list)| !list.is_empty())
                .map(|(st, list)| (st.id.clone(), list.clone()))
                .collect(),
            rooms: m
                .rooms
                .iter()
                .map(|r| r.id.clone())
                .zip(s.rooms.iter().cloned())
                .collect(),
            doors: m
                .doors
                .iter()
                .cloned()
                .zip(s.doors.iter().cloned())
                .collect(),
            sensors: m
                .sensors
                .iter()
                .cloned()
                .zip(s.sensors.iter().cloned())
                .collect(),
            inputs: m
                .inputs
                .iter()
                .map(|x| x.id.clone())
                .zip(s.inputs.iter().cloned())
                .collect(),
            emergencies: s.emergencies.clone(),
            recent: s.recent.clone(),
            not_picked_up: m
                .children
                .iter()
                .zip(&s.not_picked_up)
                .filter_map(|(c, a)| a.clone().map(|a| (c.id.clone(), a)))
                .collect(),
            health: m
                .children
                .iter()
                .zip(&s.health)
                .filter(|(_, h)| !h.is_default())
                .map(|(c, h)| (c.id.clone(), h.clone()))
                .collect(),
            next_arrival: s.next_arrival,
            next_open: s.next_open,
            next_pickup: s.next_pickup,
            next_midnight: s.next_midnight,
            age_date: s.age_date,
        }
    }

    pub(crate) fn to_state(&self, m: &Model) -> State {
        let mut s = State::empty(m);
        s.clock = self.clock;
        s.started = self.started;
        s.stale_base = self.stale_base;
        s.next_alert_no = self.next_alert_no;
        for (i, c) in m.children.iter().enumerate() {
            s.child_room[i] = self
                .children
                .get(&c.id)
                .and_then(|r| m.room_ix.get(r).copied());
            s.not_picked_up[i] = self.not_picked_up.get(&c.id).cloned();
            s.health[i] = self.health.get(&c.id).cloned().unwrap_or_default();
        }
        for (i, st) in m.staff.iter().enumerate() {
            s.staff_room[i] = self
                .staff
                .get(&st.id)
                .and_then(|r| m.room_ix.get(r).copied());
            if s.staff_room[i].is_some() {
                s.presence[i] = self.presence.get(&st.id).copied().unwrap_or_default();
            }
            s.expiring[i] = self.expiring.get(&st.id).cloned().unwrap_or_default();
        }
        for (i, r) in m.rooms.iter().enumerate() {
            s.rooms[i] = self.rooms.get(&r.id).cloned().unwrap_or_default();
        }
        for (i, d) in m.doors.iter().enumerate() {
            s.doors[i] = self.doors.get(d).cloned().unwrap_or_default();
        }
        for (i, x) in m.sensors.iter().enumerate() {
            s.sensors[i] = self.sensors.get(x).cloned().unwrap_or_default();
        }
        for (i, x) in m.inputs.iter().enumerate() {
            s.inputs[i] = self.inputs.get(&x.id).cloned().unwrap_or_default();
        }
        s.emergencies = self.emergencies.clone();
        // Someone who left the roster cannot be accounted for any more.
        if let Some(c) = &mut s.emergencies.current {
            c.missing.retain(|id| m.people.contains_key(id));
        }
        s.recent = self.recent.clone();
        s.next_arrival = self.next_arrival;
        s.next_open = self.next_open;
        s.next_pickup = self.next_pickup;
        s.next_midnight = self.next_midnight;
        s.age_date = self.age_date;
        s
    }
}
