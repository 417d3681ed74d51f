//! Raising and resolving alerts, and the `details` each transition carries.
//!
//! `details` goes upstream in the MQTT alert body (contract section 4), so every shape is a
//! `Serialize` struct here, one per shape: a reader looking for what the platform receives
//! for a ratio breach finds [`Ratio`]. [`Transition`] keeps its `details` as a JSON object,
//! which is what the staff page, the summary and the journal read; the struct becomes
//! that object in one place, [`Details::to_map`].

use serde::Serialize;
use serde_json::{Map, Value};

use super::model::Limit;
use super::state::Active;
use super::{Dt, Engine};
use crate::alert::{AlertState, AlertType, Transition};

/// A shape of alert `details`.
pub(super) trait Details: Serialize {
    /// The details as the transition's JSON object. Every shape is a struct of named
    /// fields, which serde_json always turns into an object; the empty fallback is never
    /// taken (`every_details_shape_is_the_json_object_the_contract_names` pins each one).
    fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// No details: a door forced, and most resolutions.
#[derive(Serialize)]
pub(super) struct Nothing {}

/// `ratio_breach`: the children present, the staff who count, and how many are required.
#[derive(Serialize)]
pub(super) struct Ratio {
    pub children: u32,
    pub staff: u32,
    pub required: u32,
}

/// `unsupervised_children`: the children left without a counted adult.
#[derive(Serialize)]
pub(super) struct Unsupervised {
    pub children: u32,
}

/// `capacity_exceeded`: the children present and the room's capacity (`null` when the
/// room has none any more by the time it resolves).
#[derive(Serialize)]
pub(super) struct Capacity {
    pub children: u32,
    pub capacity: Option<u32>,
}

/// `door_held_open`: how long the door had been open when the alert was raised.
#[derive(Serialize)]
pub(super) struct DoorHeld {
    pub open_for_s: i64,
}

/// `badge_denied`: the card that no one on the roster holds.
#[derive(Serialize)]
pub(super) struct Badge<'a> {
    pub card: &'a str,
}

/// `unauthorized_pickup`: who took the child, when anyone was named.
#[derive(Serialize)]
pub(super) struct Pickup<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'a str>,
}

/// `child_not_checked_out`: the room the child is still in.
#[derive(Serialize)]
pub(super) struct NotCheckedOut<'a> {
    pub room: &'a str,
}

/// `temperature_high`/`temperature_low` and `humidity_high`/`humidity_low`: the value
/// that breached the limit (or cleared it, on resolution). `null` when the sensor never
/// gave one, which the engine never raises for.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Level {
    Temperature { celsius: Option<f64> },
    Humidity { humidity: Option<f64> },
}

impl Level {
    pub fn of(limit: Limit, value: Option<f64>) -> Level {
        if limit.is_temperature() {
            Level::Temperature { celsius: value }
        } else {
            Level::Humidity { humidity: value }
        }
    }
}

/// `sensor_stale`: the local time of the last reading, `null` if there never was one.
#[derive(Serialize)]
pub(super) struct Stale {
    pub last_reading: Option<String>,
}

/// `sensor_fault`: why, and the out-of-range values when that is why.
#[derive(Serialize)]
pub(super) struct Fault<'a> {
    pub reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub celsius: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub humidity: Option<f64>,
}

/// An `acknowledged` transition: the member of staff who acknowledged the alert.
#[derive(Serialize)]
pub(super) struct Acknowledged<'a> {
    pub by: &'a str,
}

/// `sleep_check_missed`: the room's interval, when the nap started and the latest check
/// (`null` if there was none).
#[derive(Serialize)]
pub(super) struct Missed {
    pub interval_s: i64,
    pub nap_since: String,
    pub last_check: Option<String>,
}

/// A `sleep_check_missed` resolved by a check: the member of staff who made it.
#[derive(Serialize)]
pub(super) struct Checked<'a> {
    pub by: &'a str,
}

/// `panic_untested`: the latest test press (`null` if none) and the interval.
#[derive(Serialize)]
pub(super) struct Untested {
    pub last_test: Option<String>,
    pub every_s: i64,
}

/// A `disposed` transition: what was done, by whom. Never the note.
#[derive(Serialize)]
pub(super) struct Disposed<'a> {
    pub action: &'a str,
    pub by: &'a str,
}

/// `staff_not_qualified`: the required certificate lacking, and its expiry when the
/// roster has one that has run out (`null` when the roster has none of that kind).
#[derive(Serialize)]
pub(super) struct NotQualified<'a> {
    pub certificate: &'a str,
    pub expires: Option<String>,
}

/// `certificate_expiring`: the certificate and its expiry (`YYYY-MM-DD`, the last valid
/// local date); on resolution, the later expiry the roster now gives (`null` when the
/// roster no longer lists it or it is no longer required).
#[derive(Serialize)]
pub(super) struct CertExpiry<'a> {
    pub certificate: &'a str,
    pub expires: Option<String>,
}

impl Details for NotQualified<'_> {}
impl Details for CertExpiry<'_> {}
impl Details for Untested {}
impl Details for Disposed<'_> {}
impl Details for Nothing {}
impl Details for Missed {}
impl Details for Checked<'_> {}
impl Details for Ratio {}
impl Details for Unsupervised {}
impl Details for Capacity {}
impl Details for DoorHeld {}
impl Details for Badge<'_> {}
impl Details for Pickup<'_> {}
impl Details for NotCheckedOut<'_> {}
impl Details for Level {}
impl Details for Stale {}
impl Details for Fault<'_> {}
impl Details for Acknowledged<'_> {}

impl Engine {
    /// Raises a new alert at `at`: a fresh id, a `raised` transition into `out`, and the
    /// open alert for the state to keep.
    pub(super) fn raise(
        &mut self,
        ty: AlertType,
        subject: &str,
        at: Dt,
        details: &impl Details,
        out: &mut Vec<Transition>,
    ) -> Active {
        self.s.next_alert_no += 1;
        let id = format!("A{}-{}", at.format("%Y%m%dT%H%M%SZ"), self.s.next_alert_no);
        out.push(self.transition(ty, subject, &id, AlertState::Raised, at, details));
        if ty.is_one_shot() {
            // Never open, so never resolved: remembered at once.
            self.remember(id.clone(), ty, subject);
        }
        Active {
            id,
            raised: at,
            ack: None,
            disposed: None,
        }
    }

    /// Resolves the open alert `a` at `at`; a disposition may still be recorded against it
    /// while it is among the [`RECENT`](super::state::RECENT) latest resolved.
    pub(super) fn resolve_alert(
        &mut self,
        ty: AlertType,
        subject: &str,
        a: Active,
        at: Dt,
        details: &impl Details,
        out: &mut Vec<Transition>,
    ) {
        out.push(self.transition(ty, subject, &a.id, AlertState::Resolved, at, details));
        self.remember(a.id, ty, subject);
    }

    /// An alert that is no longer open: a disposition may still name it for a while.
    fn remember(&mut self, id: String, ty: AlertType, subject: &str) {
        let recent = &mut self.s.recent;
        if recent.len() >= super::state::RECENT {
            recent.remove(0);
        }
        recent.push(super::state::Recent {
            id,
            ty,
            subject: subject.to_string(),
        });
    }

    pub(super) fn transition(
        &self,
        ty: AlertType,
        subject: &str,
        id: &str,
        state: AlertState,
        at: Dt,
        details: &impl Details,
    ) -> Transition {
        Transition {
            ts: self.local(at),
            alert_id: id.to_string(),
            alert_type: ty,
            severity: ty.severity(),
            state,
            subject: subject.to_string(),
            details: details.to_map(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(d: &impl Details) -> String {
        Value::Object(d.to_map()).to_string()
    }

    #[test]
    fn every_details_shape_is_the_json_object_the_contract_names() {
        let shapes = [
            (text(&Nothing {}), r#"{}"#),
            (
                text(&Ratio {
                    children: 4,
                    staff: 1,
                    required: 2,
                }),
                r#"{"children":4,"required":2,"staff":1}"#,
            ),
            (text(&Unsupervised { children: 3 }), r#"{"children":3}"#),
            (
                text(&Capacity {
                    children: 11,
                    capacity: Some(10),
                }),
                r#"{"capacity":10,"children":11}"#,
            ),
            (
                text(&Capacity {
                    children: 0,
                    capacity: None,
                }),
                r#"{"capacity":null,"children":0}"#,
            ),
            (text(&DoorHeld { open_for_s: 60 }), r#"{"open_for_s":60}"#),
            (text(&Badge { card: "99999" }), r#"{"card":"99999"}"#),
            (text(&Pickup { by: Some("g-02") }), r#"{"by":"g-02"}"#),
            (text(&Pickup { by: None }), r#"{}"#),
            (
                text(&NotCheckedOut { room: "infant" }),
                r#"{"room":"infant"}"#,
            ),
            (
                text(&Level::of(Limit::TempHigh, Some(29.5))),
                r#"{"celsius":29.5}"#,
            ),
            (
                text(&Level::of(Limit::TempLow, None)),
                r#"{"celsius":null}"#,
            ),
            (
                text(&Level::of(Limit::HumHigh, Some(75.0))),
                r#"{"humidity":75.0}"#,
            ),
            (
                text(&Stale {
                    last_reading: Some("2026-03-02T09:43:03+08:00".into()),
                }),
                r#"{"last_reading":"2026-03-02T09:43:03+08:00"}"#,
            ),
            (
                text(&Stale { last_reading: None }),
                r#"{"last_reading":null}"#,
            ),
            (
                text(&Fault {
                    reason: "crc",
                    celsius: None,
                    humidity: None,
                }),
                r#"{"reason":"crc"}"#,
            ),
            (
                text(&Fault {
                    reason: "out_of_range",
                    celsius: Some(85.0),
                    humidity: Some(45.0),
                }),
                r#"{"celsius":85.0,"humidity":45.0,"reason":"out_of_range"}"#,
            ),
            (text(&Acknowledged { by: "s-01" }), r#"{"by":"s-01"}"#),
            (
                text(&Missed {
                    interval_s: 900,
                    nap_since: "2026-03-02T12:30:00+08:00".into(),
                    last_check: None,
                }),
                r#"{"interval_s":900,"last_check":null,"nap_since":"2026-03-02T12:30:00+08:00"}"#,
            ),
            (text(&Checked { by: "s-02" }), r#"{"by":"s-02"}"#),
            (
                text(&NotQualified {
                    certificate: "health",
                    expires: Some("2026-02-28".into()),
                }),
                r#"{"certificate":"health","expires":"2026-02-28"}"#,
            ),
            (
                text(&NotQualified {
                    certificate: "caregiver",
                    expires: None,
                }),
                r#"{"certificate":"caregiver","expires":null}"#,
            ),
            (
                text(&CertExpiry {
                    certificate: "health",
                    expires: Some("2026-03-20".into()),
                }),
                r#"{"certificate":"health","expires":"2026-03-20"}"#,
            ),
        ];
        for (got, want) in shapes {
            assert_eq!(got, want);
        }
    }
}
