//! Rule-by-rule tests of the engine, boundaries included, one file per concern, plus
//! property tests that the transitions do not depend on how events are batched or on a
//! snapshot in between, and the engine's clock through `replay` across time-zone changes.
//!
//! Here: the test roster (向日葵, Asia/Shanghai) and the helpers every file uses.

mod attendance;
mod clock;
mod doors;
mod properties;
mod rooms;
mod sensors;
mod snapshot;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::json;

use super::{Engine, Rejection, Snapshot};
use crate::alert::{AlertState, AlertState::*, AlertType, AlertType::*, Transition};
use crate::config::Config;
use crate::event::Event;

const BASE: &str = r#"
[facility]
id = "310115-0042"
name = "向日葵托育园"
timezone = "Asia/Shanghai"
ratio_preset = "cn-2019"
open = "07:30"
close = "18:00"

[[rooms]]
id = "infant"
name = "乳儿班"

[[rooms]]
id = "toddler"
name = "托小班"

[[doors]]
id = "entrance"

[[readers]]
id = "entrance-reader"
purpose = "access"
door = "entrance"

[[readers]]
id = "kiosk"
purpose = "attendance"

[[readers]]
id = "toddler-reader"
purpose = "room"
room = "toddler"

[[sensors]]
id = "t-infant"
room = "infant"

[[staff]]
id = "s-01"
name = "王老师"
card = "10001"
role = "caregiver"
room = "infant"

[[staff]]
id = "s-02"
name = "李老师"
card = "10002"
role = "teacher"
room = "infant"

[[staff]]
id = "s-cook"
name = "张师傅"
card = "10009"
role = "cook"
room = "infant"

[[staff]]
id = "s-nurse"
name = "赵医生"
role = "health"
room = "infant"
counts_in_ratio = true

[[guardians]]
id = "g-01"
name = "李女士"
card = "20001"

[[guardians]]
id = "g-02"
name = "陈先生"
card = "20002"
"#;

/// Four children born 2025-06-15 (8 months on 2026-03-02), one born 2025-03-02 (turns 12
/// months on 2026-03-02), and extra rows as needed.
fn config_with(extra: &str) -> Config {
    let mut text = String::from(BASE);
    for (i, born) in [
        "2025-06-15",
        "2025-06-15",
        "2025-06-15",
        "2025-06-15",
        "2025-03-02",
    ]
    .iter()
    .enumerate()
    {
        text.push_str(&format!(
            "\n[[children]]\nid = \"c-0{}\"\nname = \"孩子{}\"\nbirth_date = \"{born}\"\nroom = \"infant\"\nguardians = [\"g-01\"]\n",
            i + 1,
            i + 1
        ));
    }
    text.push_str(extra);
    toml::from_str(&text).expect("test config parses")
}

fn config() -> Config {
    config_with("")
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
