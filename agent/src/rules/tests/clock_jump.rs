//! A jump of the wall clock (`clock_jump` events): pending timers keep the time they had
//! run, nothing falls due for the skipped span, and ages are never judged at 1970.

use chrono::{DateTime, FixedOffset};
use serde_json::json;

use super::*;

/// A `clock_jump` journalled at `to`: the clock would have read `from` without the jump.
fn jump(from: DateTime<FixedOffset>, to: DateTime<FixedOffset>) -> Event {
    serde_json::from_value(json!({"ts": to, "type": "clock_jump", "from": from})).unwrap()
}

fn day_after(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(&format!("2026-03-03T{s}+08:00")).unwrap()
}

fn types(ts: &[Transition]) -> Vec<AlertType> {
    ts.iter().map(|t| t.alert_type).collect()
}

#[test]
fn a_jump_forward_by_a_day_raises_no_missed_pickup_and_no_stale_sensor() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(reading("10:00:00", 24.0));
    run(&mut e, &events);
    let out = e
        .on_event(&jump(t("10:00:30"), day_after("10:00:30")))
        .unwrap();
    assert!(
        !types(&out)
            .iter()
            .any(|t| [ChildNotCheckedOut, SensorStale].contains(t)),
        "{out:?}"
    );
    // The sensor had been silent for 30 s before the jump: it is stale 5 min after its
    // reading in its own time, not at once.
    let out = e.on_tick(day_after("10:04:59").with_timezone(&Utc));
    assert!(!types(&out).contains(&SensorStale), "{out:?}");
    let out = e.on_tick(day_after("10:05:00").with_timezone(&Utc));
    assert_eq!(types(&out), vec![SensorStale]);
    // The pick-up check of the day the clock landed on still runs.
    let out = e.on_tick(day_after("18:15:00").with_timezone(&Utc));
    assert_eq!(
        out.iter()
            .filter(|t| t.alert_type == ChildNotCheckedOut)
            .count(),
        4
    );
}

#[test]
fn a_door_held_open_across_a_jump_back_raises_sixty_seconds_after_it_opened() {
    let mut e = Engine::new(&config()).unwrap();
    run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "badge", "reader": "entrance-reader", "card": "20001"}),
            ),
            ev(
                "08:00:05",
                json!({"type": "door", "door": "entrance", "state": "open"}),
            ),
        ],
    );
    e.on_event(&jump(t("08:00:35"), t("07:00:35"))).unwrap();
    assert!(e.on_tick(utc("07:01:04")).is_empty());
    let out = e.on_tick(utc("07:01:05"));
    assert_eq!(
        kinds(&out),
        vec![k(DoorHeldOpen, Raised, "entrance", "07:01:05")]
    );
}

#[test]
fn an_event_stamped_after_a_jump_back_is_in_order() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &morning());
    e.on_event(&jump(t("09:00:00"), t("08:00:00"))).unwrap();
    let checked_out = att("08:00:10", "c-01", "check_out", json!({"by": "g-01"}));
    assert!(e.on_event(&checked_out).is_ok());
    // Only the jump itself may go back: an ordinary event still may not.
    let late = att("07:59:00", "c-02", "check_out", json!({"by": "g-01"}));
    assert!(matches!(
        e.on_event(&late),
        Err(Rejection::OutOfOrder { .. })
    ));
}

#[test]
fn a_ratio_grace_keeps_the_time_it_had_run_across_a_jump_forward() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    // Two caregivers for four infants; one leaves at 09:00: 1 of 2 required.
    events.push(att("09:00:00", "s-02", "check_out", json!({})));
    run(&mut e, &events);
    e.on_event(&jump(t("09:00:30"), t("11:00:30"))).unwrap();
    assert!(kinds(&e.on_tick(utc("11:00:59"))).is_empty());
    assert_eq!(
        kinds(&e.on_tick(utc("11:01:00"))),
        vec![k(RatioBreach, Raised, "infant", "11:01:00")]
    );
}

#[test]
fn timers_due_before_the_jump_still_fire_at_their_own_time() {
    let mut e = Engine::new(&config()).unwrap();
    let mut events = morning();
    events.push(att("09:00:00", "s-02", "check_out", json!({})));
    run(&mut e, &events);
    let out = e.on_event(&jump(t("09:02:00"), t("08:00:00"))).unwrap();
    assert_eq!(
        kinds(&out),
        vec![k(RatioBreach, Raised, "infant", "09:01:00")]
    );
}

#[test]
fn after_a_boot_at_1970_children_keep_the_ages_of_the_last_good_date() {
    // Six children of three (2:7 band under cn-2019): one caregiver is enough; as
    // infants (1:3) they would need two.
    let roster = born_on("m", 1, 6, "2023-01-01")
        .into_iter()
        .fold(Roster::sunflower(), Roster::child);
    let mut e = Engine::new(&config_of(roster)).unwrap();
    let mut events = vec![att("07:40:00", "s-01", "check_in", json!({}))];
    for i in 1..=6 {
        events.push(att("07:50:00", &format!("m-{i}"), "check_in", json!({})));
    }
    run(&mut e, &events);
    let before = e.rooms();
    let boot: DateTime<FixedOffset> = "1970-01-01T08:00:00+08:00".parse().unwrap();
    let out = e.on_event(&jump(t("08:00:00"), boot)).unwrap();
    assert!(kinds(&out).is_empty(), "{out:?}");
    assert_eq!(e.rooms(), before);
    let out = e.on_tick(boot.with_timezone(&Utc) + chrono::Duration::hours(1));
    assert!(!types(&out).contains(&RatioBreach), "{out:?}");
}

#[test]
fn a_new_board_at_1970_judges_ages_no_earlier_than_the_youngest_birth() {
    // The youngest child was born on 2025-01-01: the six of 2023 are at least two then.
    let roster = born_on("m", 1, 6, "2023-01-01")
        .into_iter()
        .chain(born_on("y", 1, 1, "2025-01-01"))
        .fold(Roster::sunflower(), Roster::child);
    let mut e = Engine::new(&config_of(roster)).unwrap();
    let at = |s: &str| -> Event {
        let ts: DateTime<FixedOffset> = format!("1970-01-01T{s}+08:00").parse().unwrap();
        let mut ev = att("07:40:00", "s-01", "check_in", json!({}));
        ev.ts = Some(ts);
        ev
    };
    let mut events = vec![at("07:40:00")];
    for i in 1..=6 {
        let mut c = at("07:50:00");
        c.kind = att("07:50:00", &format!("m-{i}"), "check_in", json!({})).kind;
        events.push(c);
    }
    run(&mut e, &events);
    let room = e.rooms().into_iter().find(|r| r.room == "infant").unwrap();
    assert_eq!(room.children, 6);
    assert_eq!(room.required, 1, "{room:?}");
}

#[test]
fn a_snapshot_taken_after_a_jump_restores_the_moved_timers() {
    let cfg = config();
    let mut e = Engine::new(&cfg).unwrap();
    let mut events = morning();
    events.push(att("09:00:00", "s-02", "check_out", json!({})));
    run(&mut e, &events);
    e.on_event(&jump(t("09:00:30"), t("11:00:30"))).unwrap();
    let mut restored = Engine::restore(&cfg, &e.snapshot()).unwrap();
    assert_eq!(
        kinds(&restored.on_tick(utc("11:01:00"))),
        vec![k(RatioBreach, Raised, "infant", "11:01:00")]
    );
}
