//! Naps and sleep checks: `sleep_check_missed` (contract section 10).

use serde_json::json;

use super::*;
use nursery_testkit::{Reader, Room};

fn nap(at: &str, room: &str, action: &str) -> Event {
    ev(at, json!({"type": "nap", "room": room, "action": action}))
}

fn check(at: &str, room: &str, by: &str) -> Event {
    ev(at, json!({"type": "sleep_check", "room": room, "by": by}))
}

/// The test roster with a sleep-check reader in the infant room.
fn with_reader() -> Config {
    config_of(roster().reader(Reader::sleep_check("infant-sleep", "infant")))
}

fn missed(out: &[Transition]) -> Vec<(AlertState, String, String)> {
    out.iter()
        .filter(|t| t.alert_type == SleepCheckMissed)
        .map(|t| {
            (
                t.state,
                t.subject.clone(),
                t.ts.format("%H:%M:%S").to_string(),
            )
        })
        .collect()
}

fn m(st: AlertState, at: &str) -> (AlertState, String, String) {
    (st, "infant".to_string(), at.to_string())
}

#[test]
fn a_nap_with_no_check_for_fifteen_minutes_raises_a_critical_missed_check_at_that_moment() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(nap("12:30:00", "infant", "start"));
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("12:44:59")));
    assert_eq!(missed(&out), vec![]);
    out.extend(e.on_tick(utc("12:50:00")));
    assert_eq!(missed(&out), vec![m(Raised, "12:45:00")]);
    let raised = out
        .iter()
        .find(|t| t.alert_type == SleepCheckMissed)
        .unwrap();
    assert_eq!(raised.severity, crate::alert::Severity::Critical);
    assert_eq!(
        serde_json::Value::Object(raised.details.clone()),
        json!({"interval_s": 900, "nap_since": "2026-03-02T12:30:00+08:00", "last_check": null})
    );
}

#[test]
fn each_check_restarts_the_count_so_checks_every_ten_minutes_raise_nothing() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(nap("12:30:00", "infant", "start"));
    for at in ["12:40:00", "12:50:00", "13:00:00", "13:10:00"] {
        events.push(check(at, "infant", "s-01"));
    }
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("13:24:59")));
    assert_eq!(missed(&out), vec![]);
    out.extend(e.on_tick(utc("13:25:00")));
    assert_eq!(missed(&out), vec![m(Raised, "13:25:00")]);
    let raised = out
        .iter()
        .find(|t| t.alert_type == SleepCheckMissed)
        .unwrap();
    assert_eq!(
        raised.details["last_check"],
        json!("2026-03-02T13:10:00+08:00")
    );
}

#[test]
fn a_late_check_resolves_the_missed_check_and_names_who_made_it() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(nap("12:30:00", "infant", "start"));
    events.push(check("12:52:00", "infant", "s-02"));
    let out = run(&mut e, &events);
    assert_eq!(
        missed(&out),
        vec![m(Raised, "12:45:00"), m(Resolved, "12:52:00")]
    );
    let resolved = out
        .iter()
        .rfind(|t| t.alert_type == SleepCheckMissed)
        .unwrap();
    assert_eq!(resolved.details["by"], json!("s-02"));
    // The count starts again from the late check.
    let later = e.on_tick(utc("13:07:00"));
    assert_eq!(missed(&later), vec![m(Raised, "13:07:00")]);
}

#[test]
fn the_nap_ending_resolves_a_missed_check_and_stops_the_count() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(nap("12:30:00", "infant", "start"));
    events.push(nap("12:50:00", "infant", "end"));
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("15:00:00")));
    assert_eq!(
        missed(&out),
        vec![m(Raised, "12:45:00"), m(Resolved, "12:50:00")]
    );
}

#[test]
fn a_napping_room_without_children_needs_no_check_and_counts_again_when_one_comes_back() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = vec![att("07:40:00", "s-01", "check_in", json!({}))];
    events.push(nap("12:30:00", "infant", "start"));
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("13:30:00")));
    assert_eq!(missed(&out), vec![], "an empty room was called unchecked");
    out.extend(run(
        &mut e,
        &[att("13:30:00", "c-01", "check_in", json!({}))],
    ));
    out.extend(e.on_tick(utc("13:44:59")));
    assert_eq!(missed(&out), vec![]);
    out.extend(e.on_tick(utc("13:45:00")));
    assert_eq!(missed(&out), vec![m(Raised, "13:45:00")]);
    // The last child leaving resolves it: there is nobody left to check.
    out.extend(run(
        &mut e,
        &[att("13:50:00", "c-01", "check_out", json!({"by": "g-01"}))],
    ));
    assert_eq!(
        missed(&out),
        vec![m(Raised, "13:45:00"), m(Resolved, "13:50:00")]
    );
}

#[test]
fn a_staff_badge_at_a_sleep_check_reader_is_a_check_and_an_unknown_card_is_denied() {
    let mut e = Engine::new(&with_reader()).unwrap();
    let mut events = morning();
    events.push(nap("12:30:00", "infant", "start"));
    events.push(ev(
        "12:44:00",
        json!({"type": "badge", "reader": "infant-sleep", "card": "10002"}),
    ));
    events.push(ev(
        "12:45:00",
        json!({"type": "badge", "reader": "infant-sleep", "card": "55555"}),
    ));
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("12:58:59")));
    assert_eq!(missed(&out), vec![], "the badge at 12:44 was not a check");
    assert!(out
        .iter()
        .any(|t| t.alert_type == BadgeDenied && t.subject == "infant-sleep"));
    out.extend(e.on_tick(utc("12:59:00")));
    assert_eq!(missed(&out), vec![m(Raised, "12:59:00")]);
}

#[test]
fn a_room_interval_overrides_the_rules_interval() {
    let cfg = config_of(
        Roster::sunflower()
            .room(Room::new("baby", "婴儿班").set("sleep_check_interval", "10m"))
            .children("baby", &["2025-06-15"]),
    );
    let mut e = Engine::new(&cfg).unwrap();
    let mut out = run(
        &mut e,
        &[
            att("07:40:00", "s-01", "check_in", json!({"room": "baby"})),
            att("07:50:00", "c-01", "check_in", json!({})),
            nap("12:30:00", "baby", "start"),
        ],
    );
    out.extend(e.on_tick(utc("12:50:00")));
    let raised: Vec<_> = out
        .iter()
        .filter(|t| t.alert_type == SleepCheckMissed)
        .map(|t| (t.subject.as_str(), t.ts.format("%H:%M").to_string()))
        .collect();
    assert_eq!(raised, vec![("baby", "12:40".to_string())]);
}

#[test]
fn a_nap_in_an_unknown_room_and_a_check_by_someone_not_on_staff_are_rejected_by_name() {
    let mut e = Engine::new(&config()).unwrap();
    let err = e.on_event(&nap("12:30:00", "attic", "start")).unwrap_err();
    assert_eq!(err.to_string(), "unknown room `attic`");
    let err = e
        .on_event(&check("12:31:00", "infant", "g-01"))
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown member of staff `g-01`");
    let err = e
        .on_event(&check("12:31:00", "infant", "s-99"))
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown member of staff `s-99`");
    assert_eq!(e.clock(), None, "a rejected event moved the clock");
}

#[test]
fn a_check_outside_a_nap_changes_nothing_and_a_second_start_keeps_the_first() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(check("12:00:00", "infant", "s-01"));
    events.push(nap("12:30:00", "infant", "start"));
    events.push(nap("12:40:00", "infant", "start"));
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("12:46:00")));
    assert_eq!(missed(&out), vec![m(Raised, "12:45:00")]);
}

#[test]
fn a_snapshot_taken_mid_nap_restores_the_count() {
    let cfg = config();
    let mut e = Engine::new(&cfg).unwrap();
    let mut events = morning();
    events.push(nap("12:30:00", "infant", "start"));
    events.push(check("12:38:00", "infant", "s-01"));
    run(&mut e, &events);
    let snap = Snapshot::from_json(&e.snapshot().to_json()).unwrap();
    let mut back = Engine::restore(&cfg, &snap).unwrap();
    assert_eq!(back.naps(), e.naps());
    assert_eq!(back.next_due(), e.next_due());
    let out = back.on_tick(utc("12:54:00"));
    assert_eq!(missed(&out), vec![m(Raised, "12:53:00")]);
}

#[test]
fn a_clock_jump_during_a_nap_does_not_count_the_skipped_span_as_unchecked() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(nap("12:30:00", "infant", "start"));
    // At 12:40 the board's clock steps forward an hour.
    events.push(ev(
        "13:40:00",
        json!({"type": "clock_jump", "from": t("12:40:00")}),
    ));
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("13:44:59")));
    assert_eq!(missed(&out), vec![], "the jump fired the nap's timer");
    out.extend(e.on_tick(utc("13:45:00")));
    assert_eq!(missed(&out), vec![m(Raised, "13:45:00")]);
}

#[test]
fn the_staff_page_sees_the_nap_with_its_last_check_and_next_due() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(nap("12:30:00", "infant", "start"));
    events.push(check("12:38:00", "infant", "s-01"));
    run(&mut e, &events);
    let naps = e.naps();
    assert_eq!(naps.len(), 1);
    assert_eq!(naps[0].room, "infant");
    assert_eq!(naps[0].since, utc("12:30:00"));
    assert_eq!(naps[0].last_check, Some(utc("12:38:00")));
    assert_eq!(naps[0].due, Some(utc("12:53:00")));
    assert_eq!(naps[0].missed, None);
}
