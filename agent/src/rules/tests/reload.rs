//! A new configuration while running (`Engine::reload`): who is where and the open alerts
//! carry over; people who left the roster stay until checked out; alerts whose subject
//! left resolve with a reason; an occupied room cannot be removed.

use serde_json::json;

use super::*;

/// The morning, then `s-02` leaves: a ratio breach at 09:01.
fn breached() -> (Config, Engine) {
    let cfg = config();
    let mut e = Engine::new(&cfg).unwrap();
    let mut events = morning();
    events.push(att("09:00:00", "s-02", "check_out", json!({})));
    run(&mut e, &events);
    e.on_tick(utc("09:01:00"));
    (cfg, e)
}

fn open_ids(e: &Engine) -> Vec<String> {
    e.open_alerts().into_iter().map(|a| a.0).collect()
}

#[test]
fn a_reload_keeps_who_is_where_and_every_open_alert() {
    let (cfg, mut e) = breached();
    let mut new = cfg.clone();
    new.rooms[0].name = "乳儿一班".into();
    let before = (e.rooms(), open_ids(&e));
    let mut r = e.reload(&cfg, &new).unwrap();
    assert!(kinds(&r.transitions).is_empty(), "{:?}", r.transitions);
    assert!(r.kept.is_empty());
    assert_eq!((r.engine.rooms(), open_ids(&r.engine)), before);
    // The breach still resolves when a caregiver comes back.
    let out = run(
        &mut r.engine,
        &[att("09:30:00", "s-02", "check_in", json!({}))],
    );
    assert_eq!(
        kinds(&out),
        vec![k(RatioBreach, Resolved, "infant", "09:30:00")]
    );
    e = r.engine;
    assert!(!e.open_alerts().iter().any(|a| a.1 == RatioBreach));
}

#[test]
fn a_child_removed_from_the_roster_while_checked_in_stays_until_checked_out() {
    let (cfg, e) = breached();
    let mut new = cfg.clone();
    new.children.retain(|c| c.id != "c-01");
    let mut r = e.reload(&cfg, &new).unwrap();
    assert_eq!(r.kept, vec!["c-01".to_string()]);
    let infant = |e: &mut Engine| e.rooms().into_iter().find(|r| r.room == "infant").unwrap();
    assert_eq!(infant(&mut r.engine).children, 4);
    let out = run(
        &mut r.engine,
        &[att("16:00:00", "c-01", "check_out", json!({"by": "g-01"}))],
    );
    assert!(
        !out.iter().any(|t| t.alert_type == UnauthorizedPickup),
        "{out:?}"
    );
    assert_eq!(infant(&mut r.engine).children, 3);
}

#[test]
fn an_open_alert_whose_subject_left_the_configuration_resolves_saying_why() {
    let cfg = config();
    let mut e = Engine::new(&cfg).unwrap();
    run(
        &mut e,
        &[ev(
            "08:00:00",
            json!({"type": "door", "door": "garden", "state": "open"}),
        )],
    );
    assert_eq!(e.open_alerts().len(), 1);
    let mut new = cfg.clone();
    new.doors.retain(|d| d.id != "garden");
    new.readers.retain(|r| r.door.as_deref() != Some("garden"));
    let r = e.reload(&cfg, &new).unwrap();
    let resolved: Vec<_> = r
        .transitions
        .iter()
        .filter(|t| t.state == Resolved)
        .collect();
    assert_eq!(resolved.len(), 1, "{:?}", r.transitions);
    assert_eq!(resolved[0].alert_type, DoorForced);
    assert_eq!(resolved[0].subject, "garden");
    assert_eq!(
        resolved[0].details["reason"],
        "removed from the configuration"
    );
    assert!(r.engine.open_alerts().is_empty());
}

#[test]
fn removing_a_room_someone_is_checked_in_to_is_refused_naming_it() {
    let (cfg, e) = breached();
    let mut new = cfg.clone();
    new.rooms.retain(|r| r.id != "infant");
    new.children.retain(|c| c.room != "infant");
    new.staff.retain(|s| s.room != "infant");
    new.readers.retain(|r| r.room.as_deref() != Some("infant"));
    new.sensors.retain(|s| s.room != "infant");
    let err = e.reload(&cfg, &new).err().expect("refused");
    assert!(
        err.contains("room `infant`") && err.contains("4 children"),
        "{err}"
    );
}

#[test]
fn a_lower_capacity_applies_at_once() {
    let (cfg, e) = breached();
    let mut new = cfg.clone();
    let infant = new.rooms.iter_mut().find(|r| r.id == "infant").unwrap();
    infant.capacity = Some(3);
    let r = e.reload(&cfg, &new).unwrap();
    assert_eq!(
        kinds(&r.transitions),
        vec![k(CapacityExceeded, Raised, "infant", "09:01:00")]
    );
}
