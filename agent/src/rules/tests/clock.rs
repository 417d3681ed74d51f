//! The engine's clock across time-zone changes, through `replay` as an installer runs it:
//! a valid configuration in the zone, an event log, and the transitions it prints.
//!
//! Samoa skipped 2011-12-30 (UTC−10 to UTC+14), Lord Howe Island shifts by 30 minutes,
//! and São Paulo's 2018-11-04 began at 01:00. Timers that measure a duration (a grace
//! period, a door held open) run in real time across a shift; daily ones (the pick-up
//! check at close plus grace, midnight) follow the wall clock, and a day that never
//! happened has neither.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::localtime;
use crate::replay::{replay, ReplayOutcome};
use nursery_testkit::ev;

/// The kit's 向日葵 roster in `zone`, with `children` children `m-1` … born on `born` in
/// the infant room, loaded and validated as `nursery-agent replay` loads it.
fn roster(zone: &str, children: usize, born: &str) -> Config {
    let roster = born_on("m", 1, children, born)
        .into_iter()
        .fold(Roster::sunflower().timezone(zone), Roster::child);
    crate::config::parse(&roster.toml(), Path::new("clock.toml"))
        .unwrap_or_else(|e| panic!("the roster in {zone} is valid: {e}"))
}

/// [`roster`] as the engine reads it, without the loader's checks: for birth dates after
/// today, which the loader refuses as typos.
fn unchecked_roster(zone: &str, children: usize, born: &str) -> Config {
    let roster = born_on("m", 1, children, born)
        .into_iter()
        .fold(Roster::sunflower().timezone(zone), Roster::child);
    config_of(roster)
}

/// Replays `log` up to `until`: the transitions printed, and the replay's outcome.
fn replayed(cfg: &Config, log: &str, until: &str) -> (Vec<Transition>, ReplayOutcome) {
    let until = DateTime::parse_from_rfc3339(until)
        .unwrap()
        .with_timezone(&Utc);
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    let outcome = replay(cfg, log.as_bytes(), Some(until), &mut out, &mut errors).unwrap();
    let errors = String::from_utf8(errors).unwrap();
    assert_eq!(outcome.rejected, 0, "{errors}");
    let printed = String::from_utf8(out).unwrap();
    let transitions = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (transitions, outcome)
}

/// (type, state, subject, ts as printed) of every transition of one of `types`.
fn printed(ts: &[Transition], types: &[AlertType]) -> Vec<(AlertType, AlertState, String, String)> {
    ts.iter()
        .filter(|t| types.contains(&t.alert_type))
        .map(|t| (t.alert_type, t.state, t.subject.clone(), t.ts.to_rfc3339()))
        .collect()
}

fn p(
    ty: AlertType,
    st: AlertState,
    subject: &str,
    ts: &str,
) -> (AlertType, AlertState, String, String) {
    (ty, st, subject.to_string(), ts.to_string())
}

#[test]
fn samoa_checks_pickups_on_the_29th_and_the_31st_and_not_on_the_day_it_skipped() {
    // Three infants (11 months old): m-1 stays on the 29th, m-3 arrives after the 29th's
    // check and leaves early on the 31st — in between lay the close of a 30th that never
    // was — and m-2 stays on the 31st.
    let cfg = roster("Pacific/Apia", 3, "2011-01-10");
    let log = [
        ev::check_in("2011-12-29T07:40:00-10:00", "s-01"),
        ev::check_in("2011-12-29T08:00:00-10:00", "m-1"),
        ev::check_in("2011-12-29T23:00:00-10:00", "m-3"),
        ev::pick_up("2011-12-31T07:00:00+14:00", "m-3", "g-01"),
        ev::pick_up("2011-12-31T08:00:00+14:00", "m-1", "g-01"),
        ev::check_in("2011-12-31T08:30:00+14:00", "m-2"),
    ];
    let log = ev::log(&log);
    let (out, outcome) = replayed(&cfg, &log, "2012-01-01T12:00:00+14:00");
    assert_eq!(outcome.accepted, 6);
    assert_eq!(
        printed(&out, &[ChildNotCheckedOut]),
        vec![
            p(
                ChildNotCheckedOut,
                Raised,
                "m-1",
                "2011-12-29T18:15:00-10:00"
            ),
            p(
                ChildNotCheckedOut,
                Resolved,
                "m-1",
                "2011-12-31T08:00:00+14:00"
            ),
            p(
                ChildNotCheckedOut,
                Raised,
                "m-2",
                "2011-12-31T18:15:00+14:00"
            ),
        ]
    );
}

#[test]
fn lord_howe_runs_grace_periods_in_real_time_and_daily_timers_on_its_half_hour_shifted_clock() {
    // Four infants turn 12 months on 2026-10-04, the night the island springs from +10:30
    // to +11:00 at 02:00: one caregiver is short (2 required) until midnight, then enough.
    let cfg = roster("Australia/Lord_Howe", 4, "2025-10-04");
    let mut log = vec![ev::check_in("2026-10-03T19:00:00+10:30", "s-01")];
    for i in 1..=4 {
        log.push(ev::check_in("2026-10-03T19:01:00+10:30", &format!("m-{i}")));
    }
    // Opened 30 s before the shift: held open for a minute means 02:30:30 on the new clock.
    log.push(ev::door_open("2026-10-04T01:59:30+10:30", "entrance"));
    log.push(ev::door_closed("2026-10-04T02:35:00+11:00", "entrance"));
    let (out, _) = replayed(&cfg, &ev::log(&log), "2026-10-05T00:00:00+11:00");
    let mut want = vec![
        p(RatioBreach, Raised, "infant", "2026-10-03T19:02:00+10:30"),
        p(RatioBreach, Resolved, "infant", "2026-10-04T00:00:00+10:30"),
        p(DoorForced, Raised, "entrance", "2026-10-04T01:59:30+10:30"),
        p(
            DoorHeldOpen,
            Raised,
            "entrance",
            "2026-10-04T02:30:30+11:00",
        ),
        p(
            DoorForced,
            Resolved,
            "entrance",
            "2026-10-04T02:35:00+11:00",
        ),
        p(
            DoorHeldOpen,
            Resolved,
            "entrance",
            "2026-10-04T02:35:00+11:00",
        ),
    ];
    for i in 1..=4 {
        let child = format!("m-{i}");
        want.push(p(
            ChildNotCheckedOut,
            Raised,
            &child,
            "2026-10-04T18:15:00+11:00",
        ));
    }
    let types = [RatioBreach, DoorForced, DoorHeldOpen, ChildNotCheckedOut];
    assert_eq!(printed(&out, &types), want);
    let held = out.iter().find(|t| t.alert_type == DoorHeldOpen).unwrap();
    assert_eq!(held.details["open_for_s"], serde_json::json!(60));
}

#[test]
fn lord_howe_falling_back_half_an_hour_keeps_a_held_door_one_real_minute() {
    // 2026-04-05: +11:00 back to +10:30 at 02:00, so 01:30–02:00 happens twice.
    let cfg = roster("Australia/Lord_Howe", 0, "2025-10-04");
    let log = [
        ev::door_open("2026-04-05T01:59:30+11:00", "entrance"),
        ev::door_closed("2026-04-05T01:35:00+10:30", "entrance"),
    ];
    let log = ev::log(&log);
    let (out, _) = replayed(&cfg, &log, "2026-04-05T03:00:00+10:30");
    assert_eq!(
        printed(&out, &[DoorHeldOpen]),
        vec![
            p(
                DoorHeldOpen,
                Raised,
                "entrance",
                "2026-04-05T01:30:30+10:30"
            ),
            p(
                DoorHeldOpen,
                Resolved,
                "entrance",
                "2026-04-05T01:35:00+10:30"
            ),
        ]
    );
}

#[test]
fn sao_paulo_reaches_the_midnight_it_never_had_at_one_oclock() {
    // Brazil sprang forward at 00:00 on 2018-11-04: the day began at 01:00 (−02:00). Four
    // infants turn 12 months that day; one caregiver is short until the age re-evaluation.
    let cfg = roster("America/Sao_Paulo", 4, "2017-11-04");
    let mut log = vec![ev::check_in("2018-11-03T20:00:00-03:00", "s-01")];
    for i in 1..=4 {
        log.push(ev::check_in("2018-11-03T20:01:00-03:00", &format!("m-{i}")));
    }
    let (out, _) = replayed(&cfg, &ev::log(&log), "2018-11-05T00:00:00-02:00");
    let mut want = vec![
        p(RatioBreach, Raised, "infant", "2018-11-03T20:02:00-03:00"),
        p(RatioBreach, Resolved, "infant", "2018-11-04T01:00:00-02:00"),
    ];
    for i in 1..=4 {
        let child = format!("m-{i}");
        want.push(p(
            ChildNotCheckedOut,
            Raised,
            &child,
            "2018-11-04T18:15:00-02:00",
        ));
    }
    assert_eq!(printed(&out, &[RatioBreach, ChildNotCheckedOut]), want);
}

// ---- any zone, any day ----------------------------------------------------------------

/// One event of a random day, without its time.
#[derive(Debug, Clone)]
enum Step {
    /// A person (staff or child), and check in, check out or move to the toddler room.
    Attendance(&'static str, usize),
    Door(bool),
    Badge(&'static str),
    Reading(f64),
}

impl Step {
    fn at(&self, ts: String) -> String {
        match self {
            Step::Attendance(p, 0) => ev::check_in(ts, p),
            Step::Attendance(p, 1) => ev::check_out(ts, p),
            Step::Attendance(p, _) => ev::move_to(ts, p, "toddler"),
            Step::Door(true) => ev::door_open(ts, "entrance"),
            Step::Door(false) => ev::door_closed(ts, "entrance"),
            Step::Badge(card) => ev::badge(ts, "entrance-reader", card),
            Step::Reading(c) => ev::reading(ts, "t-infant", *c, None),
        }
    }
}

/// A small day of events as (seconds after local midnight, event).
fn arb_day() -> impl Strategy<Value = Vec<(i64, Step)>> {
    const PEOPLE: [&str; 6] = ["s-01", "s-02", "s-cook", "m-1", "m-2", "m-3"];
    let one = prop_oneof![
        (prop::sample::select(&PEOPLE[..]), 0..3usize).prop_map(|(p, a)| Step::Attendance(p, a)),
        any::<bool>().prop_map(Step::Door),
        prop::sample::select(&["20001", "55555"][..]).prop_map(Step::Badge),
        (15.0f64..32.0).prop_map(Step::Reading),
    ];
    prop::collection::vec((0i64..86_400, one), 1..30)
}

/// The zone's offset at `t` is a whole number of minutes (an RFC 3339 offset can show it
/// exactly; chrono rounds one like Monrovia's −00:44:30 to the minute).
fn whole_minutes(tz: chrono_tz::Tz, t: DateTime<Utc>) -> bool {
    tz.offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc()
        % 60
        == 0
}

/// The first date from `date` on, within two years, after which the zone's offset at UTC
/// midnight differs: a day at (or beside) a gap or a fold.
fn next_change(tz: chrono_tz::Tz, date: NaiveDate) -> Option<NaiveDate> {
    let offset = |d: NaiveDate| tz.offset_from_utc_date(&d).fix();
    (0..730)
        .map(|i| date + Duration::days(i))
        .find(|d| offset(*d) != offset(*d + Duration::days(1)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_day_anywhere_from_1900_to_2100_replays_in_order_and_resolves_only_what_it_raised(
        zone in 0..chrono_tz::TZ_VARIANTS.len(),
        day in 0i64..(200 * 366),
        on_a_change in any::<bool>(),
        events in arb_day(),
    ) {
        let tz = chrono_tz::TZ_VARIANTS[zone];
        let mut date = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + Duration::days(day);
        if on_a_change {
            date = next_change(tz, date).unwrap_or(date);
        }
        let born = date - Duration::days(200);
        // Born up to 2100, after today: the engine does not mind, the loader would.
        let cfg = unchecked_roster(tz.name(), 3, &born.to_string());
        // Wall times on the local date, as instants (gaps and folds as `localtime` says),
        // in time order and written in UTC so that no offset rounding moves them.
        let mut at: Vec<(DateTime<Utc>, &Step)> = events
            .iter()
            .map(|(secs, step)| {
                let wall = date.and_time(NaiveTime::MIN) + Duration::seconds(*secs);
                (localtime::instant(tz, wall), step)
            })
            .collect();
        at.sort_by_key(|(t, _)| *t);
        let log: Vec<String> = at
            .iter()
            .map(|(t, step)| step.at(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
            .collect();
        let log = ev::log(&log);
        let until = localtime::day_bounds(tz, date).1 + Duration::days(1);
        let (out, outcome) = replayed(&cfg, &log, &until.to_rfc3339());
        prop_assert_eq!(outcome.accepted, events.len() as u64);
        prop_assert_eq!(outcome.transitions, out.len() as u64);

        for w in out.windows(2) {
            let (a, b) = (w[0].ts.with_timezone(&Utc), w[1].ts.with_timezone(&Utc));
            let exact = whole_minutes(tz, a) && whole_minutes(tz, b);
            let slack = if exact { Duration::zero() } else { Duration::seconds(30) };
            prop_assert!(a <= b + slack, "{} printed after {}", w[1].ts, w[0].ts);
        }
        let mut open = HashSet::new();
        for t in &out {
            match t.state {
                Raised => prop_assert!(open.insert(t.alert_id.clone()), "{} raised twice", t.alert_id),
                Resolved => prop_assert!(open.remove(&t.alert_id), "{} resolved unraised", t.alert_id),
                Acknowledged => prop_assert!(false, "nobody acknowledged {}", t.alert_id),
                Disposed => prop_assert!(false, "nobody disposed of {}", t.alert_id),
            }
        }
    }
}
