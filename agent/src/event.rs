//! The event log (contract section 3): what the sensors produce once decoded.
//!
//! One JSON object per line. Parsing is strict about what the rules need (types, ids,
//! ranges) and tolerant of extra fields, so an attendance terminal that adds its own
//! annotations is still understood.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use strum::VariantArray;

use crate::names::serde_name;

/// A decoded event, with the moment it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// RFC 3339 with an offset. Absent only on live input, where the agent stamps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<DateTime<FixedOffset>>,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Badge {
        reader: String,
        card: String,
    },
    Door {
        door: String,
        state: DoorState,
    },
    ExitButton {
        door: String,
    },
    Attendance {
        person: String,
        action: AttendanceAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    Reading {
        sensor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        celsius: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        humidity: Option<f64>,
    },
    SensorFault {
        sensor: String,
        reason: String,
    },
    /// Contract section 9: a nap period in `room` begins or ends.
    Nap {
        room: String,
        action: NapAction,
    },
    /// Contract section 9: a dry contact (`[[inputs]]`) became `active` or `clear`;
    /// `test: true` marks a test press.
    Input {
        input: String,
        state: InputState,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        test: bool,
    },
    /// Contract section 9 (一事一反馈): what a member of staff (`by`) did about an alert.
    /// `note` is free text for the journal and the ledger; it never leaves the device.
    Disposition {
        alert_id: String,
        by: String,
        action: DispositionAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Contract section 9: a member of staff (`by`) checked the napping children of
    /// `room`. A staff badge at a `sleep_check` reader is one too.
    SleepCheck {
        room: String,
        by: String,
    },
    /// Contract section 9: an emergency (or a drill) starts or ends. Everyone checked in
    /// at its start is to be accounted for by `roll_call` or an `assembly` badge.
    Emergency {
        kind: EmergencyKind,
        action: EmergencyAction,
    },
    /// Contract section 9: a child or member of staff is accounted for in the roll call of
    /// the emergency under way.
    RollCall {
        person: String,
    },
    /// Contract section 9 (晨午检): a child's health check, with the temperature taken if
    /// any; `refer` means the child needs a closer look. `by` (the project's own, additive
    /// and optional) is the staff id of who checked: the staff page sets it, a thermometer
    /// feeding lines may not; the daily ledger shows it.
    HealthCheck {
        person: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        celsius: Option<f64>,
        result: HealthResult,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// Contract section 9 (因病缺勤登记): a child will be (or was) away on the local `date`,
    /// reported before or on the day.
    Absence {
        person: String,
        date: chrono::NaiveDate,
        reason: AbsenceReason,
    },
    /// Contract section 9: a member of staff checked in is on duty (the default at check-in),
    /// on a break or at other work; only staff on duty count toward ratios.
    Presence {
        person: String,
        state: PresenceState,
    },
    /// The project's own, additive: the agent (re)started at `ts`. `run` journals it at
    /// every start so that `replay` of an exported journal counts silent sensors from the
    /// same moments the live agent did, and so reproduces what it raised.
    AgentStarted,
    /// The project's own, additive: a member of staff (`by`) acknowledged an open alert on
    /// the staff page. Journalled like any event, so replay reproduces acknowledgements.
    Acknowledge {
        alert_id: String,
        by: String,
    },
    /// The project's own, additive: the board's wall clock jumped (it synchronised, or was
    /// set by hand) from `from` to `ts`. The daemon journals it when the wall clock and the
    /// monotonic clock disagree; the rules carry their pending timers across the jump
    /// instead of firing them for a span that never happened, and `replay` does the same.
    /// It is the one event that may be earlier than the one before it.
    ClockJump {
        from: DateTime<FixedOffset>,
    },
    /// The project's own, additive: the configuration in force from `ts` on, by content
    /// hash, with its text (so that an exported journal carries it: `replay` judges each
    /// moment under the configuration in force then). Journalled at a start whose file
    /// differs from the last one journalled, and at every reload (`SIGHUP`) applied.
    /// The text names people: like the journal, it never leaves the device.
    ConfigLoaded {
        hash: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum DoorState {
    Open,
    Closed,
}

impl DoorState {
    pub const ALL: &'static [DoorState] = <DoorState as VariantArray>::VARIANTS;

    /// `"open"`, `"closed"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceAction {
    CheckIn,
    CheckOut,
    Move,
}

impl AttendanceAction {
    pub const ALL: &'static [AttendanceAction] = <AttendanceAction as VariantArray>::VARIANTS;

    /// `"check_in"`, `"check_out"`, `"move"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum NapAction {
    Start,
    End,
}

impl NapAction {
    pub const ALL: &'static [NapAction] = <NapAction as VariantArray>::VARIANTS;

    /// `"start"`, `"end"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum InputState {
    Active,
    Clear,
}

/// What an emergency is (contract section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyKind {
    Evacuation,
    Lockdown,
    Fire,
    Drill,
}

impl EmergencyKind {
    pub const ALL: &'static [EmergencyKind] = <EmergencyKind as VariantArray>::VARIANTS;

    /// `"evacuation"`, `"lockdown"`, `"fire"`, `"drill"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }
}
/// The outcome of a health check (contract section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum HealthResult {
    Pass,
    Refer,
}

impl HealthResult {
    pub const ALL: &'static [HealthResult] = <HealthResult as VariantArray>::VARIANTS;

    /// `"pass"`, `"refer"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyAction {
    Start,
    End,
}
/// Why a child is away (contract section 9).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, VariantArray,
)]
#[serde(rename_all = "snake_case")]
pub enum AbsenceReason {
    Sick,
    Personal,
    Other,
}

impl AbsenceReason {
    pub const ALL: &'static [AbsenceReason] = <AbsenceReason as VariantArray>::VARIANTS;

    /// `"sick"`, `"personal"`, `"other"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }
}
/// Where a checked-in member of staff is in their day (contract section 9).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, VariantArray,
)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    /// Looking after children: counts toward ratios. The state at every check-in.
    #[default]
    OnDuty,
    /// On a break: in the building, not counted.
    Break,
    /// At other work (paperwork, the kitchen, a meeting): not counted.
    OtherWork,
}

impl PresenceState {
    pub const ALL: &'static [PresenceState] = <PresenceState as VariantArray>::VARIANTS;

    /// `"on_duty"`, `"break"`, `"other_work"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }

    pub fn is_on_duty(self) -> bool {
        self == PresenceState::OnDuty
    }
}

/// What was done about an alert (contract section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum DispositionAction {
    HandledOnSite,
    ParentNotified,
    Escalated,
    FalseAlarm,
    Other,
}

impl DispositionAction {
    pub const ALL: &'static [DispositionAction] = <DispositionAction as VariantArray>::VARIANTS;

    /// `"handled_on_site"`, …: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }
}

/// Why a line of the event log was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a valid event: {0}")]
    Json(#[from] serde_json::Error),
    #[error("event has no `ts`")]
    MissingTs,
}

impl Event {
    /// Parses one line of the event log. An event without `ts` is an error here; live
    /// input stamps such events on arrival instead (see [`Event::parse_live`]).
    pub fn parse(line: &str) -> Result<Event, ParseError> {
        let ev: Event = serde_json::from_str(line)?;
        if ev.ts.is_none() {
            return Err(ParseError::MissingTs);
        }
        Ok(ev)
    }

    /// Parses one line of live input, stamping it with `now` when it carries no `ts`.
    pub fn parse_live(line: &str, now: DateTime<FixedOffset>) -> Result<Event, ParseError> {
        let mut ev: Event = serde_json::from_str(line)?;
        ev.ts.get_or_insert(now);
        Ok(ev)
    }

    pub fn at(ts: DateTime<FixedOffset>, kind: EventKind) -> Event {
        Event { ts: Some(ts), kind }
    }

    /// The event's time in UTC. Events reaching the rules always carry `ts`.
    pub fn utc(&self) -> Option<DateTime<Utc>> {
        self.ts.map(|t| t.with_timezone(&Utc))
    }

    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("events always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_line_of_the_contract_parses_and_round_trips() {
        let lines = [
            r#"{"ts":"2026-03-02T07:31:05+08:00","type":"badge","reader":"entrance-reader","card":"10001"}"#,
            r#"{"ts":"2026-03-02T07:31:07+08:00","type":"door","door":"entrance","state":"open"}"#,
            r#"{"ts":"2026-03-02T07:31:12+08:00","type":"door","door":"entrance","state":"closed"}"#,
            r#"{"ts":"2026-03-02T07:40:00+08:00","type":"exit_button","door":"entrance"}"#,
            r#"{"ts":"2026-03-02T07:45:00+08:00","type":"attendance","person":"c-01","action":"check_in"}"#,
            r#"{"ts":"2026-03-02T09:00:00+08:00","type":"attendance","person":"s-02","action":"move","room":"toddler"}"#,
            r#"{"ts":"2026-03-02T16:50:00+08:00","type":"attendance","person":"c-01","action":"check_out","by":"g-01"}"#,
            r#"{"ts":"2026-03-02T08:00:00+08:00","type":"reading","sensor":"t-infant","celsius":24.5,"humidity":45.0}"#,
            r#"{"ts":"2026-03-02T08:05:00+08:00","type":"sensor_fault","sensor":"t-infant","reason":"crc"}"#,
            r#"{"ts":"2026-03-02T12:30:00+08:00","type":"nap","room":"infant","action":"start"}"#,
            r#"{"ts":"2026-03-02T12:40:00+08:00","type":"sleep_check","room":"infant","by":"s-01"}"#,
            r#"{"ts":"2026-03-02T14:30:00+08:00","type":"nap","room":"infant","action":"end"}"#,
            r#"{"ts":"2026-03-02T10:00:00+08:00","type":"input","input":"panic-office","state":"active"}"#,
            r#"{"ts":"2026-03-02T10:00:00+08:00","type":"input","input":"panic-office","state":"active","test":true}"#,
            r#"{"ts":"2026-03-02T10:00:05+08:00","type":"input","input":"fire-panel","state":"clear"}"#,
            r#"{"ts":"2026-03-02T10:10:00+08:00","type":"emergency","kind":"evacuation","action":"start"}"#,
            r#"{"ts":"2026-03-02T10:11:00+08:00","type":"roll_call","person":"c-01"}"#,
            r#"{"ts":"2026-03-02T10:20:00+08:00","type":"emergency","kind":"drill","action":"end"}"#,
            r#"{"ts":"2026-03-02T10:05:00+08:00","type":"disposition","alert_id":"A1","by":"s-01","action":"parent_notified","note":"called mum"}"#,
            r#"{"ts":"2026-03-02T08:00:00+08:00","type":"health_check","person":"c-01","celsius":36.6,"result":"pass"}"#,
            r#"{"ts":"2026-03-02T08:00:00+08:00","type":"health_check","person":"c-01","result":"refer"}"#,
            r#"{"ts":"2026-03-02T08:00:00+08:00","type":"health_check","person":"c-01","result":"pass","by":"s-01"}"#,
            r#"{"ts":"2026-03-02T07:00:00+08:00","type":"absence","person":"c-02","date":"2026-03-02","reason":"sick"}"#,
            r#"{"ts":"2026-03-02T10:10:00+08:00","type":"presence","person":"s-03","state":"break"}"#,
            r#"{"ts":"2026-03-02T10:25:00+08:00","type":"presence","person":"s-03","state":"on_duty"}"#,
            r#"{"ts":"2026-03-02T10:30:00+08:00","type":"presence","person":"s-03","state":"other_work"}"#,
        ];
        for line in lines {
            let ev = Event::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let again = Event::parse(&ev.to_json_line()).unwrap();
            assert_eq!(ev, again);
        }
    }

    #[test]
    fn an_unknown_type_is_rejected_with_its_name() {
        let err = Event::parse(r#"{"ts":"2026-03-02T07:31:05+08:00","type":"teleport"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("teleport"), "{err}");
    }

    #[test]
    fn a_line_without_ts_is_rejected_in_a_log_but_stamped_live() {
        let line = r#"{"type":"exit_button","door":"entrance"}"#;
        assert!(matches!(Event::parse(line), Err(ParseError::MissingTs)));
        let now: DateTime<FixedOffset> = "2026-03-02T07:40:00+08:00".parse().unwrap();
        assert_eq!(Event::parse_live(line, now).unwrap().ts, Some(now));
    }

    #[test]
    fn door_states_and_attendance_actions_are_named_as_serde_names_them() {
        for s in DoorState::ALL {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<DoorState>(&json).unwrap(), *s);
        }
        for a in AttendanceAction::ALL {
            let json = serde_json::to_string(a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
            assert_eq!(serde_json::from_str::<AttendanceAction>(&json).unwrap(), *a);
        }
        assert_eq!(DoorState::ALL.len(), 2);
        assert_eq!(AttendanceAction::CheckIn.as_str(), "check_in");
        assert_eq!(AttendanceAction::ALL.len(), 3);
    }

    #[test]
    fn an_emergency_of_an_unknown_kind_is_rejected_naming_the_kind_and_the_known_ones() {
        let err = Event::parse(
            r#"{"ts":"2026-03-02T10:00:00+08:00","type":"emergency","kind":"flood","action":"start"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("flood") && err.contains("evacuation"), "{err}");
        assert_eq!(EmergencyKind::ALL.len(), 4);
        for k in EmergencyKind::ALL {
            let json = serde_json::to_string(k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
    }

    #[test]
    fn a_health_check_result_or_absence_reason_outside_the_contract_is_rejected_by_name() {
        let err = Event::parse(
            r#"{"ts":"2026-03-02T08:00:00+08:00","type":"health_check","person":"c-01","result":"ok"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("ok") && err.contains("refer"), "{err}");
        let err = Event::parse(
            r#"{"ts":"2026-03-02T08:00:00+08:00","type":"absence","person":"c-01","date":"2026-03-02","reason":"holiday"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("holiday") && err.contains("sick"), "{err}");
        let err = Event::parse(
            r#"{"ts":"2026-03-02T08:00:00+08:00","type":"absence","person":"c-01","date":"2026-3-2x","reason":"sick"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("date") || err.contains("input"), "{err}");
        assert_eq!(HealthResult::ALL.len(), 2);
        assert_eq!(AbsenceReason::Sick.as_str(), "sick");
    }

    #[test]
    fn a_presence_state_outside_the_three_of_the_contract_is_rejected_with_its_name() {
        let err = Event::parse(
            r#"{"ts":"2026-03-02T10:10:00+08:00","type":"presence","person":"s-03","state":"nap"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("nap") && err.contains("on_duty"), "{err}");
        let names: Vec<&str> = PresenceState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["on_duty", "break", "other_work"]);
    }

    #[test]
    fn a_timestamp_without_offset_is_rejected() {
        assert!(Event::parse(
            r#"{"ts":"2026-03-02T07:40:00","type":"exit_button","door":"entrance"}"#
        )
        .is_err());
    }
}
