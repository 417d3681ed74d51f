//! Rejections that change nothing, and snapshots that restore everything.

use serde_json::json;

use super::*;

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
    // A new child arrives on the roster: who was checked in stays so, and the newcomer is
    // not checked in by the edit.
    let edited = config_of(
        roster().child(Child::new("c-new", "新", "2025-07-01", "infant").guardians(["g-02"])),
    );
    let mut r = Engine::restore(&edited, &snap).unwrap();
    assert_eq!(r.rooms()[0].children, 4);
    assert!(r.occupancy().iter().all(|(id, _)| id != "c-new"));
}
