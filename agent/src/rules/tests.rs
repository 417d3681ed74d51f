//! Rule-by-rule tests of the engine, boundaries included, plus property tests that the
//! transitions do not depend on how events are batched or on a snapshot in between.

use chrono::{DateTime, FixedOffset, Utc};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::alert::{AlertState::*, AlertType::*};

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

#[test]
fn a_silent_sensor_counts_from_the_agents_restart_not_from_before() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &[reading("07:00:00", 22.0)]);
    e.agent_started(utc("09:00:00"));
    assert_eq!(e.next_due(), Some(utc("09:05:00")));
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

#[test]
fn a_staffed_morning_raises_nothing() {
    let mut e = Engine::new(&config()).unwrap();
    assert!(kinds(&run(&mut e, &morning())).is_empty());
    let f = &e.rooms()[0];
    assert_eq!((f.children, f.counted_staff, f.required), (4, 2, 2));
}

#[test]
fn ratio_breach_waits_for_the_grace_period_and_carries_its_due_time() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let out = run(
        &mut e,
        &[att("09:15:00", "s-02", "move", json!({"room": "toddler"}))],
    );
    assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
    assert!(kinds(&e.on_tick(utc("09:15:59"))).is_empty());
    assert_eq!(e.next_due(), Some(utc("09:16:00")));
    let out = e.on_tick(utc("09:20:00"));
    assert_eq!(
        kinds(&out),
        vec![k(RatioBreach, Raised, "infant", "09:16:00")]
    );
    assert_eq!(
        out[0].details,
        json!({"children": 4, "staff": 1, "required": 2})
            .as_object()
            .unwrap()
            .clone()
    );
    assert_eq!(out[0].severity, crate::alert::Severity::Critical);
    let back = run(
        &mut e,
        &[att("09:21:00", "s-02", "move", json!({"room": "infant"}))],
    );
    assert_eq!(
        kinds(&back),
        vec![k(RatioBreach, Resolved, "infant", "09:21:00")]
    );
    assert_eq!(back[0].alert_id, out[0].alert_id);
}

#[test]
fn a_shortfall_shorter_than_the_grace_raises_nothing() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let out = run(
        &mut e,
        &[
            att("09:15:00", "s-02", "check_out", json!({})),
            att("09:15:59", "s-02", "check_in", json!({})),
        ],
    );
    assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
    assert!(kinds(&e.on_tick(utc("10:00:00"))).is_empty());
}

#[test]
fn a_shortfall_lasting_exactly_the_grace_is_a_breach() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let out = run(
        &mut e,
        &[
            att("09:15:00", "s-02", "check_out", json!({})),
            att("09:16:00", "s-02", "check_in", json!({})),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(RatioBreach, Raised, "infant", "09:16:00"),
            k(RatioBreach, Resolved, "infant", "09:16:00")
        ]
    );
}

#[test]
fn a_child_turning_twelve_months_today_is_judged_in_the_older_band() {
    // c-05 was born 2025-03-02: 12 months on 2026-03-02 (ratio 1:5, not 1:3).
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            att("07:40:00", "s-01", "check_in", json!({})),
            att("07:50:00", "c-01", "check_in", json!({})),
            att("07:51:00", "c-02", "check_in", json!({})),
            att("07:52:00", "c-03", "check_in", json!({})),
            att("07:53:00", "c-05", "check_in", json!({})),
        ],
    );
    // 3/3 + 1/5 = 6/5 → 2 required, 1 present.
    let f = &e.rooms()[0];
    assert_eq!(f.by_band, vec![3, 1, 0]);
    assert_eq!(f.required, 2);
    assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
    let out = e.on_tick(utc("07:54:00"));
    assert_eq!(
        kinds(&out),
        vec![k(RatioBreach, Raised, "infant", "07:54:00")]
    );
}

#[test]
fn a_day_earlier_the_same_child_is_still_an_infant() {
    let mut e = Engine::new(&config()).unwrap();
    let day_before = |s: &str| {
        let mut v = att(s, "c-05", "check_in", json!({}));
        v.ts = Some(DateTime::parse_from_rfc3339(&format!("2026-03-01T{s}+08:00")).unwrap());
        v
    };
    let mut s = att("07:40:00", "s-01", "check_in", json!({}));
    s.ts = Some(DateTime::parse_from_rfc3339("2026-03-01T07:40:00+08:00").unwrap());
    e.on_event(&s).unwrap();
    e.on_event(&day_before("07:50:00")).unwrap();
    assert_eq!(e.rooms()[0].by_band, vec![1, 0, 0]);
}

#[test]
fn children_moving_up_a_band_at_midnight_can_end_a_breach() {
    // Four children all turning 12 months at local midnight: 4/3 → 2 required before,
    // 4/5 → 1 required after.
    let mut cfg_text = String::from(BASE);
    for i in 1..=4 {
        cfg_text.push_str(&format!(
            "\n[[children]]\nid = \"m-{i}\"\nname = \"m\"\nbirth_date = \"2025-03-03\"\nroom = \"infant\"\nguardians = [\"g-01\"]\n"
        ));
    }
    let cfg: Config = toml::from_str(&cfg_text).unwrap();
    let mut e = Engine::new(&cfg).unwrap();
    let mut evs = vec![att("20:00:00", "s-01", "check_in", json!({}))];
    for i in 1..=4 {
        evs.push(att("20:01:00", &format!("m-{i}"), "check_in", json!({})));
    }
    run(&mut e, &evs);
    let out = e.on_tick(utc("23:59:00"));
    assert!(out
        .iter()
        .any(|t| t.alert_type == RatioBreach && t.state == Raised));
    let midnight: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-03-03T00:00:00+08:00")
        .unwrap()
        .into();
    let out = e.on_tick(midnight);
    assert_eq!(
        kinds(&out).iter().filter(|x| x.0 == RatioBreach).count(),
        1,
        "{out:?}"
    );
    assert_eq!(
        out.iter()
            .find(|x| x.alert_type == RatioBreach)
            .unwrap()
            .state,
        Resolved
    );
}

#[test]
fn a_cook_does_not_count_toward_the_ratio() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            att("07:40:00", "s-cook", "check_in", json!({})),
            att("07:50:00", "c-01", "check_in", json!({})),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![k(UnsupervisedChildren, Raised, "infant", "07:50:00")]
    );
    assert_eq!(e.rooms()[0].staff_present, 1);
    assert_eq!(e.rooms()[0].counted_staff, 0);
    // One child needs one counted adult, so the shortfall is also a ratio breach after grace.
    let out = run(&mut e, &[att("07:55:00", "s-01", "check_in", json!({}))]);
    assert_eq!(
        kinds(&out),
        vec![
            k(RatioBreach, Raised, "infant", "07:51:00"),
            k(RatioBreach, Resolved, "infant", "07:55:00"),
            k(UnsupervisedChildren, Resolved, "infant", "07:55:00"),
        ]
    );
}

#[test]
fn a_health_worker_counts_when_the_roster_says_so() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            att("07:40:00", "s-nurse", "check_in", json!({})),
            att("07:50:00", "c-01", "check_in", json!({})),
        ],
    );
    assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
}

#[test]
fn unsupervised_and_ratio_alerts_rise_and_fall_with_the_last_adult() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let out = run(
        &mut e,
        &[
            att("10:00:00", "s-01", "move", json!({"room": "toddler"})),
            att("10:00:00", "s-02", "move", json!({"room": "toddler"})),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![k(UnsupervisedChildren, Raised, "infant", "10:00:00")]
    );
    let out = e.on_tick(utc("10:05:00"));
    assert_eq!(
        kinds(&out),
        vec![k(RatioBreach, Raised, "infant", "10:01:00")]
    );
    assert_eq!(out[0].details["staff"], json!(0));
}

#[test]
fn the_last_child_leaving_resolves_the_breach() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    run(&mut e, &[att("16:00:00", "s-02", "check_out", json!({}))]);
    e.on_tick(utc("16:02:00"));
    let mut out = vec![];
    for c in ["c-01", "c-02", "c-03", "c-04"] {
        out.extend(run(
            &mut e,
            &[att("16:10:00", c, "check_out", json!({"by": "g-01"}))],
        ));
    }
    // 4 → 3 children needs one caregiver: the breach ends with the first departure.
    assert_eq!(
        kinds(&out),
        vec![k(RatioBreach, Resolved, "infant", "16:10:00")]
    );
}

#[test]
fn a_grant_ten_seconds_before_opening_authorises_the_door_and_eleven_does_not() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "badge", "reader": "entrance-reader", "card": "20001"}),
            ),
            ev(
                "08:00:10",
                json!({"type": "door", "door": "entrance", "state": "open"}),
            ),
            ev(
                "08:00:15",
                json!({"type": "door", "door": "entrance", "state": "closed"}),
            ),
            ev(
                "08:10:00",
                json!({"type": "exit_button", "door": "entrance"}),
            ),
            ev(
                "08:10:11",
                json!({"type": "door", "door": "entrance", "state": "open"}),
            ),
            ev(
                "08:10:20",
                json!({"type": "door", "door": "entrance", "state": "closed"}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(DoorForced, Raised, "entrance", "08:10:11"),
            k(DoorForced, Resolved, "entrance", "08:10:20")
        ]
    );
}

#[test]
fn a_door_held_open_raises_at_its_due_time_and_closing_resolves_everything() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "door", "door": "entrance", "state": "open"}),
            ),
            ev(
                "08:05:00",
                json!({"type": "badge", "reader": "entrance-reader", "card": "10001"}),
            ),
            ev(
                "08:05:30",
                json!({"type": "door", "door": "entrance", "state": "closed"}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(DoorForced, Raised, "entrance", "08:00:00"),
            k(DoorHeldOpen, Raised, "entrance", "08:01:00"),
            k(DoorForced, Resolved, "entrance", "08:05:30"),
            k(DoorHeldOpen, Resolved, "entrance", "08:05:30"),
        ]
    );
}

#[test]
fn an_unknown_card_is_denied_at_any_reader_once_per_presentation() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "badge", "reader": "kiosk", "card": "99999"}),
            ),
            ev(
                "08:00:01",
                json!({"type": "badge", "reader": "entrance-reader", "card": "99999"}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(BadgeDenied, Raised, "kiosk", "08:00:00"),
            k(BadgeDenied, Raised, "entrance-reader", "08:00:01")
        ]
    );
    assert_eq!(out[0].details["card"], json!("99999"));
    assert_ne!(out[0].alert_id, out[1].alert_id);
}

#[test]
fn staff_cards_check_in_and_out_at_the_kiosk_and_move_at_room_readers() {
    let mut e = Engine::new(&config()).unwrap();
    run(
        &mut e,
        &[ev(
            "07:40:00",
            json!({"type": "badge", "reader": "kiosk", "card": "10001"}),
        )],
    );
    assert_eq!(
        e.occupancy(),
        vec![("s-01".to_string(), "infant".to_string())]
    );
    run(
        &mut e,
        &[ev(
            "09:00:00",
            json!({"type": "badge", "reader": "toddler-reader", "card": "10001"}),
        )],
    );
    assert_eq!(
        e.occupancy(),
        vec![("s-01".to_string(), "toddler".to_string())]
    );
    run(
        &mut e,
        &[ev(
            "17:00:00",
            json!({"type": "badge", "reader": "kiosk", "card": "10001"}),
        )],
    );
    assert!(e.occupancy().is_empty());
    // A staff member not checked in is checked in by a room reader.
    run(
        &mut e,
        &[ev(
            "17:01:00",
            json!({"type": "badge", "reader": "toddler-reader", "card": "10002"}),
        )],
    );
    assert_eq!(
        e.occupancy(),
        vec![("s-02".to_string(), "toddler".to_string())]
    );
}

#[test]
fn a_pickup_by_a_stranger_or_by_nobody_is_flagged_and_the_child_leaves_anyway() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let out = run(
        &mut e,
        &[
            att("16:00:00", "c-01", "check_out", json!({"by": "g-02"})),
            att("16:01:00", "c-02", "check_out", json!({})),
            att("16:02:00", "c-03", "check_out", json!({"by": "g-01"})),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(UnauthorizedPickup, Raised, "c-01", "16:00:00"),
            k(UnauthorizedPickup, Raised, "c-02", "16:01:00")
        ]
    );
    assert_eq!(out[0].details["by"], json!("g-02"));
    assert_eq!(e.rooms()[0].children, 1);
}

#[test]
fn checking_in_twice_or_out_twice_changes_nothing() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let out = run(
        &mut e,
        &[
            att("09:00:00", "c-01", "check_in", json!({"room": "toddler"})),
            att("16:00:00", "c-02", "check_out", json!({"by": "g-01"})),
            att("16:01:00", "c-02", "check_out", json!({})),
        ],
    );
    assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
    assert_eq!(e.rooms()[0].children, 3);
}

#[test]
fn a_child_still_in_at_close_plus_grace_is_flagged_until_picked_up() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    for c in ["c-02", "c-03", "c-04"] {
        run(
            &mut e,
            &[att("17:00:00", c, "check_out", json!({"by": "g-01"}))],
        );
    }
    assert!(kinds(&e.on_tick(utc("18:14:59"))).is_empty());
    let out = e.on_tick(utc("18:30:00"));
    assert_eq!(
        kinds(&out),
        vec![k(ChildNotCheckedOut, Raised, "c-01", "18:15:00")]
    );
    let out = run(
        &mut e,
        &[att("18:40:00", "c-01", "check_out", json!({"by": "g-01"}))],
    );
    assert_eq!(
        kinds(&out)
            .into_iter()
            .filter(|x| x.0 == ChildNotCheckedOut)
            .collect::<Vec<_>>(),
        vec![k(ChildNotCheckedOut, Resolved, "c-01", "18:40:00")]
    );
}

#[test]
fn eighty_five_degrees_is_a_sensor_fault_not_a_hot_room() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "reading", "sensor": "t-infant", "celsius": 85.0}),
            ),
            ev(
                "08:30:00",
                json!({"type": "reading", "sensor": "t-infant", "celsius": 85.0}),
            ),
            ev(
                "08:31:00",
                json!({"type": "reading", "sensor": "t-infant", "celsius": 24.0, "humidity": 45.0}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(SensorFault, Raised, "t-infant", "08:00:00"),
            k(SensorFault, Resolved, "t-infant", "08:31:00")
        ]
    );
}

#[test]
fn physical_range_limits_are_inclusive() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "reading", "sensor": "t-infant", "celsius": 60.0, "humidity": 100.0}),
            ),
            ev(
                "08:00:30",
                json!({"type": "reading", "sensor": "t-infant", "celsius": 24.0, "humidity": 100.1}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![k(SensorFault, Raised, "t-infant", "08:00:30")]
    );
}

#[test]
fn a_fault_event_raises_once_and_the_next_valid_reading_resolves_it() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "sensor_fault", "sensor": "t-infant", "reason": "crc"}),
            ),
            ev(
                "08:00:10",
                json!({"type": "sensor_fault", "sensor": "t-infant", "reason": "crc"}),
            ),
            ev(
                "08:01:00",
                json!({"type": "reading", "sensor": "t-infant", "humidity": 50.0}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(SensorFault, Raised, "t-infant", "08:00:00"),
            k(SensorFault, Resolved, "t-infant", "08:01:00")
        ]
    );
    assert_eq!(out[0].details["reason"], json!("crc"));
}

fn reading(at: &str, c: f64) -> Event {
    ev(
        at,
        json!({"type": "reading", "sensor": "t-infant", "celsius": c}),
    )
}

#[test]
fn a_hot_room_is_raised_when_the_heat_has_lasted_the_sustain_period() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            reading("13:00:00", 27.0),
            reading("13:01:00", 28.5),
            reading("13:06:00", 29.0),
            reading("13:10:59", 29.5),
        ],
    );
    assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
    let out = run(&mut e, &[reading("13:12:00", 29.0)]);
    assert_eq!(
        kinds(&out),
        vec![k(TemperatureHigh, Raised, "t-infant", "13:11:00")]
    );
    assert_eq!(out[0].details["celsius"], json!(29.5));
    // Within the hysteresis band: still raised.
    assert!(kinds(&run(&mut e, &[reading("13:20:00", 27.6)])).is_empty());
    let out = run(&mut e, &[reading("13:21:00", 27.5)]);
    assert_eq!(
        kinds(&out),
        vec![k(TemperatureHigh, Resolved, "t-infant", "13:21:00")]
    );
}

#[test]
fn one_cool_reading_restarts_the_sustain_period() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            reading("13:00:00", 28.5),
            reading("13:09:00", 28.0),
            reading("13:10:00", 28.5),
            reading("13:19:59", 28.5),
        ],
    );
    assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
    assert_eq!(
        kinds(&e.on_tick(utc("13:30:00"))),
        vec![k(TemperatureHigh, Raised, "t-infant", "13:20:00")]
    );
}

#[test]
fn cold_and_humid_rooms_have_their_own_alerts() {
    let mut e = Engine::new(&config()).unwrap();
    let mut evs = vec![];
    for m in 0..=40 {
        evs.push(ev(
            &format!("09:{m:02}:00"),
            json!({"type": "reading", "sensor": "t-infant", "celsius": 17.0, "humidity": 75.0}),
        ));
    }
    let out = run(&mut e, &evs);
    assert_eq!(
        kinds(&out),
        vec![
            k(TemperatureLow, Raised, "t-infant", "09:10:00"),
            k(HumidityHigh, Raised, "t-infant", "09:30:00")
        ]
    );
    let out = run(
        &mut e,
        &[ev(
            "09:41:00",
            json!({"type": "reading", "sensor": "t-infant", "celsius": 18.5, "humidity": 68.0}),
        )],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(TemperatureLow, Resolved, "t-infant", "09:41:00"),
            k(HumidityHigh, Resolved, "t-infant", "09:41:00")
        ]
    );
}

#[test]
fn a_sensor_never_heard_from_is_stale_from_the_start_of_the_log() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &[att("07:00:00", "s-01", "check_in", json!({}))]);
    let out = e.on_tick(utc("07:10:00"));
    assert_eq!(stale(&out), vec![(Raised, "07:05:00".to_string())]);
    let out = run(&mut e, &[reading("07:11:00", 22.0)]);
    assert_eq!(stale(&out), vec![(Resolved, "07:11:00".to_string())]);
    assert_eq!(e.next_due(), Some(utc("07:16:00")));
}

#[test]
fn eleven_infants_overfill_a_room_of_group_size_ten() {
    let mut text = String::from(BASE);
    for i in 0..11 {
        text.push_str(&format!(
            "\n[[children]]\nid = \"b-{i}\"\nname = \"b\"\nbirth_date = \"2025-09-01\"\nroom = \"infant\"\nguardians = [\"g-01\"]\n"
        ));
    }
    let mut e = Engine::new(&toml::from_str(&text).unwrap()).unwrap();
    let mut evs = vec![
        att("07:00:00", "s-01", "check_in", json!({})),
        att("07:00:00", "s-02", "check_in", json!({})),
        att("07:00:00", "s-nurse", "check_in", json!({})),
    ];
    for i in 0..11 {
        evs.push(att("07:10:00", &format!("b-{i}"), "check_in", json!({})));
    }
    let out = run(&mut e, &evs);
    let cap: Vec<_> = out
        .iter()
        .filter(|t| t.alert_type == CapacityExceeded)
        .collect();
    assert_eq!(cap.len(), 1);
    assert_eq!(
        cap[0].details,
        json!({"children": 11, "capacity": 10})
            .as_object()
            .unwrap()
            .clone()
    );
    let out = run(
        &mut e,
        &[att("08:00:00", "b-0", "move", json!({"room": "toddler"}))],
    );
    assert!(kinds(&out).contains(&k(CapacityExceeded, Resolved, "infant", "08:00:00")));
}

#[test]
fn a_rejected_event_changes_nothing_not_even_the_clock() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let before = e.snapshot();
    for bad in [
        att("09:00:00", "nobody", "check_in", json!({})),
        att("09:00:00", "g-01", "check_in", json!({})),
        att("09:00:00", "c-01", "move", json!({})),
        att("09:00:00", "c-01", "move", json!({"room": "attic"})),
        ev(
            "09:00:00",
            json!({"type": "door", "door": "back", "state": "open"}),
        ),
        ev("09:00:00", json!({"type": "reading", "sensor": "t-infant"})),
        ev(
            "09:00:00",
            json!({"type": "badge", "reader": "ghost", "card": "1"}),
        ),
        att("07:00:00", "c-05", "check_in", json!({})),
    ] {
        let err = e.on_event(&bad).unwrap_err().to_string();
        assert!(!err.is_empty());
        assert_eq!(e.snapshot(), before, "{err}");
    }
    let err = e
        .on_event(&att("07:00:00", "c-05", "check_in", json!({})))
        .unwrap_err();
    assert!(matches!(err, Rejection::OutOfOrder { .. }), "{err}");
    let err = e
        .on_event(&att("09:00:00", "nobody", "check_in", json!({})))
        .unwrap_err();
    assert!(err.to_string().contains("nobody"));
}

#[test]
fn a_restored_snapshot_remembers_occupancy_open_alerts_and_pending_timers() {
    let cfg = config();
    let mut e = Engine::new(&cfg).unwrap();
    run(&mut e, &morning());
    run(
        &mut e,
        &[
            att("09:15:00", "s-02", "check_out", json!({})),
            reading("09:15:00", 29.0),
        ],
    );
    run(
        &mut e,
        &[ev(
            "09:15:10",
            json!({"type": "door", "door": "entrance", "state": "open"}),
        )],
    );
    let json = e.snapshot().to_json();
    let mut r = Engine::restore(&cfg, &Snapshot::from_json(&json).unwrap()).unwrap();
    assert_eq!(r.occupancy(), e.occupancy());
    assert_eq!(r.open_alerts(), e.open_alerts());
    assert_eq!(r.next_due(), e.next_due());
    let later = utc("11:00:00");
    assert_eq!(r.on_tick(later), e.on_tick(later));
}

#[test]
fn a_snapshot_survives_a_roster_edit() {
    let cfg = config();
    let mut e = Engine::new(&cfg).unwrap();
    run(&mut e, &morning());
    let snap = e.snapshot();
    // c-01 leaves the roster, a new child arrives on it.
    let edited = config_with(
        "\n[[children]]\nid = \"c-new\"\nname = \"新\"\nbirth_date = \"2025-07-01\"\nroom = \"infant\"\nguardians = [\"g-02\"]\n",
    );
    let mut r = Engine::restore(&edited, &snap).unwrap();
    assert_eq!(r.rooms()[0].children, 4);
    assert!(r.occupancy().iter().all(|(id, _)| id != "c-new"));
}

// ---- properties -----------------------------------------------------------------------

/// A random but valid stream of events over the test roster, one every 1–300 s.
fn arb_events() -> impl Strategy<Value = Vec<Event>> {
    let people = [
        "s-01", "s-02", "s-cook", "c-01", "c-02", "c-03", "c-04", "c-05",
    ];
    let one = prop_oneof![
        (0..people.len(), 0..3usize, 0..2usize, 0..3usize).prop_map(move |(p, a, r, by)| {
            let action = ["check_in", "check_out", "move"][a];
            let mut v = json!({"type": "attendance", "person": people[p], "action": action});
            if action == "move" || r == 1 {
                v["room"] = json!(["infant", "toddler"][r]);
            }
            if action == "check_out" && by > 0 {
                v["by"] = json!(["g-01", "g-02"][by - 1]);
            }
            v
        }),
        (0..2usize).prop_map(
            |s| json!({"type": "door", "door": "entrance", "state": (["open", "closed"][s])})
        ),
        Just(json!({"type": "exit_button", "door": "entrance"})),
        (0..3usize, 0..3usize).prop_map(|(r, c)| json!({
            "type": "badge",
            "reader": (["entrance-reader", "kiosk", "toddler-reader"][r]),
            "card": (["10001", "20001", "55555"][c])
        })),
        (10.0f64..35.0, 20.0f64..80.0).prop_map(
            |(c, h)| json!({"type": "reading", "sensor": "t-infant", "celsius": c, "humidity": h})
        ),
        Just(json!({"type": "reading", "sensor": "t-infant", "celsius": 85.0})),
    ];
    prop::collection::vec((1i64..300, one), 1..120).prop_map(|steps| {
        let mut at = t("07:00:00");
        steps
            .into_iter()
            .map(|(gap, mut v)| {
                at += chrono::Duration::seconds(gap);
                v["ts"] = json!(at);
                serde_json::from_value(v).unwrap()
            })
            .collect()
    })
}

fn run_all(e: &mut Engine, events: &[Event], end: DateTime<Utc>) -> Vec<Transition> {
    let mut out = run(e, events);
    out.extend(e.on_tick(end));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn transitions_do_not_depend_on_how_often_the_clock_ticks(
        events in arb_events(),
        ticks in prop::collection::vec(0u32..10_000, 0..60),
    ) {
        let cfg = config();
        let end = events.last().unwrap().utc().unwrap() + chrono::Duration::hours(30);
        let expected = run_all(&mut Engine::new(&cfg).unwrap(), &events, end);

        let mut e = Engine::new(&cfg).unwrap();
        let mut got = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            // Ticks at arbitrary moments between the previous event and this one.
            let from = if i == 0 { ev.utc().unwrap() } else { events[i - 1].utc().unwrap() };
            let span = (ev.utc().unwrap() - from).num_seconds().max(0);
            for tick in ticks.iter().filter(|t| **t as usize % events.len() == i) {
                got.extend(e.on_tick(from + chrono::Duration::seconds(i64::from(*tick) % (span + 1))));
            }
            got.extend(e.on_event(ev).unwrap());
        }
        got.extend(e.on_tick(end));
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn a_snapshot_restored_anywhere_continues_identically(events in arb_events(), cut in 0usize..120) {
        let cfg = config();
        let end = events.last().unwrap().utc().unwrap() + chrono::Duration::hours(30);
        let expected = run_all(&mut Engine::new(&cfg).unwrap(), &events, end);

        let cut = cut % events.len();
        let mut e = Engine::new(&cfg).unwrap();
        let mut got = run(&mut e, &events[..cut]);
        let snap = Snapshot::from_json(&e.snapshot().to_json()).unwrap();
        let mut r = Engine::restore(&cfg, &snap).unwrap();
        got.extend(run_all(&mut r, &events[cut..], end));
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn every_raise_is_resolved_at_most_once_and_one_shots_never(events in arb_events()) {
        let cfg = config();
        let end = events.last().unwrap().utc().unwrap() + chrono::Duration::hours(30);
        let out = run_all(&mut Engine::new(&cfg).unwrap(), &events, end);
        let mut open = std::collections::HashMap::new();
        for t in &out {
            match t.state {
                Raised => prop_assert!(open.insert(t.alert_id.clone(), t.alert_type).is_none()),
                Resolved => {
                    prop_assert!(!t.alert_type.is_one_shot());
                    prop_assert_eq!(open.remove(&t.alert_id), Some(t.alert_type));
                }
                Acknowledged => prop_assert!(open.contains_key(&t.alert_id)),
            }
        }
        // And the transitions come out in time order.
        prop_assert!(out.windows(2).all(|w| w[0].ts <= w[1].ts));
    }
}
