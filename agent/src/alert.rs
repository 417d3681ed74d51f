//! Alerts (contract section 4): one JSON object per transition.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use strum::VariantArray;

use crate::names::serde_name;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, VariantArray,
)]
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
    /// Contract section 10: a nap under way with children in the room and no sleep check
    /// for the room's interval (subject: the room).
    SleepCheckMissed,
    /// Contract section 10: a panic input (一键报警) became active; resolved by a
    /// disposition.
    PanicButton,
    /// Contract section 10: a fire input became active; resolved when it clears.
    FireAlarm,
    /// Contract section 10: at `open`, no test press of a panic input within
    /// `panic_test_every`.
    PanicUntested,
    /// Contract section 10: an emergency started `roll_call_within` ago and someone checked
    /// in at its start is not accounted for (subject: the facility).
    RollCallIncomplete,
    /// Contract section 10: at `open`, no drill ended within `drill_every` (subject: the
    /// facility).
    DrillOverdue,
    /// Contract section 10: a child checked in with no health check (晨午检)
    /// `health_check_within` after check-in.
    HealthCheckMissing,
    /// Contract section 10: a health check at or above `fever_c`, or `refer`.
    HealthCheckFailed,
    /// Contract section 10: at `arrival_deadline` on one of the child's days, the child is
    /// neither checked in nor reported absent.
    ChildAbsentUnreported,
    /// Contract section 10: a member of staff who counts toward ratios checks in lacking a
    /// valid required certificate (one-shot; subject: the staff id).
    StaffNotQualified,
    /// Contract section 10: at `open`, a required certificate is still valid but expires
    /// within `certificate_warning`; resolved when the roster gives it a later expiry.
    CertificateExpiring,
}

impl AlertType {
    /// Every alert type, in declaration order.
    pub const ALL: &'static [AlertType] = <AlertType as VariantArray>::VARIANTS;

    /// The contract's name (`"ratio_breach"`): the serde name, written once above.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }

    pub fn severity(self) -> Severity {
        match self {
            AlertType::RatioBreach
            | AlertType::UnsupervisedChildren
            | AlertType::DoorForced
            | AlertType::UnauthorizedPickup
            | AlertType::ChildNotCheckedOut
            | AlertType::SleepCheckMissed
            | AlertType::PanicButton
            | AlertType::FireAlarm
            | AlertType::RollCallIncomplete
            | AlertType::HealthCheckFailed => Severity::Critical,
            _ => Severity::Warning,
        }
    }

    /// One-shot alerts are only ever raised.
    pub fn is_one_shot(self) -> bool {
        matches!(
            self,
            AlertType::BadgeDenied | AlertType::UnauthorizedPickup | AlertType::StaffNotQualified
        )
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
            AlertType::SleepCheckMissed => "午睡巡查超时",
            AlertType::PanicButton => "一键报警",
            AlertType::FireAlarm => "火警",
            AlertType::PanicUntested => "一键报警未测试",
            AlertType::RollCallIncomplete => "紧急点名未完成",
            AlertType::DrillOverdue => "应急演练逾期",
            AlertType::HealthCheckMissing => "未做晨午检",
            AlertType::HealthCheckFailed => "晨午检异常",
            AlertType::ChildAbsentUnreported => "幼儿未到且未请假",
            AlertType::StaffNotQualified => "人员未持有效证件",
            AlertType::CertificateExpiring => "证件即将到期",
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
            AlertType::SleepCheckMissed => "sleep check missed",
            AlertType::PanicButton => "panic button pressed",
            AlertType::FireAlarm => "fire alarm",
            AlertType::PanicUntested => "panic button untested",
            AlertType::RollCallIncomplete => "roll call incomplete",
            AlertType::DrillOverdue => "drill overdue",
            AlertType::HealthCheckMissing => "health check missing",
            AlertType::HealthCheckFailed => "health check failed",
            AlertType::ChildAbsentUnreported => "child absent, not reported",
            AlertType::StaffNotQualified => "staff member not qualified",
            AlertType::CertificateExpiring => "certificate expiring",
        }
    }
}

impl std::fmt::Display for AlertType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, VariantArray,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Warning,
}

impl Severity {
    pub const ALL: &'static [Severity] = <Severity as VariantArray>::VARIANTS;

    /// `"critical"`, `"warning"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Raised,
    Resolved,
    /// The project's own, additive: a member of staff acknowledged the alert on the staff
    /// page (details `by`: the staff id). The alert stays open until resolved.
    Acknowledged,
    /// Contract section 10: a member of staff recorded what was done about the alert
    /// (details `action` and `by`; the note stays on the device).
    Disposed,
}

impl AlertState {
    pub const ALL: &'static [AlertState] = <AlertState as VariantArray>::VARIANTS;

    /// `"raised"`, `"resolved"`, `"acknowledged"`: the serde name.
    pub fn as_str(self) -> &'static str {
        serde_name(&self)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` is what serde writes and reads, for every variant of `ALL`, and `ALL` has
    /// each variant once.
    fn names_agree_with_serde<T>(all: &[T], as_str: fn(&T) -> &'static str)
    where
        T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        for (i, v) in all.iter().enumerate() {
            let name = as_str(v);
            assert_eq!(serde_json::to_string(v).unwrap(), format!("\"{name}\""));
            let back: T = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(&back, v);
            assert!(!all[..i].contains(v), "{v:?} listed twice");
        }
    }

    #[test]
    fn alert_strings_are_the_serde_names_for_every_variant() {
        names_agree_with_serde(AlertType::ALL, |t| t.as_str());
        names_agree_with_serde(Severity::ALL, |s| s.as_str());
        names_agree_with_serde(AlertState::ALL, |s| s.as_str());
        assert_eq!(AlertType::ALL.len(), 26);
        assert_eq!(AlertType::RatioBreach.as_str(), "ratio_breach");
        assert_eq!(AlertType::StoragePressure.to_string(), "storage_pressure");
        assert_eq!(Severity::Critical.as_str(), "critical");
        assert_eq!(AlertState::Acknowledged.as_str(), "acknowledged");
    }
}
