//! Far-apart timestamps: the daily timers (pick-up check, midnight) jump over the days on
//! which they could change nothing, and the transitions are the same as when every day is
//! stepped through.

use chrono::{DateTime, Duration, Utc};

use super::*;
use nursery_testkit::ev;

fn parsed(line: &str) -> Event {
    Event::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// A morning of 2026-03-02: two staff in, the five children of the test roster in (four of
/// 8 months and one turning 12 months that day), one member of staff out again.
fn morning() -> Vec<Event> {
    let mut lines = vec![
        ev::check_in("2026-03-02T07:30:00+08:00", "s-01"),
        ev::check_in("2026-03-02T07:31:00+08:00", "s-02"),
    ];
    for c in 1..=5 {
        lines.push(ev::check_in(
            "2026-03-02T08:00:00+08:00",
            &format!("c-0{c}"),
        ));
    }
    lines.push(ev::check_out("2026-03-02T09:00:00+08:00", "s-02"));
    lines.iter().map(|l| parsed(l)).collect()
}

fn lines(ts: Vec<Transition>) -> Vec<String> {
    ts.iter().map(Transition::to_json_line).collect()
}

#[test]
fn three_years_in_one_step_give_the_transitions_of_three_years_stepped_day_by_day() {
    let cfg = config();
    let end: DateTime<Utc> = "2029-03-02T12:00:00Z".parse().unwrap();

    let mut jumped = Engine::new(&cfg).unwrap();
    let mut at_once = run(&mut jumped, &morning());
    at_once.extend(jumped.on_tick(end));

    let mut stepped = Engine::new(&cfg).unwrap();
    let mut daily = run(&mut stepped, &morning());
    let mut t = stepped.clock().unwrap();
    while t < end {
        daily.extend(stepped.on_tick(t));
        t += Duration::hours(7);
    }
    daily.extend(stepped.on_tick(end));

    let (at_once, daily) = (lines(at_once), lines(daily));
    assert_eq!(at_once, daily);
    // The children aged through the bands in between: the ratio breach of the morning was
    // resolved at the midnight a band change made one member of staff enough.
    assert!(
        at_once
            .iter()
            .any(|l| l.contains("\"resolved\"") && l.contains("ratio_breach")),
        "{at_once:#?}"
    );
    assert_eq!(jumped.snapshot(), stepped.snapshot());
}

#[test]
fn events_in_years_1_and_9999_replay_in_a_moment() {
    let cfg = config();
    let log = ev::log(&[
        ev::check_in("0001-01-01T08:00:00+08:00", "s-01"),
        ev::check_in("0001-01-01T08:00:00+08:00", "c-01"),
        ev::check_in("9999-12-30T08:00:00+08:00", "c-02"),
    ]);
    let started = std::time::Instant::now();
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    let outcome = crate::replay::replay(&cfg, log.as_bytes(), None, &mut out, &mut errors).unwrap();
    let took = started.elapsed();
    println!("replay of years 1 and 9999: {took:?}");
    assert_eq!(outcome.rejected, 0, "{}", String::from_utf8_lossy(&errors));
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
    // c-01 was never picked up: flagged once, at the first close + grace.
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.matches("child_not_checked_out").count(), 1, "{out}");
}
