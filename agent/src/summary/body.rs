//! The body of the daily summary as the platform receives it (contract section 6): one
//! `Serialize` struct per object. Fields are declared in name order, so the JSON keys come
//! out sorted, as they did when the body was built with `json!` — the same bytes for the
//! same journal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `summaries/daily` body of one local day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailySummary {
    /// 因病缺勤 (contract 1.1 section 10): the children reported absent for the day, by
    /// reason (counts only).
    pub absences: AbsenceFigures,
    pub agent: AgentFigures,
    /// Alerts raised during the day, by type; every type this agent knows is present.
    pub alerts: BTreeMap<String, u64>,
    /// Distinct children checked in anywhere during the day.
    pub children_attended: usize,
    /// The latest moment the figures cover (local RFC 3339).
    pub covered_until: String,
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    /// 一事一反馈 (contract 1.1 section 10): dispositions recorded, against the critical
    /// alerts raised.
    pub dispositions: DispositionFigures,
    /// In configuration order.
    pub doors: Vec<DoorFigures>,
    /// Emergencies and drills started on the day (contract 1.1 section 10), in order.
    pub emergencies: Vec<EmergencyFigures>,
    pub events: EventCounts,
    /// Local midnight starting the day (RFC 3339).
    pub from: String,
    /// 晨午检 (contract 1.1 section 10): checks done, and the day's missing and failed ones.
    pub health_checks: HealthCheckFigures,
    /// Panic buttons (一键报警): real presses and test presses.
    pub panic: PanicFigures,
    /// Most children present at once in the whole facility.
    pub peak_children: u32,
    /// In configuration order.
    pub rooms: Vec<RoomFigures>,
    /// Contract section 10: staff who checked in lacking a valid required certificate.
    #[serde(default)]
    pub staff_not_qualified: NotQualifiedFigures,
    pub summary_version: u32,
    /// The facility's IANA zone.
    pub timezone: String,
    /// Local midnight ending the day (RFC 3339), exclusive.
    pub to: String,
}

/// Staff who were `staff_not_qualified` during the day: how many, and their ids (ids only,
/// never names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotQualifiedFigures {
    pub count: usize,
    /// Staff ids, sorted.
    pub staff: Vec<String>,
}

/// The agent's own day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFigures {
    pub largest_backlog: u64,
    pub offline_seconds: u64,
    /// Runs that started during the day.
    pub starts: u64,
    pub telemetry_dropped: u64,
    /// Seconds within the day covered by some run.
    pub uptime_seconds: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispositionFigures {
    /// Critical alerts raised on the day.
    pub critical_raised: u64,
    /// Of those, how many have a disposition recorded on the day.
    pub critical_disposed: u64,
    /// Dispositions recorded on the day, against any alert.
    pub recorded: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbsenceFigures {
    pub other: u64,
    pub personal: u64,
    pub sick: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckFigures {
    /// Distinct children checked at least once.
    pub children: u64,
    /// Health checks recorded.
    pub done: u64,
    /// `health_check_failed` alerts raised.
    pub failed: u64,
    /// `health_check_missing` alerts raised.
    pub missing: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanicFigures {
    /// Panic inputs going active, not as a test.
    pub presses: u64,
    /// Test presses of panic inputs.
    pub tests: u64,
}

/// One emergency or drill of the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmergencyFigures {
    /// `evacuation`, `lockdown`, `fire`, `drill`.
    pub kind: String,
    /// Minutes from its start until everyone checked in at the start was accounted for, to
    /// a tenth; `null` if that never happened (before it ended, or by the end of the day).
    pub minutes_to_full_roll_call: Option<f64>,
    /// When it started (local RFC 3339).
    pub started: String,
}

/// One door's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorFigures {
    pub door: String,
    /// `door_forced` alerts raised.
    pub forced: u64,
    /// `door_held_open` alerts raised.
    pub held_open: u64,
    /// Closed → open changes seen.
    pub opens: u64,
}

/// What the journal held of the day's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    pub accepted: u64,
    /// Lines refused when they came in.
    pub rejected: u64,
    /// Journalled rows that no longer parse or that a fresh engine refuses.
    pub unreadable: u64,
}

/// One room's day. Minutes carry one decimal, truncated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomFigures {
    pub child_minutes: f64,
    pub children_attended: usize,
    pub humidity: ReadingStats,
    /// The longest stretch of a nap without a sleep check (from its start, between checks,
    /// to its end or the end of what the day covers); `null` when the room did not nap.
    pub longest_check_gap_minutes: Option<f64>,
    /// Minutes the room napped (contract 1.1 section 10).
    pub nap_minutes: f64,
    pub peak_children: u32,
    pub ratio_breach_minutes: f64,
    pub required_staff_peak: u32,
    pub room: String,
    /// Sleep checks made during naps.
    pub sleep_checks: u64,
    pub staff_minutes: f64,
    pub temperature: ReadingStats,
}

/// Statistics of a room's valid readings of one kind; all `null` when there were none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReadingStats {
    pub max: Option<f64>,
    /// Over readings (not time-weighted), rounded to two decimals.
    pub mean: Option<f64>,
    pub min: Option<f64>,
    pub readings: u64,
}

/// Minimum, sum and maximum of a room's valid readings of one kind, as they come.
#[derive(Debug, Default)]
pub(super) struct Stats {
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Stats {
    pub(super) fn add(&mut self, v: f64) {
        if self.n == 0 {
            (self.min, self.max) = (v, v);
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.n += 1;
        self.sum += v;
    }

    pub(super) fn figures(&self) -> ReadingStats {
        if self.n == 0 {
            return ReadingStats {
                max: None,
                mean: None,
                min: None,
                readings: 0,
            };
        }
        let mean = (self.sum / self.n as f64 * 100.0).round() / 100.0;
        ReadingStats {
            max: Some(self.max),
            mean: Some(mean),
            min: Some(self.min),
            readings: self.n,
        }
    }
}

/// Milliseconds as minutes with one decimal, truncated.
pub(super) fn minutes(ms: u64) -> f64 {
    (ms / 6_000) as f64 / 10.0
}
