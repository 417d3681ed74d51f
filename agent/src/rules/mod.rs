//! The rules engine: a pure, deterministic state machine.
//!
//! It holds the occupancy of every room, door states and grants, sensor states and the
//! pending timers, and turns events into alert transitions (contract section 4). It never
//! reads a clock and does no I/O: the daemon passes wall-clock time, `replay` passes the
//! events' own timestamps, and both get the same transitions.
//!
//! Timers (grace periods, doors held open, sustained temperatures, stale sensors, the
//! end-of-day pick-up check, the midnight age re-evaluation) are not stored in a queue:
//! they are derived from the state, so restoring a snapshot restores them too. Before an
//! event at `t` is applied, every timer due at or before `t` fires, in due order, with its
//! due time as the transition's `ts`.
//!
//! The engine is one type spread over files by concern:
//!
//! - here, the [`Engine`] API the daemon and `replay` drive, and [`Rejection`];
//! - `model`: the configuration as lookup tables; `state`: what changes, by position;
//!   `snapshot`: the same state keyed by ids, for the journal;
//! - `events`: an event's ids looked up, then its handler (badge, door, attendance,
//!   reading, acknowledgement); `rooms`: a room's figures and its ratio, supervision and
//!   capacity conditions; `timers`: every timer derived from the state, and firing them;
//! - `naps`: naps and sleep checks (`sleep_check_missed`); `inputs`: panic and fire
//!   inputs, test presses, the daily check at `open` and dispositions; `emergency`:
//!   emergencies, their roll call (`roll_call_incomplete`) and drills (`drill_overdue`);
//!   inputs, test presses, the daily check at `open` and dispositions; `people`: presence
//!   and certificates, who counts (`staff_not_qualified`, `certificate_expiring`);
//! - `transitions`: raising and resolving alerts, with one `details` type per shape;
//! - `views`: the figures the console, staff page and telemetry show.
//!
//! Local wall times (close, midnight) become instants through [`crate::localtime`] only.

mod emergency;
mod events;
mod health;
mod inputs;
mod jump;
mod model;
mod naps;
mod people;
mod reload;
mod rooms;
mod snapshot;
mod state;
#[cfg(test)]
mod tests;
mod timers;
mod transitions;
mod views;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::alert::Transition;
use crate::config::Config;
use crate::event::{Event, EventKind};
pub use emergency::EmergencyView;
pub use health::{ChildHealth, ABSENCE_WINDOW_DAYS, BODY_CELSIUS};
use model::Model;
pub use people::{NotCounted, StaffFigures};
pub use reload::Reloaded;
pub use snapshot::{Snapshot, SnapshotError};
use state::State;
pub use views::{DoorFigures, NapFigures, OpenAlert, RoomFigures, SensorFigures};

type Dt = DateTime<Utc>;

/// Why an event was not accepted. The message names the offending field and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("event has no `ts`")]
    MissingTs,
    #[error(
        "`ts` {ts} is earlier than the previous event ({previous}); events must be in time order"
    )]
    OutOfOrder { ts: String, previous: String },
    #[error("unknown {what} `{id}`")]
    Unknown { what: &'static str, id: String },
    #[error("{0}")]
    Invalid(String),
}

pub struct Engine {
    m: Model,
    s: State,
    /// Age bands per child, valid for the local date `bands_on` (derived, not persisted).
    bands_on: Option<NaiveDate>,
    child_band: Vec<usize>,
    child_months: Vec<u32>,
}

impl Engine {
    pub fn new(cfg: &Config) -> Result<Engine, String> {
        let m = Model::build(cfg)?;
        let s = State::empty(&m);
        Ok(Engine {
            m,
            s,
            bands_on: None,
            child_band: Vec::new(),
            child_months: Vec::new(),
        })
    }

    /// Rebuilds an engine from a snapshot taken by [`Engine::snapshot`], possibly under an
    /// edited roster: people, rooms, doors and sensors that no longer exist are dropped.
    pub fn restore(cfg: &Config, snap: &Snapshot) -> Result<Engine, String> {
        let mut e = Engine::new(cfg)?;
        e.s = snap.to_state(&e.m);
        // A snapshot from before the daily checks at `open` existed.
        if e.s.next_open.is_none() {
            e.s.next_open = e.s.clock.and_then(|c| e.next_open_after(c));
        }
        // Derived from the clock and this configuration's `arrival_deadline`, which a
        // reload may have set, moved or removed; unchanged, it is the snapshot's.
        e.s.next_arrival = e.s.clock.and_then(|c| e.next_arrival_after(c));
        Ok(e)
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot::from_state(&self.s, &self.m)
    }

    /// The engine's clock: the time of the last event or tick, if any.
    pub fn clock(&self) -> Option<Dt> {
        self.s.clock
    }

    /// Tells the engine the agent (re)started at `now`: sensors that have been silent are
    /// counted as silent from here, not from before the agent was down.
    pub fn agent_started(&mut self, now: Dt) {
        self.start_if_needed(now);
        self.s.stale_base = Some(now);
    }

    /// Applies one event. On rejection nothing changes, not even the clock.
    pub fn on_event(&mut self, ev: &Event) -> Result<Vec<Transition>, Rejection> {
        let ts = ev.utc().ok_or(Rejection::MissingTs)?;
        if let EventKind::ClockJump { from } = &ev.kind {
            let mut out = Vec::new();
            self.clock_jump(from.with_timezone(&Utc), ts, &mut out);
            return Ok(out);
        }
        if let Some(prev) = self.s.clock {
            if ts < prev {
                return Err(Rejection::OutOfOrder {
                    ts: self.local(ts).to_rfc3339(),
                    previous: self.local(prev).to_rfc3339(),
                });
            }
        }
        let resolved = self.resolve(&ev.kind)?;
        self.check_dated(&ev.kind, ts)?;
        let mut out = Vec::new();
        self.start_if_needed(ts);
        if resolved.is_agent_started() {
            // Silence while the agent was down is not evidence: staleness counts from here,
            // so no stale timer falls due inside the gap.
            self.s.stale_base = Some(ts);
        }
        self.advance(ts, &mut out);
        self.apply(resolved, ts, &mut out);
        // Zero-length grace periods and sustains fall due at once.
        self.advance(ts, &mut out);
        Ok(out)
    }

    /// Advances the clock to `now`, firing every timer due at or before it.
    pub fn on_tick(&mut self, now: Dt) -> Vec<Transition> {
        let mut out = Vec::new();
        self.start_if_needed(now);
        self.advance(now, &mut out);
        out
    }

    /// When the next timer falls due, if any: the daemon sleeps until then.
    pub fn next_due(&self) -> Option<Dt> {
        self.next_timer().map(|(t, _)| t)
    }

    pub fn local(&self, t: Dt) -> DateTime<FixedOffset> {
        t.with_timezone(&self.m.tz).fixed_offset()
    }

    pub fn timezone(&self) -> chrono_tz::Tz {
        self.m.tz
    }
}
