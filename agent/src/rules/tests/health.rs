//! Health checks (晨午检), expected arrivals and absences: `health_check_failed`,
//! `health_check_missing`, `child_absent_unreported` (contract section 10).

use chrono::{DateTime, FixedOffset};
use serde_json::json;

use super::*;
use nursery_testkit::Raw;

fn check(at: &str, person: &str, celsius: Option<f64>, result: &str) -> Event {
    let mut v = json!({"type": "health_check", "person": person, "result": result});
    if let Some(c) = celsius {
        v["celsius"] = json!(c);
    }
    ev(at, v)
}

fn absence(at: &str, person: &str, date: &str, reason: &str) -> Event {
    ev(
        at,
        json!({"type": "absence", "person": person, "date": date, "reason": reason}),
    )
}

/// 2026-03-02 (a Monday) plus `days`, at local time `s`.
fn on(days: i64, s: &str) -> DateTime<FixedOffset> {
    t(s) + chrono::Duration::days(days)
}

fn at_day(days: i64, e: Event) -> Event {
    Event {
        ts: e.ts.map(|t| t + chrono::Duration::days(days)),
        ..e
    }
}

/// The test roster with health checks due within 30 minutes of check-in.
fn within_30m() -> Config {
    config_of(roster().rule("health_check_within", "30m"))
}

/// The test roster with an arrival deadline of 09:30.
fn deadline() -> Config {
    config_of(roster().rule("arrival_deadline", "09:30"))
}

fn of(out: &[Transition], ty: AlertType) -> Vec<(AlertState, String, String)> {
    out.iter()
        .filter(|t| t.alert_type == ty)
        .map(|t| {
            (
                t.state,
                t.subject.clone(),
                t.ts.format("%m-%d %H:%M:%S").to_string(),
            )
        })
        .collect()
}

fn s(st: AlertState, subject: &str, at: &str) -> (AlertState, String, String) {
    (st, subject.to_string(), format!("03-02 {at}"))
}

fn d(st: AlertState, subject: &str, at: &str) -> (AlertState, String, String) {
    (st, subject.to_string(), at.to_string())
}

#[test]
fn a_fever_at_the_morning_check_is_a_critical_failed_check_with_its_temperature_until_a_later_pass()
{
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(check("08:00:00", "c-01", Some(36.6), "pass"));
    events.push(check("08:01:00", "c-02", Some(37.3), "pass"));
    events.push(check("08:02:00", "c-03", Some(37.2), "pass"));
    events.push(check("10:00:00", "c-02", Some(37.8), "pass"));
    events.push(check("14:00:00", "c-02", Some(36.9), "pass"));
    let out = run(&mut e, &events);
    assert_eq!(
        of(&out, HealthCheckFailed),
        [
            s(Raised, "c-02", "08:01:00"),
            s(Resolved, "c-02", "14:00:00")
        ],
        "37.3 is at fever_c and fails; 37.2 passes; a second failing check keeps the alert"
    );
    let raised = out
        .iter()
        .find(|t| t.alert_type == HealthCheckFailed)
        .unwrap();
    assert_eq!(raised.severity, crate::alert::Severity::Critical);
    assert_eq!(
        serde_json::Value::Object(raised.details.clone()),
        json!({"celsius": 37.3, "result": "pass"})
    );
}

#[test]
fn a_refer_without_a_temperature_fails_the_check_and_check_out_resolves_it() {
    let mut e = Engine::new(&config_of(roster().rule("fever_c", 38.0))).unwrap();
    let mut events = morning();
    events.push(check("08:00:00", "c-01", None, "refer"));
    events.push(check("08:01:00", "c-02", Some(37.5), "pass"));
    events.push(att("09:00:00", "c-01", "check_out", json!({"by": "g-01"})));
    let out = run(&mut e, &events);
    assert_eq!(
        of(&out, HealthCheckFailed),
        [
            s(Raised, "c-01", "08:00:00"),
            s(Resolved, "c-01", "09:00:00")
        ],
        "37.5 is under a fever_c of 38"
    );
    let raised = out
        .iter()
        .find(|t| t.alert_type == HealthCheckFailed)
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(raised.details.clone()),
        json!({"result": "refer"})
    );
}

#[test]
fn a_child_with_no_check_within_the_window_after_check_in_is_missing_then_and_a_check_resolves_it()
{
    let mut e = Engine::new(&within_30m()).unwrap();
    let mut events = morning();
    events.push(check("08:10:00", "c-01", Some(36.5), "pass"));
    events.push(check("08:21:00", "c-02", Some(36.5), "pass"));
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("08:21:59")));
    assert_eq!(
        of(&out, HealthCheckMissing),
        [
            s(Raised, "c-02", "08:21:00"),
            s(Resolved, "c-02", "08:21:00")
        ],
        "c-02 came in at 07:51 and was checked at 08:21: missing at that instant, then done"
    );
    out.extend(e.on_tick(utc("08:23:00")));
    assert_eq!(
        of(&out, HealthCheckMissing)[2..],
        [s(Raised, "c-03", "08:22:00"), s(Raised, "c-04", "08:23:00")]
    );
    let raised = out
        .iter()
        .find(|t| t.alert_type == HealthCheckMissing && t.subject == "c-03")
        .unwrap();
    assert_eq!(raised.severity, crate::alert::Severity::Warning);
    assert_eq!(
        serde_json::Value::Object(raised.details.clone()),
        json!({"checked_in": "2026-03-02T07:52:00+08:00", "within_s": 1800})
    );
    let out = run(&mut e, &[check("08:30:00", "c-03", Some(36.4), "pass")]);
    assert_eq!(
        of(&out, HealthCheckMissing),
        [s(Resolved, "c-03", "08:30:00")]
    );
    let out = run(
        &mut e,
        &[att("08:40:00", "c-04", "check_out", json!({"by": "g-01"}))],
    );
    assert_eq!(
        of(&out, HealthCheckMissing),
        [s(Resolved, "c-04", "08:40:00")],
        "a child no longer in care is no longer missing a check"
    );
}

#[test]
fn without_health_check_within_no_check_is_ever_missing() {
    let mut e = Engine::new(&config()).unwrap();
    let mut out = run(&mut e, &morning());
    out.extend(e.on_tick(utc("17:00:00")));
    assert_eq!(of(&out, HealthCheckMissing), []);
}

#[test]
fn a_check_at_the_gate_before_check_in_the_same_day_counts_but_one_from_yesterday_does_not() {
    let mut e = Engine::new(&within_30m()).unwrap();
    let events = [
        check("07:45:00", "c-01", Some(36.5), "pass"),
        att("07:50:00", "c-01", "check_in", json!({})),
        att("16:00:00", "c-01", "check_out", json!({"by": "g-01"})),
        at_day(1, att("07:50:00", "c-01", "check_in", json!({}))),
    ];
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(on(1, "08:30:00").with_timezone(&Utc)));
    assert_eq!(
        of(&out, HealthCheckMissing),
        [d(Raised, "c-01", "03-03 08:20:00")]
    );
}

#[test]
fn implausible_temperatures_unknown_children_staff_and_checkers_are_rejected_with_a_reason() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let before = e.snapshot();
    for (event, says) in [
        (
            check("08:00:00", "c-01", Some(80.0), "pass"),
            "`celsius` 80",
        ),
        (
            check("08:00:00", "c-01", Some(20.0), "pass"),
            "`celsius` 20",
        ),
        (
            check("08:00:00", "c-99", Some(36.6), "pass"),
            "unknown child `c-99`",
        ),
        (
            check("08:00:00", "s-01", Some(36.6), "pass"),
            "`s-01` is a member of staff",
        ),
        (
            check("08:00:00", "g-01", Some(36.6), "pass"),
            "`g-01` is a guardian",
        ),
        (
            absence("08:00:00", "s-02", "2026-03-03", "sick"),
            "`s-02` is a member of staff",
        ),
        (checked_by("c-01", "s-99"), "unknown member of staff `s-99`"),
        (checked_by("c-01", "g-01"), "unknown member of staff `g-01`"),
    ] {
        let err = e.on_event(&event).unwrap_err().to_string();
        assert!(err.contains(says), "{err} should say {says}");
    }
    assert_eq!(e.snapshot(), before, "a rejected event changes nothing");
    e.on_event(&checked_by("c-01", "s-01"))
        .expect("a check by a member of staff on the roster is accepted");
}

/// A passing check of `child` at 08:00 by `by`.
fn checked_by(child: &str, by: &str) -> Event {
    ev(
        "08:00:00",
        json!({"type": "health_check", "person": child, "result": "pass", "by": by}),
    )
}

#[test]
fn an_absence_years_away_or_for_a_day_already_past_is_rejected_but_sixty_days_ahead_is_accepted() {
    let mut e = Engine::new(&deadline()).unwrap();
    run(&mut e, &morning());
    for (date, says) in [
        (
            "2029-03-02",
            "more than 60 days after the day it is reported (2026-03-02)",
        ),
        ("2026-05-02", "more than 60 days after"),
        ("2026-03-01", "reported after the day (2026-03-02)"),
        ("2020-03-01", "before or on the day"),
    ] {
        let err = e
            .on_event(&absence("08:00:00", "c-05", date, "sick"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{date}: {err} should say {says}");
        assert!(err.contains("c-05") && err.contains(date), "{err}");
    }
    e.on_event(&absence("08:00:00", "c-05", "2026-05-01", "personal"))
        .unwrap();
}

#[test]
fn at_the_arrival_deadline_an_expected_child_neither_in_nor_reported_is_flagged_until_check_in() {
    let mut e = Engine::new(&deadline()).unwrap();
    let mut out = run(&mut e, &morning());
    out.extend(e.on_tick(utc("09:29:59")));
    assert_eq!(of(&out, ChildAbsentUnreported), []);
    out.extend(e.on_tick(utc("09:30:00")));
    assert_eq!(
        of(&out, ChildAbsentUnreported),
        [s(Raised, "c-05", "09:30:00")],
        "c-01 … c-04 are in"
    );
    let raised = out
        .iter()
        .find(|t| t.alert_type == ChildAbsentUnreported)
        .unwrap();
    assert_eq!(raised.severity, crate::alert::Severity::Warning);
    assert_eq!(
        serde_json::Value::Object(raised.details.clone()),
        json!({"date": "2026-03-02"})
    );
    let out = run(&mut e, &[att("10:15:00", "c-05", "check_in", json!({}))]);
    assert_eq!(
        of(&out, ChildAbsentUnreported),
        [s(Resolved, "c-05", "10:15:00")]
    );
}

#[test]
fn a_reported_absence_prevents_the_alert_and_a_late_one_resolves_it() {
    let mut e = Engine::new(&config_of(
        roster()
            .rule("arrival_deadline", "09:30")
            .children("infant", &["2025-06-15"]),
    ))
    .unwrap();
    // Reported on Monday morning, for Tuesday.
    let mut events = vec![absence("07:00:00", "c-05", "2026-03-03", "sick")];
    events.extend(morning());
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(on(0, "09:30:00").with_timezone(&Utc)));
    assert_eq!(
        of(&out, ChildAbsentUnreported),
        [s(Raised, "c-05", "09:30:00"), s(Raised, "c-06", "09:30:00")]
    );
    // The absence is for tomorrow: today's alert for c-05 stays.
    let out = run(
        &mut e,
        &[absence("11:00:00", "c-06", "2026-03-02", "personal")],
    );
    assert_eq!(
        of(&out, ChildAbsentUnreported),
        [s(Resolved, "c-06", "11:00:00")]
    );
    let out = run(&mut e, &[att("16:00:00", "c-05", "check_in", json!({}))]);
    assert_eq!(of(&out, ChildAbsentUnreported).len(), 1);
    let mut out = run(
        &mut e,
        &[
            att("17:00:00", "c-05", "check_out", json!({"by": "g-01"})),
            att("17:01:00", "c-06", "check_in", json!({})),
        ],
    );
    out.extend(e.on_tick(on(1, "09:30:00").with_timezone(&Utc)));
    // Tuesday: c-05 is reported sick; c-01 … c-04 and c-06 are still checked in.
    assert_eq!(of(&out, ChildAbsentUnreported), []);
}

#[test]
fn no_arrival_alert_on_a_day_the_facility_is_closed_or_the_child_is_not_expected() {
    // Monday to Friday; c-06 comes on Tuesdays only.
    let cfg = config_of(
        roster().rule("arrival_deadline", "09:30").child(
            nursery_testkit::Child::new("c-06", "周", "2025-06-15", "infant")
                .guardians(["g-01"])
                .set("days", Raw("[\"tue\", \"sat\"]")),
        ),
    );
    let mut e = Engine::new(&cfg).unwrap();
    let mut out = run(&mut e, &morning());
    out.extend(run(
        &mut e,
        &[att("08:00:00", "c-05", "check_in", json!({}))],
    ));
    for c in ["c-01", "c-02", "c-03", "c-04", "c-05"] {
        out.extend(run(
            &mut e,
            &[att("17:00:00", c, "check_out", json!({"by": "g-01"}))],
        ));
    }
    // Monday: everyone expected came. Tuesday 09:30: nobody came; Saturday and Sunday
    // raise nothing new (the nursery is closed, and one alert per child stays open).
    out.extend(e.on_tick(on(6, "12:00:00").with_timezone(&Utc)));
    let flagged = of(&out, ChildAbsentUnreported);
    let subjects: Vec<&str> = flagged.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        ["c-01", "c-02", "c-03", "c-04", "c-05", "c-06"],
        "{flagged:?}"
    );
    assert!(
        flagged.iter().all(|(_, _, at)| at == "03-03 09:30:00"),
        "{flagged:?}"
    );
    // Next Monday, a child's check-in resolves their alert of Tuesday.
    let out = run(
        &mut e,
        &[at_day(7, att("08:00:00", "c-06", "check_in", json!({})))],
    );
    assert_eq!(
        of(&out, ChildAbsentUnreported),
        [d(Resolved, "c-06", "03-09 08:00:00")]
    );
}

#[test]
fn a_saturday_alone_raises_nothing_when_the_facility_opens_monday_to_friday() {
    let mut e = Engine::new(&deadline()).unwrap();
    // Saturday 2026-03-07.
    let sat = at_day(5, att("08:00:00", "s-01", "check_in", json!({})));
    let mut out = run(&mut e, &[sat]);
    out.extend(e.on_tick(on(5, "23:00:00").with_timezone(&Utc)));
    assert_eq!(of(&out, ChildAbsentUnreported), []);
}

#[test]
fn a_clock_jump_over_days_raises_no_arrival_alert_for_the_days_it_skipped() {
    let mut e = Engine::new(&deadline()).unwrap();
    let mut events = morning();
    events.push(att("08:00:00", "c-05", "check_in", json!({})));
    for c in ["c-01", "c-02", "c-03", "c-04", "c-05"] {
        events.push(att("17:00:00", c, "check_out", json!({"by": "g-01"})));
    }
    run(&mut e, &events);
    // The board's clock jumps from Monday 18:00 to Thursday 08:00.
    let jump: Event = serde_json::from_value(
        json!({"ts": on(3, "08:00:00"), "type": "clock_jump", "from": t("18:00:00")}),
    )
    .unwrap();
    let out = e.on_event(&jump).unwrap();
    assert_eq!(of(&out, ChildAbsentUnreported), []);
    let out = e.on_tick(on(3, "09:29:00").with_timezone(&Utc));
    assert_eq!(of(&out, ChildAbsentUnreported), []);
    // Thursday's own deadline still counts.
    let out = e.on_tick(on(3, "09:30:00").with_timezone(&Utc));
    assert_eq!(of(&out, ChildAbsentUnreported).len(), 5, "{out:?}");
}

#[test]
fn open_health_alerts_and_absences_survive_a_snapshot_and_can_be_acknowledged() {
    let cfg = config_of(
        roster()
            .rule("arrival_deadline", "09:30")
            .rule("health_check_within", "30m"),
    );
    let mut e = Engine::new(&cfg).unwrap();
    let mut events = morning();
    events.push(check("08:00:00", "c-01", Some(38.2), "pass"));
    events.push(absence("08:05:00", "c-05", "2026-03-03", "sick"));
    events.push(att("08:10:00", "c-05", "check_in", json!({})));
    events.push(att("17:00:00", "c-05", "check_out", json!({"by": "g-01"})));
    run(&mut e, &events[..events.len() - 1]);
    let check_out = events.last().unwrap().clone();
    let mut again =
        Engine::restore(&cfg, &Snapshot::from_json(&e.snapshot().to_json()).unwrap()).unwrap();
    assert_eq!(again.snapshot(), e.snapshot());
    let open = again.open_alert_list();
    let failed = open
        .iter()
        .find(|a| a.alert_type == HealthCheckFailed)
        .unwrap();
    let ack: Event = ev(
        "08:30:00",
        json!({"type": "acknowledge", "alert_id": failed.alert_id, "by": "s-01"}),
    );
    let out = again.on_event(&ack).unwrap();
    assert!(
        out.iter()
            .any(|t| t.alert_type == HealthCheckFailed && t.state == Acknowledged),
        "{out:?}"
    );
    // c-02 … c-04 were never checked: missing at 08:21 … 08:23, after the restore too.
    assert_eq!(
        of(&out, HealthCheckMissing).len(),
        3,
        "{:?}",
        of(&out, HealthCheckMissing)
    );
    // The absence for Tuesday came through the snapshot: on Tuesday nobody is flagged
    // (c-01 … c-04 are still in, c-05 is reported sick).
    let mut out = again.on_event(&check_out).unwrap();
    out.extend(again.on_tick(on(1, "09:30:00").with_timezone(&Utc)));
    assert_eq!(of(&out, ChildAbsentUnreported), []);
    let health = again.children_health();
    assert_eq!(health.len(), 5);
    assert!(health.iter().all(|h| h.expected_today));
    assert!(health.iter().any(|h| h.child == "c-05" && h.absent_today));
}

#[test]
fn a_reload_that_sets_or_moves_the_arrival_deadline_applies_from_the_next_deadline() {
    let old = config();
    let mut e = Engine::new(&old).unwrap();
    run(&mut e, &morning());
    let mut new = old.clone();
    new.rules.arrival_deadline = Some("10:00".parse().unwrap());
    let mut r = e.reload(&old, &new).unwrap();
    let out = r.engine.on_tick(utc("09:59:59"));
    assert_eq!(of(&out, ChildAbsentUnreported), []);
    let out = r.engine.on_tick(utc("10:00:00"));
    assert_eq!(
        of(&out, ChildAbsentUnreported),
        [s(Raised, "c-05", "10:00:00")]
    );
    // Moved to 09:00: tomorrow's check comes then, not at 10:00.
    let mut newer = new.clone();
    newer.rules.arrival_deadline = Some("09:00".parse().unwrap());
    let mut r = r.engine.reload(&new, &newer).unwrap();
    let out = run(
        &mut r.engine,
        &[att("11:00:00", "c-05", "check_in", json!({}))],
    );
    assert_eq!(
        of(&out, ChildAbsentUnreported),
        [s(Resolved, "c-05", "11:00:00")]
    );
    let mut out = run(
        &mut r.engine,
        &[att("17:00:00", "c-05", "check_out", json!({"by": "g-01"}))],
    );
    out.extend(r.engine.on_tick(on(1, "09:00:00").with_timezone(&Utc)));
    assert_eq!(
        of(&out, ChildAbsentUnreported),
        [d(Raised, "c-05", "03-03 09:00:00")]
    );
}
