//! Event lines (contract section 3) as the agent reads them: one JSON object, `ts` first,
//! then `type`, then the event's fields in the contract's order.
//!
//! ```
//! use nursery_testkit::ev;
//! let day = ev::Day::new("2026-03-02", "+08:00");
//! assert_eq!(
//!     ev::badge(day.at("07:31:05"), "entrance-reader", "10001"),
//!     r#"{"ts":"2026-03-02T07:31:05+08:00","type":"badge","reader":"entrance-reader","card":"10001"}"#
//! );
//! // Without a time, as a live feed sends it (the agent stamps it on arrival):
//! assert_eq!(
//!     ev::check_in(ev::NOW, "c-01"),
//!     r#"{"type":"attendance","person":"c-01","action":"check_in"}"#
//! );
//! ```

use chrono::{DateTime, TimeZone};
use serde_json::Value;

/// When an event happened: an RFC 3339 time with an offset, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ts(Option<String>);

/// No `ts`: the line of a live feed, stamped by the agent on arrival.
pub const NOW: Ts = Ts(None);

impl From<&str> for Ts {
    fn from(s: &str) -> Ts {
        Ts(Some(s.to_string()))
    }
}

impl From<String> for Ts {
    fn from(s: String) -> Ts {
        Ts(Some(s))
    }
}

impl From<&String> for Ts {
    fn from(s: &String) -> Ts {
        Ts(Some(s.clone()))
    }
}

impl<Tz: TimeZone> From<DateTime<Tz>> for Ts {
    fn from(t: DateTime<Tz>) -> Ts {
        Ts(Some(t.fixed_offset().to_rfc3339()))
    }
}

impl<Tz: TimeZone> From<&DateTime<Tz>> for Ts {
    fn from(t: &DateTime<Tz>) -> Ts {
        Ts(Some(t.fixed_offset().to_rfc3339()))
    }
}

/// One local day with a fixed offset, for writing times briefly: `day.at("09:15")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    date: String,
    offset: String,
}

impl Day {
    /// `date` as `YYYY-MM-DD`, `offset` as `+08:00` (or `Z`).
    pub fn new(date: &str, offset: &str) -> Day {
        Day {
            date: date.to_string(),
            offset: offset.to_string(),
        }
    }

    /// `HH:MM` or `HH:MM:SS` on this day, as RFC 3339.
    pub fn at(&self, time: &str) -> String {
        let seconds = if time.len() == 5 { ":00" } else { "" };
        format!("{}T{time}{seconds}{}", self.date, self.offset)
    }
}

/// Any event: `type` and its fields, in the order given. For the unusual (an unknown type,
/// a missing field, a value of the wrong kind).
pub fn line(ts: impl Into<Ts>, kind: &str, fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    if let Ts(Some(ts)) = ts.into() {
        out.push_str("\"ts\":");
        out.push_str(&Value::from(ts).to_string());
        out.push(',');
    }
    out.push_str("\"type\":");
    out.push_str(&Value::from(kind).to_string());
    for (k, v) in fields {
        out.push(',');
        out.push_str(&Value::from(*k).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    }
    out.push('}');
    out
}

fn s(v: &str) -> Value {
    Value::from(v)
}

/// A card presented at a reader.
pub fn badge(ts: impl Into<Ts>, reader: &str, card: &str) -> String {
    line(ts, "badge", &[("reader", s(reader)), ("card", s(card))])
}

/// A door contact: `state` is `"open"` or `"closed"`.
pub fn door(ts: impl Into<Ts>, door: &str, state: &str) -> String {
    line(ts, "door", &[("door", s(door)), ("state", s(state))])
}

pub fn door_open(ts: impl Into<Ts>, id: &str) -> String {
    door(ts, id, "open")
}

pub fn door_closed(ts: impl Into<Ts>, id: &str) -> String {
    door(ts, id, "closed")
}

pub fn exit_button(ts: impl Into<Ts>, door: &str) -> String {
    line(ts, "exit_button", &[("door", s(door))])
}

/// An attendance record; `room` and `by` only when given.
pub fn attendance(
    ts: impl Into<Ts>,
    person: &str,
    action: &str,
    room: Option<&str>,
    by: Option<&str>,
) -> String {
    let mut fields = vec![("person", s(person)), ("action", s(action))];
    if let Some(room) = room {
        fields.push(("room", s(room)));
    }
    if let Some(by) = by {
        fields.push(("by", s(by)));
    }
    line(ts, "attendance", &fields)
}

/// Checked in to the person's home room.
pub fn check_in(ts: impl Into<Ts>, person: &str) -> String {
    attendance(ts, person, "check_in", None, None)
}

/// Checked in to `room`.
pub fn check_in_to(ts: impl Into<Ts>, person: &str, room: &str) -> String {
    attendance(ts, person, "check_in", Some(room), None)
}

/// Checked out with no `by` (for a child: an unauthorised pick-up).
pub fn check_out(ts: impl Into<Ts>, person: &str) -> String {
    attendance(ts, person, "check_out", None, None)
}

/// A child checked out by `by`.
pub fn pick_up(ts: impl Into<Ts>, child: &str, by: &str) -> String {
    attendance(ts, child, "check_out", None, Some(by))
}

/// A checked-in person moves to `room`.
pub fn move_to(ts: impl Into<Ts>, person: &str, room: &str) -> String {
    attendance(ts, person, "move", Some(room), None)
}

/// A reading with `celsius` and/or `humidity` (percent); neither makes an empty reading.
pub fn reading(
    ts: impl Into<Ts>,
    sensor: &str,
    celsius: impl Into<Option<f64>>,
    humidity: impl Into<Option<f64>>,
) -> String {
    let mut fields = vec![("sensor", s(sensor))];
    if let Some(c) = celsius.into() {
        fields.push(("celsius", Value::from(c)));
    }
    if let Some(h) = humidity.into() {
        fields.push(("humidity", Value::from(h)));
    }
    line(ts, "reading", &fields)
}

pub fn sensor_fault(ts: impl Into<Ts>, sensor: &str, reason: &str) -> String {
    line(
        ts,
        "sensor_fault",
        &[("sensor", s(sensor)), ("reason", s(reason))],
    )
}

/// The project's additive event: staff `by` acknowledged `alert_id` on the staff page.
pub fn acknowledge(ts: impl Into<Ts>, alert_id: &str, by: &str) -> String {
    line(
        ts,
        "acknowledge",
        &[("alert_id", s(alert_id)), ("by", s(by))],
    )
}

/// The project's additive event: the agent (re)started.
pub fn agent_started(ts: impl Into<Ts>) -> String {
    line(ts, "agent_started", &[])
}

/// Lines as an event log: each followed by a newline.
pub fn log<S: AsRef<str>>(lines: &[S]) -> String {
    let mut out = String::new();
    for l in lines {
        out.push_str(l.as_ref());
        out.push('\n');
    }
    out
}
