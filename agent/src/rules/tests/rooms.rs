//! Rooms: ratios, age bands, supervision and capacity.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;

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
    let babies = born_on("m", 1, 4, "2025-03-03");
    let cfg = config_of(babies.into_iter().fold(Roster::sunflower(), Roster::child));
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
fn eleven_infants_overfill_a_room_of_group_size_ten() {
    let babies = born_on("b", 0, 11, "2025-09-01");
    let cfg = config_of(babies.into_iter().fold(Roster::sunflower(), Roster::child));
    let mut e = Engine::new(&cfg).unwrap();
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
