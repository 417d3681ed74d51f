use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use super::*;
use crate::alert::{AlertState, Transition};
use crate::config::ReaderPurpose;
use crate::event::{AttendanceAction, EventKind, PresenceState};
use crate::rules::Engine;
use nursery_testkit::{Child, Door, Guardian, Reader, Room, Roster, Sensor, Staff};

fn demo() -> Config {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/demo.toml"));
    crate::config::load(path).unwrap_or_else(|e| panic!("{e}"))
}

fn demo_date(cfg: &Config) -> NaiveDate {
    cfg.simulation
        .as_ref()
        .and_then(|s| s.date)
        .expect("the demo fixes its simulated date")
}

/// Runs a day through a fresh engine the way `replay` does, insisting that every event
/// is accepted and in time order, and that nothing is left open at the end.
fn run(cfg: &Config, events: &[Event]) -> Vec<Transition> {
    let mut engine = Engine::new(cfg).expect("the roster builds an engine");
    let mut out = Vec::new();
    let mut previous = None;
    for (i, ev) in events.iter().enumerate() {
        assert!(previous <= ev.utc(), "event {i} goes back in time");
        previous = ev.utc();
        let ts = engine
            .on_event(ev)
            .unwrap_or_else(|e| panic!("event {i} {} rejected: {e}", ev.to_json_line()));
        out.extend(ts);
    }
    let open = engine.open_alerts();
    assert!(open.is_empty(), "left open at the end of the day: {open:?}");
    out
}

fn raised(ts: &[Transition]) -> BTreeMap<AlertType, Vec<String>> {
    let mut m: BTreeMap<AlertType, Vec<String>> = BTreeMap::new();
    for t in ts.iter().filter(|t| t.state == AlertState::Raised) {
        m.entry(t.alert_type).or_default().push(t.subject.clone());
    }
    m
}

/// Who was checked in during the day, by attendance record or attendance-reader badge.
fn checked_in(cfg: &Config, events: &[Event], prefix: &str) -> BTreeSet<String> {
    let attendance: HashSet<&str> = cfg
        .readers
        .iter()
        .filter(|r| r.purpose == ReaderPurpose::Attendance)
        .map(|r| r.id.as_str())
        .collect();
    let cards: HashMap<&str, &str> = cfg
        .staff
        .iter()
        .filter_map(|s| Some((s.card.as_deref()?, s.id.as_str())))
        .collect();
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Attendance {
                person,
                action: AttendanceAction::CheckIn,
                ..
            } => Some(person.clone()),
            EventKind::Badge { reader, card } if attendance.contains(reader.as_str()) => {
                cards.get(card.as_str()).map(|s| s.to_string())
            }
            _ => None,
        })
        .filter(|p| p.starts_with(prefix))
        .collect()
}

const INTENDED: [AlertType; 12] = [
    AlertType::RatioBreach,
    AlertType::DoorHeldOpen,
    AlertType::UnauthorizedPickup,
    AlertType::TemperatureHigh,
    AlertType::SensorStale,
    AlertType::BadgeDenied,
    AlertType::DoorForced,
    AlertType::SleepCheckMissed,
    AlertType::RollCallIncomplete,
    AlertType::HealthCheckFailed,
    AlertType::ChildAbsentUnreported,
    AlertType::StaffNotQualified,
];

/// The one-shot alerts among [`INTENDED`]: raised, never resolved.
const ONE_SHOTS: usize = 3;

#[test]
fn the_same_seed_gives_the_same_day() {
    let cfg = demo();
    let date = demo_date(&cfg);
    assert_eq!(plan_day(&cfg, 7, date), plan_day(&cfg, 7, date));
}

#[test]
fn another_seed_gives_another_day() {
    let cfg = demo();
    let date = demo_date(&cfg);
    assert_ne!(simulate_day(&cfg, 7, date), simulate_day(&cfg, 8, date));
    let at = |seed| -> Vec<_> {
        plan_day(&cfg, seed, date)
            .incidents
            .iter()
            .map(|i| i.at)
            .collect()
    };
    assert_ne!(at(7), at(8), "incident times vary with the seed");
}

#[test]
fn the_demo_day_raises_exactly_its_planted_incidents_and_resolves_them() {
    let cfg = demo();
    let date = demo_date(&cfg);
    for seed in 2019..2029 {
        let day = plan_day(&cfg, seed, date);
        let transitions = run(&cfg, &day.events);
        let raised = raised(&transitions);
        let types: BTreeSet<AlertType> = raised.keys().copied().collect();
        assert_eq!(
            types,
            INTENDED.into_iter().collect(),
            "seed {seed}: {raised:?}"
        );
        for (ty, subjects) in &raised {
            assert_eq!(subjects.len(), 1, "seed {seed}: {ty:?} raised {subjects:?}");
        }
        // Each alert names the subject of the incident planted for it.
        for inc in &day.incidents {
            let ty = inc.kind.alert_type();
            assert_eq!(
                raised[&ty],
                vec![inc.subject.clone()],
                "seed {seed}: {inc:?}"
            );
        }
        assert_eq!(day.incidents.len(), INTENDED.len(), "seed {seed}");
        // Everything that can resolve did (`run` checks nothing is left open).
        let resolved = transitions
            .iter()
            .filter(|t| t.state == AlertState::Resolved)
            .count();
        assert_eq!(resolved, INTENDED.len() - ONE_SHOTS, "seed {seed}");
    }
}

#[test]
fn the_demo_day_brings_most_children_and_all_staff() {
    let cfg = demo();
    let date = demo_date(&cfg);
    for seed in [1, 2019, 4242] {
        let events = simulate_day(&cfg, seed, date);
        let children = checked_in(&cfg, &events, "c-").len();
        let staff = checked_in(&cfg, &events, "s-").len();
        assert!(
            (30..=50).contains(&children),
            "seed {seed}: {children} children"
        );
        assert!((8..=13).contains(&staff), "seed {seed}: {staff} staff");
    }
}

#[test]
fn every_timestamp_carries_the_facility_offset() {
    let cfg = demo();
    let date = demo_date(&cfg);
    let events = simulate_day(&cfg, 2019, date);
    assert!(!events.is_empty());
    for ev in &events {
        let ts = ev.ts.expect("every simulated event has a ts");
        assert_eq!(
            ts.offset().local_minus_utc(),
            8 * 3600,
            "{}",
            ev.to_json_line()
        );
        assert_eq!(ts.date_naive(), date);
    }
}

#[test]
fn the_printed_day_parses_back_and_replays_without_rejections() {
    let cfg = demo();
    let date = demo_date(&cfg);
    let events = simulate_day(&cfg, 2019, date);
    // What `nursery-agent simulate` prints: one `to_json_line` per event.
    let text: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
    for (line, ev) in text.lines().zip(&events) {
        assert_eq!(
            &Event::parse(line).unwrap_or_else(|e| panic!("{line}: {e}")),
            ev
        );
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = crate::replay::replay(&cfg, text.as_bytes(), None, &mut out, &mut err)
        .expect("replay runs");
    assert_eq!(outcome.rejected, 0, "{}", String::from_utf8_lossy(&err));
    assert_eq!(outcome.accepted as usize, events.len());
    let printed = String::from_utf8(out).unwrap();
    // The twelve incidents raise; all but the three one-shots resolve.
    assert_eq!(
        printed.lines().count(),
        2 * INTENDED.len() - ONE_SHOTS,
        "{printed}"
    );
}

#[test]
fn day_after_day_the_sensors_never_fall_silent_overnight() {
    // How the daemon uses the generator: one day's events after another's, one engine.
    let cfg = demo();
    let first = demo_date(&cfg);
    let second = first.succ_opt().unwrap();
    let mut events = simulate_day(&cfg, 2019, first);
    events.extend(simulate_day(&cfg, 2019, second));
    let raised = raised(&run(&cfg, &events));
    for ty in INTENDED {
        assert_eq!(raised[&ty].len(), 2, "{ty:?}: {raised:?}");
    }
    assert_eq!(raised.len(), INTENDED.len(), "{raised:?}");
}

#[test]
fn the_demo_stays_lawful_when_its_children_have_grown() {
    let cfg = demo();
    for date in ["2026-11-23", "2027-09-01"] {
        let date: NaiveDate = date.parse().unwrap();
        let day = plan_day(&cfg, 2019, date);
        let raised = raised(&run(&cfg, &day.events));
        for ty in raised.keys() {
            assert!(INTENDED.contains(ty), "{date}: {raised:?}");
        }
    }
}

/// 小树苗: one 托小班 (`toddler`) with two counted staff of roles `roles` and no cards,
/// seven children (`c-07` with no guardian), five guardians without cards; no doors,
/// readers or sensors.
fn small_with(roles: [&str; 2]) -> Roster {
    let born = [
        ("c-01", "小明", "2024-10-01", Some("g-01")),
        ("c-02", "小红", "2024-09-01", Some("g-01")),
        ("c-03", "小刚", "2024-08-01", Some("g-02")),
        ("c-04", "小丽", "2024-07-01", Some("g-03")),
        ("c-05", "小华", "2024-06-01", Some("g-04")),
        ("c-06", "小军", "2024-05-01", Some("g-05")),
        ("c-07", "没人接", "2024-05-01", None),
    ];
    let mut r = Roster::new()
        .facility("310115-0001", "小树苗")
        .room(Room::new("toddler", "托小班"))
        .staff(Staff::new("s-01", "王老师", roles[0], "toddler"))
        .staff(Staff::new("s-02", "李老师", roles[1], "toddler"));
    for (id, name, date, guardian) in born {
        let child = Child::new(id, name, date, "toddler");
        r = r.child(match guardian {
            Some(g) => child.guardians([g]),
            None => child,
        });
    }
    for (id, name) in [
        ("g-01", "张女士"),
        ("g-02", "刘先生"),
        ("g-03", "陈女士"),
        ("g-04", "赵先生"),
        ("g-05", "孙女士"),
    ] {
        r = r.guardian(Guardian::new(id, name));
    }
    r
}

fn small() -> Roster {
    small_with(["caregiver", "teacher"])
}

fn config_of(roster: Roster) -> Config {
    toml::from_str(&roster.toml()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_roster_without_doors_readers_or_sensors_still_has_a_lawful_day() {
    let cfg = config_of(small());
    let date: NaiveDate = "2026-03-02".parse().unwrap();
    for seed in 0..5 {
        let day = plan_day(&cfg, seed, date);
        assert!(day.events.iter().all(|e| matches!(
            e.kind,
            EventKind::Attendance { .. }
                | EventKind::Nap { .. }
                | EventKind::SleepCheck { .. }
                | EventKind::HealthCheck { .. }
                | EventKind::Absence { .. }
                | EventKind::Presence { .. }
        )));
        let raised = raised(&run(&cfg, &day.events));
        let allowed = [
            AlertType::RatioBreach,
            AlertType::UnauthorizedPickup,
            AlertType::SleepCheckMissed,
            AlertType::HealthCheckFailed,
        ];
        for ty in raised.keys() {
            assert!(allowed.contains(ty), "seed {seed}: {raised:?}");
        }
        // The child nobody may pick up stays at home rather than be left at close.
        assert!(!checked_in(&cfg, &day.events, "c-07").contains("c-07"));
        assert!(!checked_in(&cfg, &day.events, "c-").is_empty());
    }
}

#[test]
fn a_small_roster_with_a_door_and_a_sensor_gets_the_incidents_it_can_have() {
    let cfg = config_of(
        small()
            .door(Door::new("front"))
            .reader(Reader::access("front-reader", "front"))
            .reader(Reader::assembly("yard"))
            .sensor(Sensor::new("t-toddler", "toddler")),
    );
    let date: NaiveDate = "2026-03-02".parse().unwrap();
    let mut breaches = 0;
    for seed in 0..10 {
        let day = plan_day(&cfg, seed, date);
        let raised = raised(&run(&cfg, &day.events));
        let types: BTreeSet<AlertType> = raised.keys().copied().collect();
        let planted: BTreeSet<AlertType> =
            day.incidents.iter().map(|i| i.kind.alert_type()).collect();
        assert_eq!(types, planted, "seed {seed}: {raised:?}");
        // Only the step-out needs luck: a family staying home leaves the room slack. The
        // small roster sets no `arrival_deadline`: nobody is flagged as unreported; and the
        // roster has nobody without a certificate, so no `staff_not_qualified`.
        assert!(!planted.contains(&AlertType::ChildAbsentUnreported));
        assert!(!planted.contains(&AlertType::StaffNotQualified));
        assert!(
            planted.len() >= INTENDED.len() - 3,
            "seed {seed}: {planted:?}"
        );
        breaches += usize::from(planted.contains(&AlertType::RatioBreach));
    }
    assert!(breaches >= 5, "a step-out in only {breaches} of 10 days");
}

#[test]
fn a_room_with_no_counted_staff_takes_no_children() {
    let cfg = config_of(small_with(["cook", "health"]));
    let date: NaiveDate = "2026-03-02".parse().unwrap();
    let day = plan_day(&cfg, 3, date);
    assert!(checked_in(&cfg, &day.events, "c-").is_empty());
    let raised = raised(&run(&cfg, &day.events));
    assert!(raised.is_empty(), "{raised:?}");
}

#[test]
fn an_empty_roster_gives_an_empty_day() {
    let cfg = config_of(Roster::new().facility("310115-0001", "小树苗"));
    let day = plan_day(&cfg, 1, "2026-03-02".parse().unwrap());
    assert!(day.events.is_empty());
    assert!(day.incidents.is_empty());
}

/// FNV-1a over the printed day and its incidents: a digest that is the same on every
/// platform and toolchain (std's hashers promise neither).
fn digest(day: &SimulatedDay) -> (usize, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for e in &day.events {
        eat(e.to_json_line().as_bytes());
        eat(b"\n");
    }
    for i in &day.incidents {
        eat(format!("{i:?}\n").as_bytes());
    }
    (day.events.len(), h)
}

/// The day without the parts planned after everything else: naps (nap and sleep-check
/// events, badges at sleep-check readers, and the late check planted among them), people
/// (`presence` events, and the attendance of staff lacking a required certificate with the
/// incident planted for them), the drill (emergencies and roll calls, badges at assembly
/// readers, and the slow roll call planted among them), and the morning's panic test
/// (`input` events).
fn without_naps(cfg: &Config, day: &SimulatedDay) -> SimulatedDay {
    let date = day
        .events
        .first()
        .map(|e| e.ts.unwrap().date_naive())
        .unwrap_or_default();
    let unqualified = |id: &str| {
        cfg.staff
            .iter()
            .any(|s| s.id == id && s.counts_in_ratio() && !super::people::qualified(cfg, s, date))
    };
    use crate::config::ReaderPurpose;
    let sleep_reader = |id: &str| {
        cfg.readers.iter().any(|r| {
            r.id == id
                && matches!(
                    r.purpose,
                    ReaderPurpose::SleepCheck | ReaderPurpose::Assembly
                )
        })
    };
    SimulatedDay {
        events: day
            .events
            .iter()
            .filter(|e| match &e.kind {
                EventKind::Nap { .. }
                | EventKind::SleepCheck { .. }
                | EventKind::Emergency { .. }
                | EventKind::RollCall { .. }
                | EventKind::Input { .. } => false,
                EventKind::Presence { .. } => false,
                EventKind::Attendance { person, .. } => !unqualified(person),
                EventKind::Badge { reader, .. } => !sleep_reader(reader),
                _ => true,
            })
            .cloned()
            .collect(),
        incidents: day
            .incidents
            .iter()
            .filter(|i| {
                !matches!(
                    i.kind,
                    IncidentKind::LateSleepCheck
                        | IncidentKind::SlowRollCall
                        | IncidentKind::UnqualifiedStaff
                )
            })
            .cloned()
            .collect(),
    }
}

#[test]
fn the_simulated_days_are_the_ones_the_single_file_planner_made() {
    // Recorded on the planner as it was in one file (main at 5428fbe), before it moved
    // into its folder: the split must not change a single event. Updated once since, when
    // the unknown card moved to the morning (issue 10.7): on the demo day exactly that one
    // badge moved (15:24:41 → 07:39:41), every other event stayed.
    let cfg = demo();
    let small = config_of(small());
    let cases: [(&Config, u64, &str); 4] = [
        (&cfg, 2019, "2026-03-02"),
        (&cfg, 7, "2026-03-03"),
        (&cfg, 2019, "2026-09-15"),
        (&small, 4, "2026-03-02"),
    ];
    // And once more when naps were added (issue 15.6): planned last, they moved nothing
    // else, so the day without them is still the recorded one. The same for the drill
    // (issue 15.3), planned last, and when presence and certificates came (issue 12): the
    // break on duty and the unqualified caregiver are planned after the naps, and the demo's
    // new `s-13` is in no other plan. Likewise the health checks and absences (issue 12):
    // the day planned without them is the recorded one, see
    // `health_checks_and_absences_move_nothing_but_the_two_children_who_stay_home`.
    let got: Vec<(usize, u64)> = cases
        .iter()
        .map(|&(cfg, seed, date)| {
            digest(&without_naps(
                cfg,
                &super::plan(cfg, seed, date.parse().unwrap(), false),
            ))
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (6406, 4537834912506240959),
            (6382, 6457058104397305761),
            (6406, 9941881516825843204),
            (18, 17781706918914051387),
        ]
    );
}

#[test]
fn health_checks_and_absences_move_nothing_but_the_two_children_who_stay_home() {
    let cfg = demo();
    for (seed, date) in [
        (2019, "2026-03-02"),
        (7, "2026-03-03"),
        (2019, "2026-09-15"),
    ] {
        let date: NaiveDate = date.parse().unwrap();
        let with = plan_day(&cfg, seed, date);
        let without = super::plan(&cfg, seed, date, false);
        let home: BTreeSet<String> = checked_in(&cfg, &without.events, "c-")
            .difference(&checked_in(&cfg, &with.events, "c-"))
            .cloned()
            .collect();
        assert_eq!(home.len(), 2, "seed {seed} {date}: {home:?}");
        // The break on duty (issue 12 item 1) goes where a room has slack, which the two
        // children at home change: it is compared apart from the rest.
        // So does the drill, planned last: its roll call is of whoever is on site.
        let assembly: BTreeSet<&str> = cfg
            .readers
            .iter()
            .filter(|r| r.purpose == crate::config::ReaderPurpose::Assembly)
            .map(|r| r.id.as_str())
            .collect();
        let drill = |e: &Event| match &e.kind {
            EventKind::Emergency { .. } | EventKind::RollCall { .. } | EventKind::Input { .. } => {
                true
            }
            EventKind::Badge { reader, .. } => assembly.contains(reader.as_str()),
            _ => false,
        };
        let stays = |e: &Event| match &e.kind {
            _ if drill(e) => false,
            EventKind::Attendance { person, .. } => !home.contains(person),
            EventKind::Presence { .. } => false,
            _ => true,
        };
        let added = |e: &Event| {
            drill(e)
                || matches!(
                    e.kind,
                    EventKind::HealthCheck { .. }
                        | EventKind::Absence { .. }
                        | EventKind::Presence { .. }
                )
        };
        let before: Vec<&Event> = without.events.iter().filter(|e| stays(e)).collect();
        let after: Vec<&Event> = with.events.iter().filter(|e| !added(e)).collect();
        if let Some(i) = (0..before.len().max(after.len())).find(|&i| before.get(i) != after.get(i))
        {
            panic!(
                "seed {seed} {date}: event {i} differs: {:?} without, {:?} with ({} and {} events)",
                before.get(i),
                after.get(i),
                before.len(),
                after.len()
            );
        }
        // One check per child who came, plus the fever's second check.
        let came = checked_in(&cfg, &with.events, "c-").len();
        let checks = with
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::HealthCheck { .. }))
            .count();
        assert_eq!(checks, came + 1, "seed {seed} {date}");
        // Every child expected and not coming is reported, one of them only after the
        // deadline.
        let absent: Vec<(String, String)> = with
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Absence { person, .. } => {
                    Some((person.clone(), e.ts.unwrap().format("%H:%M").to_string()))
                }
                _ => None,
            })
            .collect();
        for c in &home {
            assert!(absent.iter().any(|(p, _)| p == c), "{c}: {absent:?}");
        }
        assert_eq!(
            absent
                .iter()
                .filter(|(_, at)| at.as_str() > "09:30")
                .count(),
            1,
            "{absent:?}"
        );
    }
}

#[test]
fn the_first_incident_comes_within_minutes_of_opening_so_the_demo_shows_an_alert_at_once() {
    let cfg = demo();
    let open = cfg.facility.open.0;
    for (seed, date) in [(2019, "2026-03-02"), (7, "2026-03-03"), (11, "2026-09-15")] {
        let day = plan_day(&cfg, seed, date.parse().unwrap());
        let first = day.incidents.first().expect("the demo day has incidents");
        assert_eq!(first.kind, IncidentKind::UnknownCard, "seed {seed}");
        let after_open = first.at.time() - open;
        assert!(
            after_open >= chrono::Duration::minutes(2)
                && after_open < chrono::Duration::minutes(13),
            "seed {seed}: {first:?}"
        );
    }
}

#[test]
fn the_demo_day_has_one_break_on_duty_in_a_room_with_slack_and_an_unqualified_caregiver() {
    let cfg = demo();
    for (seed, date) in [(2019, "2026-03-02"), (7, "2026-03-03"), (11, "2026-09-15")] {
        let day = plan_day(&cfg, seed, date.parse().unwrap());
        let presence: Vec<(String, PresenceState, String)> = day
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Presence { person, state } => Some((
                    person.clone(),
                    *state,
                    e.ts.unwrap().format("%H:%M").to_string(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(presence.len(), 2, "seed {seed}: {presence:?}");
        assert_eq!(presence[0].0, presence[1].0, "seed {seed}");
        assert_eq!(
            (presence[0].1, presence[1].1),
            (PresenceState::Break, PresenceState::OnDuty)
        );
        assert!(
            presence[0].2.as_str() >= "09:30" && presence[1].2.as_str() <= "11:01",
            "seed {seed}: {presence:?}"
        );
        // The break leaves the room in ratio (the planted incidents are all that raise),
        // and the caregiver without a valid health certificate is not qualified at check-in.
        let raised = raised(&run(&cfg, &day.events));
        assert_eq!(
            raised[&AlertType::StaffNotQualified],
            ["s-13"],
            "seed {seed}"
        );
        assert_eq!(raised[&AlertType::RatioBreach].len(), 1, "seed {seed}");
        let s13 = day
            .incidents
            .iter()
            .find(|i| i.kind == IncidentKind::UnqualifiedStaff);
        assert_eq!(s13.map(|i| i.subject.as_str()), Some("s-13"), "seed {seed}");
    }
}

#[test]
fn the_demo_morning_tests_the_panic_button_once_after_opening_and_it_raises_nothing() {
    let cfg = demo();
    let day = plan_day(&cfg, 2019, demo_date(&cfg));
    let presses: Vec<&Event> = day
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Input { .. }))
        .collect();
    assert_eq!(presses.len(), 2, "one press and its release: {presses:?}");
    for e in &presses {
        let EventKind::Input { input, test, .. } = &e.kind else {
            unreachable!()
        };
        assert_eq!(input, "panic-office");
        assert!(test, "a test press: {e:?}");
    }
    let open = cfg.facility.open.to_string();
    let at = presses[0].ts.unwrap().time().format("%H:%M").to_string();
    assert!(at > open, "after opening ({open}): {at}");
    let raised = raised(&run(&cfg, &day.events));
    for ty in [
        AlertType::PanicButton,
        AlertType::PanicUntested,
        AlertType::FireAlarm,
    ] {
        assert!(!raised.contains_key(&ty), "{ty:?} raised: {raised:?}");
    }
}
