//! Attendance: pick-ups, repeated check-ins and outs, the end-of-day check.

use serde_json::json;

use super::*;

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
