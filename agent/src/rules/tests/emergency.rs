//! Emergencies and their roll call (`roll_call_incomplete`), drills (`drill_overdue`), and
//! the rejected lines: a roll call for someone not on the roster, an end without a start.

use serde_json::json;

use super::*;
use nursery_testkit::Reader;

const FACILITY: &str = "310115-0042";
const FIRE: &str = "\n[[inputs]]\nid = \"fire-panel\"\nkind = \"fire\"\n";

fn with_assembly() -> Roster {
    roster().reader(Reader::assembly("yard"))
}

fn emergency(at: &str, kind: &str, action: &str) -> Event {
    ev(
        at,
        json!({"type": "emergency", "kind": kind, "action": action}),
    )
}

fn roll_call(at: &str, person: &str) -> Event {
    ev(at, json!({"type": "roll_call", "person": person}))
}

fn badge(at: &str, reader: &str, card: &str) -> Event {
    ev(at, json!({"type": "badge", "reader": reader, "card": card}))
}

fn of(out: &[Transition], ty: AlertType) -> Vec<(AlertState, String, serde_json::Value)> {
    out.iter()
        .filter(|t| t.alert_type == ty)
        .map(|t| {
            (
                t.state,
                t.ts.format("%H:%M:%S").to_string(),
                serde_json::Value::Object(t.details.clone()),
            )
        })
        .collect()
}

/// Morning (two staff, four children), then an evacuation at 10:00.
fn evacuation() -> Vec<Event> {
    let mut v = morning();
    v.push(emergency("10:00:00", "evacuation", "start"));
    v
}

#[test]
fn an_emergency_with_someone_unaccounted_for_after_roll_call_within_is_a_critical_roll_call_incomplete_counting_the_missing(
) {
    let mut e = Engine::new(&config_of(with_assembly())).unwrap();
    let mut events = evacuation();
    events.extend([
        roll_call("10:02:00", "c-01"),
        roll_call("10:03:00", "c-02"),
        badge("10:04:00", "yard", "10001"),
        roll_call("10:09:59", "c-03"),
    ]);
    let out = run(&mut e, &events);
    assert!(of(&out, RollCallIncomplete).is_empty(), "not before 10:10");
    let out = e.on_tick(utc("10:10:00"));
    assert_eq!(
        of(&out, RollCallIncomplete),
        vec![(Raised, "10:10:00".into(), json!({"missing": 2}))],
        "c-04 and s-02 are missing"
    );
    assert_eq!(out[0].subject, FACILITY);
    assert_eq!(out[0].severity, crate::alert::Severity::Critical);
    let out = run(
        &mut e,
        &[roll_call("10:12:00", "c-04"), roll_call("10:13:00", "s-02")],
    );
    assert_eq!(
        of(&out, RollCallIncomplete),
        vec![(Resolved, "10:13:00".into(), json!({"missing": 0}))],
        "resolved when the last one is accounted for"
    );
}

#[test]
fn a_roll_call_complete_within_the_time_raises_nothing() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = evacuation();
    for (i, p) in ["c-01", "c-02", "c-03", "c-04", "s-01", "s-02"]
        .iter()
        .enumerate()
    {
        events.push(roll_call(&format!("10:0{i}:30"), p));
    }
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("11:00:00")));
    assert!(of(&out, RollCallIncomplete).is_empty(), "{out:?}");
}

#[test]
fn the_roll_call_is_whoever_was_checked_in_at_the_start_not_who_arrives_later() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = evacuation();
    events.push(att("10:01:00", "c-05", "check_in", json!({})));
    for p in ["c-01", "c-02", "c-03", "c-04", "s-01", "s-02"] {
        events.push(roll_call("10:05:00", p));
    }
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("10:30:00")));
    assert!(of(&out, RollCallIncomplete).is_empty(), "{out:?}");
}

#[test]
fn ending_the_emergency_resolves_an_incomplete_roll_call_with_the_count_still_missing() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = evacuation();
    events.push(roll_call("10:01:00", "c-01"));
    run(&mut e, &events);
    let out = run(&mut e, &[emergency("10:20:00", "evacuation", "end")]);
    assert_eq!(
        of(&out, RollCallIncomplete),
        vec![
            (Raised, "10:10:00".into(), json!({"missing": 5})),
            (Resolved, "10:20:00".into(), json!({"missing": 5})),
        ]
    );
}

#[test]
fn a_fire_input_going_active_starts_a_fire_emergency_and_its_roll_call() {
    let mut e = Engine::new(&config_of(roster().raw(FIRE))).unwrap();
    let mut events = morning();
    events.push(ev(
        "10:00:00",
        json!({"type": "input", "input": "fire-panel", "state": "active"}),
    ));
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("10:10:00")));
    assert_eq!(
        of(&out, RollCallIncomplete),
        vec![(Raised, "10:10:00".into(), json!({"missing": 6}))]
    );
    // The emergency the input started is a `fire` one: it ends as such, not as another.
    let wrong = e
        .on_event(&emergency("10:30:00", "drill", "end"))
        .unwrap_err();
    assert!(wrong.to_string().contains("`fire`"), "{wrong}");
    let out = run(&mut e, &[emergency("10:30:00", "fire", "end")]);
    assert_eq!(of(&out, RollCallIncomplete)[0].0, Resolved);
}

#[test]
fn a_test_press_of_a_fire_input_starts_no_emergency() {
    let mut e = Engine::new(&config_of(roster().raw(FIRE))).unwrap();
    let mut events = morning();
    events.push(ev(
        "10:00:00",
        json!({"type": "input", "input": "fire-panel", "state": "active", "test": true}),
    ));
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("10:30:00")));
    assert!(of(&out, RollCallIncomplete).is_empty());
    assert!(e.on_event(&roll_call("10:31:00", "c-01")).is_err());
}

#[test]
fn a_roll_call_for_someone_not_on_the_roster_or_a_guardian_or_outside_an_emergency_is_rejected_with_its_reason(
) {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let outside = e.on_event(&roll_call("09:00:00", "c-01")).unwrap_err();
    assert_eq!(
        outside.to_string(),
        "roll call of `c-01` with no emergency under way"
    );
    run(&mut e, &[emergency("10:00:00", "lockdown", "start")]);
    let unknown = e.on_event(&roll_call("10:01:00", "c-99")).unwrap_err();
    assert_eq!(unknown.to_string(), "unknown person `c-99`");
    let guardian = e.on_event(&roll_call("10:01:00", "g-01")).unwrap_err();
    assert!(guardian.to_string().contains("guardian"), "{guardian}");
}

#[test]
fn an_end_without_a_start_and_a_second_start_are_rejected_and_change_nothing() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let before = e.snapshot();
    let end = e
        .on_event(&emergency("09:00:00", "drill", "end"))
        .unwrap_err();
    assert_eq!(
        end.to_string(),
        "`drill` emergency end without a start: no emergency is under way"
    );
    assert_eq!(e.snapshot(), before, "a rejected line changes nothing");
    run(&mut e, &[emergency("10:00:00", "drill", "start")]);
    let again = e
        .on_event(&emergency("10:01:00", "evacuation", "start"))
        .unwrap_err();
    assert!(
        again.to_string().contains("`drill` emergency is under way"),
        "{again}"
    );
}

#[test]
fn a_badge_at_an_assembly_reader_outside_an_emergency_changes_nothing() {
    let mut e = Engine::new(&config_of(with_assembly())).unwrap();
    run(&mut e, &morning());
    let out = run(&mut e, &[badge("09:00:00", "yard", "10001")]);
    assert!(kinds(&out).is_empty(), "{out:?}");
    // s-01 is still on the roll call of a later emergency.
    let mut events = vec![emergency("10:00:00", "evacuation", "start")];
    for p in ["c-01", "c-02", "c-03", "c-04", "s-02"] {
        events.push(roll_call("10:01:00", p));
    }
    run(&mut e, &events);
    let out = e.on_tick(utc("10:10:00"));
    assert_eq!(
        of(&out, RollCallIncomplete),
        vec![(Raised, "10:10:00".into(), json!({"missing": 1}))]
    );
}

#[test]
fn an_emergency_and_its_roll_call_survive_a_snapshot_and_restart() {
    let cfg = config();
    let mut e = Engine::new(&cfg).unwrap();
    let mut events = evacuation();
    events.push(roll_call("10:01:00", "c-01"));
    run(&mut e, &events);
    let snap = Snapshot::from_json(&e.snapshot().to_json()).unwrap();
    let mut e = Engine::restore(&cfg, &snap).unwrap();
    let out = e.on_tick(utc("10:10:00"));
    assert_eq!(
        of(&out, RollCallIncomplete),
        vec![(Raised, "10:10:00".into(), json!({"missing": 5}))]
    );
    let snap = Snapshot::from_json(&e.snapshot().to_json()).unwrap();
    let mut e = Engine::restore(&cfg, &snap).unwrap();
    let out = run(&mut e, &[emergency("10:15:00", "evacuation", "end")]);
    assert_eq!(of(&out, RollCallIncomplete)[0].0, Resolved);
}

#[test]
fn a_clock_jump_during_an_emergency_keeps_the_time_the_roll_call_had_already_run() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &evacuation());
    // At 10:04 the clock jumps two hours ahead: six minutes of the ten are left.
    let jump = ev(
        "12:04:00",
        json!({"type": "clock_jump", "from": t("10:04:00")}),
    );
    let out = e.on_event(&jump).unwrap();
    assert!(of(&out, RollCallIncomplete).is_empty(), "{out:?}");
    assert!(of(&e.on_tick(utc("12:09:59")), RollCallIncomplete).is_empty());
    assert_eq!(
        of(&e.on_tick(utc("12:10:00")), RollCallIncomplete),
        vec![(Raised, "12:10:00".into(), json!({"missing": 6}))]
    );
}

fn drills(every: &str) -> Config {
    config_of(roster().rule("drill_every", every))
}

#[test]
fn with_drill_every_set_no_drill_within_it_is_drill_overdue_at_open_until_a_drill_ends() {
    let mut e = Engine::new(&drills("2d")).unwrap();
    run(&mut e, &[att("07:40:00", "s-01", "check_in", json!({}))]);
    // Started 2026-03-02 07:40: 2 days later is 03-04 07:40, after that day's 07:30 open.
    let out = e.on_tick(
        DateTime::parse_from_rfc3339("2026-03-05T07:30:00+08:00")
            .unwrap()
            .with_timezone(&Utc),
    );
    let overdue = of(&out, DrillOverdue);
    assert_eq!(
        overdue,
        vec![(
            Raised,
            "07:30:00".into(),
            json!({"last_drill": null, "every_s": 172800})
        )]
    );
    let raised = out.iter().find(|t| t.alert_type == DrillOverdue).unwrap();
    assert_eq!(raised.subject, FACILITY);
    assert_eq!(raised.severity, crate::alert::Severity::Warning);
    assert_eq!(raised.ts.date_naive().to_string(), "2026-03-05");
    let at = |s: &str| {
        let v = json!({"ts": format!("2026-03-05T{s}+08:00"), "type": "emergency",
                       "kind": "drill", "action": "x"});
        v
    };
    let start: Event = serde_json::from_value({
        let mut v = at("09:00:00");
        v["action"] = json!("start");
        v
    })
    .unwrap();
    let end: Event = serde_json::from_value({
        let mut v = at("09:20:00");
        v["action"] = json!("end");
        v
    })
    .unwrap();
    let out = run(&mut e, &[start, end]);
    assert_eq!(
        of(&out, DrillOverdue)
            .into_iter()
            .map(|(s, t, _)| (s, t))
            .collect::<Vec<_>>(),
        vec![(Resolved, "09:20:00".to_string())]
    );
    // The drill that ended restarts the count: nothing the next two mornings.
    let out = e.on_tick(
        DateTime::parse_from_rfc3339("2026-03-07T08:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc),
    );
    assert!(of(&out, DrillOverdue).is_empty(), "{out:?}");
}

#[test]
fn without_drill_every_no_drill_is_ever_overdue() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &[att("07:40:00", "s-01", "check_in", json!({}))]);
    let out = e.on_tick(
        DateTime::parse_from_rfc3339("2027-03-05T08:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc),
    );
    assert!(of(&out, DrillOverdue).is_empty());
}
