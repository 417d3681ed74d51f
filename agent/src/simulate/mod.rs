//! The simulated nursery day: one seeded, planned day at a nursery, as an event log.
//!
//! The generator does not scatter random events; it plans a day the way a nursery director
//! would, then writes down what the door controller, the card readers, the attendance
//! terminal and the room sensors would report:
//!
//! 1. **Families.** Children who share a guardian come and go together. Each family arrives
//!    between `open` and `open + 90m` and is picked up between `close - 90m` and
//!    `close - 10m` by one of the children's guardians; now and then a family stays home.
//!    Ages are taken on the simulated date, and a room admits only as many children as its
//!    counted staff can cover under the ratio preset and as its capacity allows.
//! 2. **Staff.** Each room's counted staff get shifts — an opener who arrives before the
//!    room's first child, a closer who leaves after its last — stretched minute by minute
//!    until the room's required staff (⌈Σ n_b / r_b⌉, [`crate::presets::Preset::required_staff`]) is always
//!    met. Lunch breaks and room moves are placed only where a minute-by-minute occupancy
//!    check shows the ratio still holds; a break in a room without slack waits for a
//!    colleague to step in from a room with slack. The health worker makes a round of
//!    the rooms. Staff who count in no ratio keep their own hours.
//! 3. **Incidents**, each once, at seed-varied times, and only when the roster has what
//!    they need ([`IncidentKind`]): a caregiver who steps out of a room that has no slack
//!    for longer than `ratio_grace`; a door held open beyond `door_held_open`; a child
//!    picked up by an adult who is not their guardian; an afternoon room hotter than
//!    `temperature.max_c` for longer than `sustain`; a sensor silent for longer than
//!    `sensor_stale_after`; an unknown card, a few minutes after `open` (the first incident,
//!    so the demo shows an alert in its first minute); a door forced open.
//! 4. **Events.** Arrivals come through the entrance — a card at the access reader (or the
//!    release button pressed from inside for an adult without a card), the door opening and
//!    closing a few seconds later — then the attendance record; departures press the exit
//!    button before the door opens. Staff badge the attendance reader, and a room reader
//!    when they move into its room. Door visits are booked so that they never overlap.
//!    Every sensor reports once a minute from the start of the day to its end.
//! 5. **Naps** after lunch in every room with children, with sleep checks a little more
//!    often than the room's interval asks, one of them late (`naps`).
//! 6. **晨午检 and absences**: each child who comes is health-checked after check-in, one
//!    with a fever; two children stay home, one reported sick before `open`, one not until
//!    staff follow up after `arrival_deadline` (`health`).
//! 6. **People** (`people`): one short break on duty (`presence`) where a room has slack,
//!    and a member of staff without a valid required certificate in for the morning, who
//!    counts in no plan (`staff_not_qualified`).
//!
//! Presence is planned on a grid of minutes, conservatively: a child counts in the whole
//! minute of their arrival and of their departure, a staff member in neither the minute
//! they arrive, leave or move, nor in any minute of a break. So whatever second an event
//! falls on, the rules never see a shortfall the plan did not intend.
//!
//! The day runs from midnight to midnight of the simulated date: people come and go between
//! `open` and `close`, but the sensors report all day and night, so a daemon fed one day
//! after another sees no silent sensors overnight. `[simulation] start` is for the daemon
//! (where to begin feeding); the generated day is always whole. (On a day when the clocks
//! change, the repeated or skipped local hour is not modelled.)

//!
//! The files follow the plan: `plan` holds the planner's state and its small helpers,
//! then `families`, `staff`, `incidents`, `readings` plan and write each part of the day,
//! and `emission` books the doors and writes the events down in time order.

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::alert::AlertType;
use crate::config::Config;
use crate::event::Event;

mod drill;
mod emission;
mod families;
mod health;
mod incidents;
mod inputs;
mod naps;
mod people;
mod plan;
mod readings;
mod staff;
#[cfg(test)]
mod tests;

use self::plan::Planner;

/// Generates one simulated day for the roster in `cfg`, in time order.
///
/// The same `cfg`, `seed` and `date` always give the same day.
pub fn simulate_day(cfg: &Config, seed: u64, date: NaiveDate) -> Vec<Event> {
    plan_day(cfg, seed, date).events
}

/// A simulated day: its events and the incidents planted in it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedDay {
    /// In time order; every `ts` carries the facility's local offset.
    pub events: Vec<Event>,
    pub incidents: Vec<Incident>,
}

/// One incident planted in the day, and the alert it should cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub kind: IncidentKind,
    /// The room, door, reader, sensor or child the alert names.
    pub subject: String,
    /// When the incident starts (its alert follows after the rule's grace, if any).
    pub at: DateTime<FixedOffset>,
    /// When it ends; `None` for a one-off.
    pub until: Option<DateTime<FixedOffset>>,
}

/// The incidents of the day. Each needs something of the roster; without it, it is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentKind {
    /// A caregiver leaves a room that has no slack for longer than `ratio_grace`, then
    /// returns. Needs a room requiring at least two counted staff for a while.
    CaregiverStepsOut,
    /// A door stays open beyond `door_held_open`. Needs a door.
    DoorHeldOpen,
    /// A child is checked out by an adult who is not among their guardians. Needs a
    /// present child and a roster guardian of another family.
    PickupByNonGuardian,
    /// A room's sensor reads above `temperature.max_c` for longer than `sustain` in the
    /// afternoon, then the room cools. Needs a sensor.
    HotRoom,
    /// A sensor sends nothing for longer than `sensor_stale_after`, then resumes. Needs a
    /// sensor.
    SensorSilent,
    /// A card on no roster is shown to a reader. Needs a reader.
    UnknownCard,
    /// A door opens with no badge or button before it. Needs a door.
    DoorForced,
    /// During the after-lunch nap, one sleep check comes a few minutes after the room's
    /// `sleep_check_interval` ran out. Needs a room with children at lunch time and a
    /// counted member of staff homed in it.
    LateSleepCheck,
    /// In a late-morning fire drill, the last child is accounted for a few minutes after
    /// `roll_call_within` ran out. Needs an `assembly` reader and children on site.
    SlowRollCall,
    /// A child's morning health check finds a fever; a later check is normal. Needs a
    /// child who comes.
    Fever,
    /// A child expected today stays home and nobody says so until staff follow up after
    /// `arrival_deadline`. Needs the deadline and three families of one child who come.
    UnreportedAbsence,
    /// A member of staff whose role counts but who lacks a valid required certificate
    /// checks in for the morning. Needs such a member of staff on the roster.
    UnqualifiedStaff,
}

impl IncidentKind {
    /// The alert the rules raise for this incident.
    pub fn alert_type(self) -> AlertType {
        match self {
            IncidentKind::CaregiverStepsOut => AlertType::RatioBreach,
            IncidentKind::DoorHeldOpen => AlertType::DoorHeldOpen,
            IncidentKind::PickupByNonGuardian => AlertType::UnauthorizedPickup,
            IncidentKind::HotRoom => AlertType::TemperatureHigh,
            IncidentKind::SensorSilent => AlertType::SensorStale,
            IncidentKind::UnknownCard => AlertType::BadgeDenied,
            IncidentKind::DoorForced => AlertType::DoorForced,
            IncidentKind::LateSleepCheck => AlertType::SleepCheckMissed,
            IncidentKind::SlowRollCall => AlertType::RollCallIncomplete,
            IncidentKind::Fever => AlertType::HealthCheckFailed,
            IncidentKind::UnreportedAbsence => AlertType::ChildAbsentUnreported,
            IncidentKind::UnqualifiedStaff => AlertType::StaffNotQualified,
        }
    }
}

/// Plans one day for the roster in `cfg` (see the module documentation).
pub fn plan_day(cfg: &Config, seed: u64, date: NaiveDate) -> SimulatedDay {
    plan(cfg, seed, date, true)
}

/// The day, with its health checks and absences or (for the tests that show they move
/// nothing else) without.
fn plan(cfg: &Config, seed: u64, date: NaiveDate, health: bool) -> SimulatedDay {
    let mut p = Planner::new(cfg, seed, date);
    p.plan_families();
    p.plan_shifts();
    p.plan_breaks();
    p.plan_moves();
    p.plan_health_round();
    p.plan_step_out();
    p.emit_door_incidents();
    p.emit_staff();
    p.emit_families();
    p.emit_unknown_card();
    p.emit_readings();
    p.emit_naps();
    p.emit_presence_break();
    p.emit_unqualified();
    // After the parts before, so that they draw the same numbers whether or not it runs.
    if health {
        p.emit_health();
    }
    // Last: the roll call is of whoever is on site, which the parts before decide.
    p.emit_drill();
    p.emit_panic_tests();
    p.finish()
}
