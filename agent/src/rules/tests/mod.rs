//! Rule-by-rule tests of the engine, boundaries included, one file per concern, plus
//! property tests that the transitions do not depend on how events are batched or on a
//! snapshot in between, and the engine's clock through `replay` across time-zone changes.
//!
//! Here: the test roster (向日葵, Asia/Shanghai) and the helpers every file uses.

mod attendance;
mod clock;
mod clock_jump;
mod doors;
mod emergency;
mod health;
mod inputs;
mod jumps;
mod naps;
mod people;
mod properties;
mod reload;
mod rooms;
mod sensors;
mod snapshot;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::json;

use super::{Engine, Rejection, Snapshot};
use crate::alert::{AlertState, AlertState::*, AlertType, AlertType::*, Transition};
use crate::config::Config;
use crate::event::Event;
use nursery_testkit::{Child, Roster};

/// The kit's 向日葵 roster with four children born 2025-06-15 (8 months on 2026-03-02) and
/// one born 2025-03-02 (turns 12 months on 2026-03-02), `c-01` … `c-05`.
fn roster() -> Roster {
    Roster::sunflower().children(
        "infant",
        &[
            "2025-06-15",
            "2025-06-15",
            "2025-06-15",
            "2025-06-15",
            "2025-03-02",
        ],
    )
}

/// `count` children `{prefix}-{i}` (from `i = first`) born on `born`, in the infant room,
/// picked up by `g-01`.
fn born_on(prefix: &str, first: usize, count: usize, born: &str) -> Vec<Child> {
    (first..first + count)
        .map(|i| Child::new(&format!("{prefix}-{i}"), prefix, born, "infant").guardians(["g-01"]))
        .collect()
}

/// A roster as the engine reads it.
fn config_of(roster: Roster) -> Config {
    toml::from_str(&roster.toml()).expect("test config parses")
}

fn config() -> Config {
    config_of(roster())
}

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(&format!("2026-03-02T{s}+08:00")).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    t(s).with_timezone(&Utc)
}

fn att(at: &str, person: &str, action: &str, extra: serde_json::Value) -> Event {
    let mut v = json!({"ts": t(at), "type": "attendance", "person": person, "action": action});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(v).unwrap()
}

fn ev(at: &str, v: serde_json::Value) -> Event {
    let mut v = v;
    v.as_object_mut().unwrap().insert("ts".into(), json!(t(at)));
    serde_json::from_value(v).unwrap()
}

fn run(engine: &mut Engine, events: &[Event]) -> Vec<Transition> {
    events
        .iter()
        .flat_map(|e| engine.on_event(e).unwrap_or_else(|r| panic!("{e:?}: {r}")))
        .collect()
}

/// The transitions as (type, state, subject, local time), leaving out `sensor_stale`: the
/// test roster's sensor goes silent in every test that sends no readings.
fn kinds(ts: &[Transition]) -> Vec<(AlertType, AlertState, String, String)> {
    ts.iter()
        .filter(|t| t.alert_type != SensorStale)
        .map(|t| {
            (
                t.alert_type,
                t.state,
                t.subject.clone(),
                t.ts.format("%H:%M:%S").to_string(),
            )
        })
        .collect()
}

fn stale(ts: &[Transition]) -> Vec<(AlertState, String)> {
    ts.iter()
        .filter(|t| t.alert_type == SensorStale)
        .map(|t| (t.state, t.ts.format("%H:%M:%S").to_string()))
        .collect()
}

fn k(
    ty: AlertType,
    st: AlertState,
    subject: &str,
    at: &str,
) -> (AlertType, AlertState, String, String) {
    (ty, st, subject.to_string(), at.to_string())
}

/// Four infants (ratio 1:3 → 2 required) with two caregivers, all in by 08:00.
fn morning() -> Vec<Event> {
    vec![
        att("07:40:00", "s-01", "check_in", json!({})),
        att("07:41:00", "s-02", "check_in", json!({})),
        att("07:50:00", "c-01", "check_in", json!({})),
        att("07:51:00", "c-02", "check_in", json!({})),
        att("07:52:00", "c-03", "check_in", json!({})),
        att("07:53:00", "c-04", "check_in", json!({})),
    ]
}

fn reading(at: &str, c: f64) -> Event {
    ev(
        at,
        json!({"type": "reading", "sensor": "t-infant", "celsius": c}),
    )
}
