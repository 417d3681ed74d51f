//! Presence and certificates: who counts (contract sections 9 and 10), `staff_not_qualified`
//! and `certificate_expiring`.

use serde_json::json;

use super::*;
use crate::config::{Certificate, CertificateKind};
use crate::rules::{NotCounted, StaffFigures};

fn presence(at: &str, person: &str, state: &str) -> Event {
    ev(
        at,
        json!({"type": "presence", "person": person, "state": state}),
    )
}

/// The test roster requiring a health certificate, with `(staff, kind, expires)` given.
fn certified(certs: &[(&str, &str, &str)]) -> Config {
    let mut cfg = config();
    cfg.rules.required_certificates = vec![CertificateKind::Health];
    for (staff, kind, expires) in certs {
        let s = cfg.staff.iter_mut().find(|s| s.id == *staff).unwrap();
        s.certificates.push(Certificate {
            kind: serde_json::from_value(json!(kind)).unwrap(),
            expires: expires.parse().unwrap(),
        });
    }
    cfg
}

fn of(out: &[Transition], ty: AlertType) -> Vec<(AlertState, String, String)> {
    kinds(out)
        .into_iter()
        .filter(|(t, ..)| *t == ty)
        .map(|(_, st, subject, at)| (st, subject, at))
        .collect()
}

fn s(st: AlertState, subject: &str, at: &str) -> (AlertState, String, String) {
    (st, subject.to_string(), at.to_string())
}

fn details(out: &[Transition], ty: AlertType) -> Vec<serde_json::Value> {
    out.iter()
        .filter(|t| t.alert_type == ty)
        .map(|t| serde_json::Value::Object(t.details.clone()))
        .collect()
}

/// The agent started at 07:00, before `open` (07:30), then [`morning`].
fn early_morning() -> Vec<Event> {
    let mut events = vec![ev("07:00:00", json!({"type": "agent_started"}))];
    events.extend(morning());
    events
}

fn infant(e: &mut Engine) -> crate::rules::RoomFigures {
    e.rooms().into_iter().find(|r| r.room == "infant").unwrap()
}

#[test]
fn a_caregiver_on_a_break_stops_counting_at_once_and_counts_again_on_return() {
    let mut e = Engine::new(&config()).unwrap();
    let mut out = run(&mut e, &morning());
    assert_eq!(infant(&mut e).counted_staff, 2);
    out.extend(run(&mut e, &[presence("09:00:00", "s-02", "break")]));
    let room = infant(&mut e);
    assert_eq!((room.counted_staff, room.staff_present), (1, 2));
    out.extend(e.on_tick(utc("09:01:00")));
    out.extend(run(&mut e, &[presence("09:05:00", "s-02", "on_duty")]));
    assert_eq!(infant(&mut e).counted_staff, 2);
    assert_eq!(
        of(&out, RatioBreach),
        vec![
            s(Raised, "infant", "09:01:00"),
            s(Resolved, "infant", "09:05:00")
        ]
    );
    assert_eq!(
        details(&out, RatioBreach)[0],
        json!({"children": 4, "staff": 1, "required": 2})
    );
}

#[test]
fn other_work_does_not_count_and_with_nobody_on_duty_the_children_are_unsupervised() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(presence("10:00:00", "s-01", "other_work"));
    events.push(presence("10:00:00", "s-02", "break"));
    events.push(presence("10:02:00", "s-01", "on_duty"));
    let out = run(&mut e, &events);
    assert_eq!(
        of(&out, UnsupervisedChildren),
        vec![
            s(Raised, "infant", "10:00:00"),
            s(Resolved, "infant", "10:02:00")
        ]
    );
}

#[test]
fn presence_for_someone_unknown_not_staff_or_not_checked_in_is_rejected_with_the_reason() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    let clock = e.clock();
    let reject = |e: &mut Engine, person: &str| {
        e.on_event(&presence("09:00:00", person, "break"))
            .unwrap_err()
    };
    assert_eq!(
        reject(&mut e, "s-99"),
        Rejection::Unknown {
            what: "member of staff",
            id: "s-99".into()
        }
    );
    let child = reject(&mut e, "c-01").to_string();
    assert!(child.contains("`c-01` is not a member of staff"), "{child}");
    let guardian = reject(&mut e, "g-01").to_string();
    assert!(
        guardian.contains("`g-01` is not a member of staff"),
        "{guardian}"
    );
    let absent = reject(&mut e, "s-cook").to_string();
    assert!(
        absent.contains("`s-cook` is not checked in") && absent.contains("break"),
        "{absent}"
    );
    assert_eq!(e.clock(), clock, "a rejected event changes nothing");
}

#[test]
fn every_check_in_starts_on_duty_whatever_the_presence_at_check_out() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(presence("12:00:00", "s-02", "break"));
    events.push(att("12:00:30", "s-02", "check_out", json!({})));
    events.push(att("12:00:50", "s-02", "check_in", json!({})));
    let out = run(&mut e, &events);
    assert_eq!(infant(&mut e).counted_staff, 2);
    assert!(of(&out, RatioBreach).is_empty(), "{out:?}");
}

#[test]
fn staff_without_a_valid_required_certificate_do_not_count_and_are_not_qualified_at_check_in() {
    // s-01's health certificate ran out the day before; s-nurse has none; s-02's is valid
    // through today; the cook's role does not count, so the cook is not judged.
    let cfg = certified(&[
        ("s-01", "health", "2026-03-01"),
        ("s-02", "health", "2026-03-02"),
    ]);
    let mut e = Engine::new(&cfg).unwrap();
    let mut events = morning();
    events.push(att("07:54:00", "s-nurse", "check_in", json!({})));
    events.push(att("07:55:00", "s-cook", "check_in", json!({})));
    let mut out = run(&mut e, &events);
    out.extend(e.on_tick(utc("08:00:00")));
    assert_eq!(
        of(&out, StaffNotQualified),
        vec![
            s(Raised, "s-01", "07:40:00"),
            s(Raised, "s-nurse", "07:54:00")
        ]
    );
    assert_eq!(
        details(&out, StaffNotQualified),
        vec![
            json!({"certificate": "health", "expires": "2026-03-01"}),
            json!({"certificate": "health", "expires": null}),
        ]
    );
    let room = infant(&mut e);
    assert_eq!((room.counted_staff, room.staff_present), (1, 4));
    // Two caregivers in from 07:41, one of them not qualified: short from the fourth infant
    // (07:53), raised when the grace of 60s has passed.
    assert_eq!(of(&out, RatioBreach), vec![s(Raised, "infant", "07:54:00")]);
    assert_eq!(
        of(&out, StaffNotQualified)
            .iter()
            .filter(|x| x.0 == Resolved)
            .count(),
        0,
        "one-shot"
    );
}

#[test]
fn without_required_certificates_a_roster_with_expired_ones_raises_nothing_new() {
    let mut cfg = certified(&[("s-01", "health", "2020-01-01")]);
    cfg.rules.required_certificates.clear();
    let mut e = Engine::new(&cfg).unwrap();
    let mut out = run(&mut e, &morning());
    out.extend(e.on_tick(utc("23:00:00")));
    assert!(of(&out, StaffNotQualified).is_empty());
    assert!(of(&out, CertificateExpiring).is_empty());
    assert_eq!(infant(&mut e).counted_staff, 2);
}

#[test]
fn a_certificate_valid_through_its_expiry_date_stops_counting_at_the_next_midnight() {
    let cfg = certified(&[
        ("s-01", "health", "2026-03-02"),
        ("s-02", "health", "2027-01-31"),
    ]);
    let mut e = Engine::new(&cfg).unwrap();
    let mut out = run(&mut e, &morning());
    let midnight = DateTime::parse_from_rfc3339("2026-03-03T00:05:00+08:00").unwrap();
    out.extend(e.on_tick(midnight.with_timezone(&Utc)));
    assert_eq!(of(&out, RatioBreach), vec![s(Raised, "infant", "00:01:00")]);
    assert!(
        of(&out, StaffNotQualified).is_empty(),
        "qualified at check-in"
    );
}

#[test]
fn a_certificate_running_out_during_a_long_silence_is_judged_at_its_own_midnight() {
    // Nobody checks out and nothing happens for three weeks: the engine skips idle days,
    // but not the midnight at which s-01's certificate runs out.
    let cfg = certified(&[
        ("s-01", "health", "2026-03-10"),
        ("s-02", "health", "2027-01-31"),
    ]);
    let mut e = Engine::new(&cfg).unwrap();
    let mut out = run(&mut e, &morning());
    let later = DateTime::parse_from_rfc3339("2026-03-25T09:00:00+08:00").unwrap();
    out.extend(e.on_tick(later.with_timezone(&Utc)));
    let breach: Vec<String> = out
        .iter()
        .filter(|t| t.alert_type == RatioBreach)
        .map(|t| t.ts.to_rfc3339())
        .collect();
    assert_eq!(breach, ["2026-03-11T00:01:00+08:00"]);
}

#[test]
fn a_required_certificate_expiring_within_the_warning_is_raised_at_open_once_per_expiry() {
    // s-01's expires in 18 days (warned), s-02's in 60 (not yet), s-nurse's ran out
    // (not "expiring": not qualified at check-in instead).
    let cfg = certified(&[
        ("s-01", "health", "2026-03-20"),
        ("s-02", "health", "2026-05-01"),
        ("s-nurse", "health", "2026-02-01"),
    ]);
    let mut e = Engine::new(&cfg).unwrap();
    let mut out = run(&mut e, &[att("07:00:00", "s-cook", "check_in", json!({}))]);
    out.extend(e.on_tick(utc("07:29:59")));
    assert!(of(&out, CertificateExpiring).is_empty());
    out.extend(e.on_tick(utc("07:30:00")));
    assert_eq!(
        of(&out, CertificateExpiring),
        vec![s(Raised, "s-01", "07:30:00")]
    );
    let raised = out
        .iter()
        .find(|t| t.alert_type == CertificateExpiring)
        .unwrap();
    assert_eq!(raised.severity, crate::alert::Severity::Warning);
    assert_eq!(
        serde_json::Value::Object(raised.details.clone()),
        json!({"certificate": "health", "expires": "2026-03-20"})
    );
    // The next morning it is still open, and not raised again.
    let next = DateTime::parse_from_rfc3339("2026-03-03T08:00:00+08:00").unwrap();
    let again = e.on_tick(next.with_timezone(&Utc));
    assert!(of(&again, CertificateExpiring).is_empty(), "{again:?}");
    assert_eq!(
        e.open_alerts()
            .iter()
            .filter(|a| a.1 == CertificateExpiring)
            .count(),
        1
    );
}

#[test]
fn a_warning_of_thirty_days_counts_to_the_end_of_the_expiry_date() {
    // Open at 07:30; the certificate is valid to the end of its date. Expiring on 04-01 it
    // is within 30 days at 2026-03-02 07:30 (30 days 16.5 hours is not).
    let cfg = certified(&[
        ("s-01", "health", "2026-03-31"),
        ("s-02", "health", "2026-04-01"),
    ]);
    let mut e = Engine::new(&cfg).unwrap();
    run(&mut e, &[att("07:00:00", "s-cook", "check_in", json!({}))]);
    let out = e.on_tick(utc("07:30:00"));
    assert_eq!(
        of(&out, CertificateExpiring),
        vec![s(Raised, "s-01", "07:30:00")]
    );
}

#[test]
fn a_reload_giving_a_later_expiry_resolves_the_warning_with_the_new_date() {
    let cfg = certified(&[
        ("s-01", "health", "2026-03-20"),
        ("s-02", "health", "2026-03-25"),
    ]);
    let mut e = Engine::new(&cfg).unwrap();
    let mut out = run(&mut e, &early_morning());
    out.extend(e.on_tick(utc("08:00:00")));
    assert_eq!(of(&out, CertificateExpiring).len(), 2);
    let mut renewed = cfg.clone();
    renewed.staff[0].certificates[0].expires = "2027-03-20".parse().unwrap();
    let r = e.reload(&cfg, &renewed).unwrap();
    assert_eq!(
        of(&r.transitions, CertificateExpiring),
        vec![s(Resolved, "s-01", "08:00:00")]
    );
    assert_eq!(
        details(&r.transitions, CertificateExpiring),
        vec![json!({"certificate": "health", "expires": "2027-03-20"})]
    );
    let open: Vec<String> = r
        .engine
        .open_alerts()
        .into_iter()
        .filter(|a| a.1 == CertificateExpiring)
        .map(|a| a.2)
        .collect();
    assert_eq!(open, ["s-02"]);
}

#[test]
fn a_restart_with_a_renewed_roster_resolves_the_warning_at_the_next_open() {
    let cfg = certified(&[("s-01", "health", "2026-03-20")]);
    let mut e = Engine::new(&cfg).unwrap();
    run(&mut e, &early_morning());
    e.on_tick(utc("08:00:00"));
    let snap = Snapshot::from_json(&e.snapshot().to_json()).unwrap();
    let mut renewed = cfg.clone();
    renewed.staff[0].certificates[0].expires = "2027-03-20".parse().unwrap();
    let mut again = Engine::restore(&renewed, &snap).unwrap();
    assert_eq!(again.open_alerts().len(), e.open_alerts().len());
    let next = DateTime::parse_from_rfc3339("2026-03-03T07:30:00+08:00").unwrap();
    let out = again.on_tick(next.with_timezone(&Utc));
    let resolved: Vec<(AlertState, String)> = out
        .iter()
        .filter(|t| t.alert_type == CertificateExpiring)
        .map(|t| (t.state, t.ts.to_rfc3339()))
        .collect();
    assert_eq!(
        resolved,
        [(Resolved, "2026-03-03T07:30:00+08:00".to_string())]
    );
}

#[test]
fn presence_and_open_warnings_survive_a_snapshot_and_restore() {
    let cfg = certified(&[
        ("s-01", "health", "2026-03-20"),
        ("s-02", "health", "2027-01-01"),
    ]);
    let mut e = Engine::new(&cfg).unwrap();
    let mut events = early_morning();
    events.push(presence("08:10:00", "s-02", "break"));
    run(&mut e, &events);
    let snap = Snapshot::from_json(&e.snapshot().to_json()).unwrap();
    let mut back = Engine::restore(&cfg, &snap).unwrap();
    assert_eq!(back.snapshot(), e.snapshot());
    assert_eq!(infant(&mut back).counted_staff, 1);
    assert_eq!(back.staff_figures(), e.staff_figures());
    // The ratio timer carries over, and the return resolves it in the restored engine.
    let mut out = back.on_tick(utc("08:11:00"));
    out.extend(run(&mut back, &[presence("08:20:00", "s-02", "on_duty")]));
    assert_eq!(
        of(&out, RatioBreach),
        vec![
            s(Raised, "infant", "08:11:00"),
            s(Resolved, "infant", "08:20:00")
        ]
    );
    assert!(back
        .open_alerts()
        .iter()
        .any(|a| a.1 == CertificateExpiring && a.2 == "s-01"));
}

#[test]
fn the_staff_view_says_who_counts_and_why_the_others_do_not() {
    let cfg = certified(&[
        ("s-01", "health", "2026-03-01"),
        ("s-02", "health", "2027-01-01"),
    ]);
    let mut e = Engine::new(&cfg).unwrap();
    let mut events = morning();
    events.push(att("07:55:00", "s-cook", "check_in", json!({})));
    events.push(att(
        "07:56:00",
        "s-nurse",
        "move",
        json!({"room": "toddler"}),
    ));
    events.push(presence("08:00:00", "s-nurse", "other_work"));
    run(&mut e, &events);
    let got: Vec<(String, String, bool, Vec<NotCounted>)> = e
        .staff_figures()
        .into_iter()
        .map(
            |StaffFigures {
                 staff,
                 room,
                 counted,
                 not_counted,
                 ..
             }| { (staff, room, counted, not_counted) },
        )
        .collect();
    let health = CertificateKind::Health;
    assert_eq!(
        got,
        vec![
            (
                "s-01".into(),
                "infant".into(),
                false,
                vec![NotCounted::CertificateExpired {
                    certificate: health,
                    expires: "2026-03-01".parse().unwrap()
                }]
            ),
            ("s-02".into(), "infant".into(), true, vec![]),
            (
                "s-cook".into(),
                "infant".into(),
                false,
                vec![
                    NotCounted::Role,
                    NotCounted::CertificateMissing {
                        certificate: health
                    }
                ]
            ),
            (
                "s-nurse".into(),
                "toddler".into(),
                false,
                vec![
                    NotCounted::OtherWork,
                    NotCounted::CertificateMissing {
                        certificate: health
                    }
                ]
            ),
        ]
    );
    let json = serde_json::to_value(e.staff_figures()).unwrap();
    assert_eq!(
        json[0]["not_counted"],
        json!([{"reason": "certificate_expired", "certificate": "health", "expires": "2026-03-01"}])
    );
}

#[test]
fn a_staff_warning_can_be_acknowledged_and_disposed_like_any_open_alert() {
    let cfg = certified(&[("s-01", "health", "2026-03-20")]);
    let mut e = Engine::new(&cfg).unwrap();
    let mut out = run(&mut e, &early_morning());
    out.extend(e.on_tick(utc("08:00:00")));
    let id = out
        .iter()
        .find(|t| t.alert_type == CertificateExpiring)
        .unwrap()
        .alert_id
        .clone();
    let more = run(
        &mut e,
        &[
            ev(
                "08:05:00",
                json!({"type": "acknowledge", "alert_id": id, "by": "s-02"}),
            ),
            ev(
                "08:06:00",
                json!({"type": "disposition", "alert_id": id, "by": "s-02", "action": "handled_on_site"}),
            ),
        ],
    );
    let states: Vec<AlertState> = more.iter().map(|t| t.state).collect();
    assert_eq!(states, [Acknowledged, Disposed]);
}

mod properties {
    //! Who counts is state like any other: the transitions of a day with breaks, returns,
    //! certificates running out at midnight and warnings at `open` do not depend on how
    //! often the clock ticks or on a snapshot in between.

    use chrono::{DateTime, Utc};
    use proptest::prelude::*;

    use super::*;

    fn cfg() -> Config {
        // s-01's certificate runs out at the first midnight, s-02's is warned of at `open`.
        certified(&[
            ("s-01", "health", "2026-03-02"),
            ("s-02", "health", "2026-03-20"),
        ])
    }

    /// Attendance and presence of two caregivers and four infants, one every 1–3000 s
    /// (so across midnights and openings), keeping only what the engine accepts.
    fn arb_day() -> impl Strategy<Value = Vec<Event>> {
        let people = ["s-01", "s-02", "c-01", "c-02", "c-03", "c-04"];
        let one = prop_oneof![
            (0..people.len(), 0..2usize).prop_map(move |(p, a)| {
                let action = ["check_in", "check_out"][a];
                let mut v = json!({"type": "attendance", "person": people[p], "action": action});
                if action == "check_out" && p >= 2 {
                    v["by"] = json!("g-01");
                }
                v
            }),
            (0..2usize, 0..3usize).prop_map(|(s, st)| json!({
                "type": "presence",
                "person": (["s-01", "s-02"][s]),
                "state": (["on_duty", "break", "other_work"][st]),
            })),
        ];
        prop::collection::vec((1i64..3000, one), 1..100).prop_map(|steps| {
            let mut probe = Engine::new(&cfg()).unwrap();
            let mut at = t("07:00:00");
            steps
                .into_iter()
                .filter_map(|(gap, mut v)| {
                    at += chrono::Duration::seconds(gap);
                    v["ts"] = json!(at);
                    let ev: Event = serde_json::from_value(v).unwrap();
                    probe.on_event(&ev).ok().map(|_| ev)
                })
                .collect()
        })
    }

    fn run_all(e: &mut Engine, events: &[Event], end: DateTime<Utc>) -> Vec<Transition> {
        let mut out = run(e, events);
        out.extend(e.on_tick(end));
        out
    }

    fn end_of(events: &[Event]) -> DateTime<Utc> {
        events.last().map_or(utc("07:00:00"), |e| e.utc().unwrap()) + chrono::Duration::hours(30)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        #[test]
        fn who_counts_survives_a_snapshot_restored_anywhere(events in arb_day(), cut in 0usize..100) {
            let end = end_of(&events);
            let expected = run_all(&mut Engine::new(&cfg()).unwrap(), &events, end);
            let cut = cut % (events.len() + 1);
            let mut e = Engine::new(&cfg()).unwrap();
            let mut got = run(&mut e, &events[..cut]);
            let snap = Snapshot::from_json(&e.snapshot().to_json()).unwrap();
            let mut r = Engine::restore(&cfg(), &snap).unwrap();
            got.extend(run_all(&mut r, &events[cut..], end));
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn who_counts_does_not_depend_on_how_often_the_clock_ticks(
            events in arb_day(),
            ticks in prop::collection::vec(0u32..3000, 0..40),
        ) {
            let end = end_of(&events);
            let expected = run_all(&mut Engine::new(&cfg()).unwrap(), &events, end);
            let mut e = Engine::new(&cfg()).unwrap();
            let mut got = Vec::new();
            for (i, ev) in events.iter().enumerate() {
                let from = if i == 0 { ev.utc().unwrap() } else { events[i - 1].utc().unwrap() };
                let span = (ev.utc().unwrap() - from).num_seconds().max(0);
                for tick in ticks.iter().filter(|t| **t as usize % events.len() == i) {
                    let at = from + chrono::Duration::seconds(i64::from(*tick) % (span + 1));
                    got.extend(e.on_tick(at));
                }
                got.extend(e.on_event(ev).unwrap());
            }
            got.extend(e.on_tick(end));
            prop_assert_eq!(got, expected);
        }
    }
}
