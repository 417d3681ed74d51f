//! Alerts (contract section 4): one JSON object per transition.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertType {
    RatioBreach,
    UnsupervisedChildren,
    CapacityExceeded,
    DoorForced,
    DoorHeldOpen,
    BadgeDenied,
    UnauthorizedPickup,
    ChildNotCheckedOut,
    TemperatureHigh,
    TemperatureLow,
    HumidityHigh,
    HumidityLow,
    SensorStale,
    SensorFault,
    /// The project's own, additive: the outbox is over its size cap with no telemetry
    /// left to drop (subject `outbox`). Raised by the daemon, not by the rules.
    StoragePressure,
}

impl AlertType {
    pub const ALL: [AlertType; 15] = [
        AlertType::RatioBreach,
        AlertType::UnsupervisedChildren,
        AlertType::CapacityExceeded,
        AlertType::DoorForced,
        AlertType::DoorHeldOpen,
        AlertType::BadgeDenied,
        AlertType::UnauthorizedPickup,
        AlertType::ChildNotCheckedOut,
        AlertType::TemperatureHigh,
        AlertType::TemperatureLow,
        AlertType::HumidityHigh,
        AlertType::HumidityLow,
        AlertType::SensorStale,
        AlertType::SensorFault,
        AlertType::StoragePressure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertType::RatioBreach => "ratio_breach",
            AlertType::UnsupervisedChildren => "unsupervised_children",
            AlertType::CapacityExceeded => "capacity_exceeded",
            AlertType::DoorForced => "door_forced",
            AlertType::DoorHeldOpen => "door_held_open",
            AlertType::BadgeDenied => "badge_denied",
            AlertType::UnauthorizedPickup => "unauthorized_pickup",
            AlertType::ChildNotCheckedOut => "child_not_checked_out",
            AlertType::TemperatureHigh => "temperature_high",
            AlertType::TemperatureLow => "temperature_low",
            AlertType::HumidityHigh => "humidity_high",
            AlertType::HumidityLow => "humidity_low",
            AlertType::SensorStale => "sensor_stale",
            AlertType::SensorFault => "sensor_fault",
            AlertType::StoragePressure => "storage_pressure",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            AlertType::RatioBreach
            | AlertType::UnsupervisedChildren
            | AlertType::DoorForced
            | AlertType::UnauthorizedPickup
            | AlertType::ChildNotCheckedOut => Severity::Critical,
            _ => Severity::Warning,
        }
    }

    /// One-shot alerts are only ever raised.
    pub fn is_one_shot(self) -> bool {
        matches!(self, AlertType::BadgeDenied | AlertType::UnauthorizedPickup)
    }

    /// Chinese label for staff.
    pub fn label_zh(self) -> &'static str {
        match self {
            AlertType::RatioBreach => "师幼比不足",
            AlertType::UnsupervisedChildren => "幼儿无人看护",
            AlertType::CapacityExceeded => "班级人数超额",
            AlertType::DoorForced => "门被强行打开",
            AlertType::DoorHeldOpen => "门长时间未关",
            AlertType::BadgeDenied => "未登记卡片",
            AlertType::UnauthorizedPickup => "非监护人接走幼儿",
            AlertType::ChildNotCheckedOut => "幼儿未被接走",
            AlertType::TemperatureHigh => "室温过高",
            AlertType::TemperatureLow => "室温过低",
            AlertType::HumidityHigh => "湿度过高",
            AlertType::HumidityLow => "湿度过低",
            AlertType::SensorStale => "传感器无数据",
            AlertType::SensorFault => "传感器故障",
            AlertType::StoragePressure => "本地存储将满",
        }
    }

    /// English label for staff.
    pub fn label_en(self) -> &'static str {
        match self {
            AlertType::RatioBreach => "staff ratio breached",
            AlertType::UnsupervisedChildren => "children unsupervised",
            AlertType::CapacityExceeded => "room over capacity",
            AlertType::DoorForced => "door forced",
            AlertType::DoorHeldOpen => "door held open",
            AlertType::BadgeDenied => "unknown card",
            AlertType::UnauthorizedPickup => "pick-up by a non-guardian",
            AlertType::ChildNotCheckedOut => "child not picked up",
            AlertType::TemperatureHigh => "room too hot",
            AlertType::TemperatureLow => "room too cold",
            AlertType::HumidityHigh => "humidity too high",
            AlertType::HumidityLow => "humidity too low",
            AlertType::SensorStale => "sensor silent",
            AlertType::SensorFault => "sensor fault",
            AlertType::StoragePressure => "local storage nearly full",
        }
    }
}

impl std::fmt::Display for AlertType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Warning,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Raised,
    Resolved,
    /// The project's own, additive: a member of staff acknowledged the alert on the staff
    /// page (details `by`: the staff id). The alert stays open until resolved.
    Acknowledged,
}

/// One alert transition: the line `replay` prints and the `body` of an MQTT alert.
/// Field order is the contract's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub ts: DateTime<FixedOffset>,
    pub alert_id: String,
    #[serde(rename = "type")]
    pub alert_type: AlertType,
    pub severity: Severity,
    pub state: AlertState,
    pub subject: String,
    pub details: Map<String, Value>,
}

impl Transition {
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("transitions always serialize")
    }
}
