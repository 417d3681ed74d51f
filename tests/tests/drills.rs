//! The checks at `open` (contract 1.1 sections 8 and 10) through the real binary:
//! `drill_overdue` and `panic_untested`, raised at the facility's opening time when no drill
//! ended (or no test press came) within `drill_every` (`panic_test_every`), resolved by a
//! drill's end and by a test press. `replay` of a log over four days, and the daemon on a
//! wall clock that libfaketime sets just before `open`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use nursery_agent_tests::agent::{libfaketime, quiet_demo_config, Agent};
use nursery_agent_tests::day::{append, replay};
use nursery_testkit::ev;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);
/// The demo facility's id: the subject of `drill_overdue`.
const FACILITY: &str = "310115-0042";

fn of_type(out: &str, ty: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|t| t["type"] == ty)
        .collect()
}

/// (state, ts) of each transition.
fn moments(ts: &[Value]) -> Vec<(String, String)> {
    ts.iter()
        .map(|t| {
            (
                t["state"].as_str().unwrap().to_string(),
                t["ts"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn input(ts: impl Into<ev::Ts>, state: &str, test: bool) -> String {
    let mut fields = vec![("input", json!("panic-office")), ("state", json!(state))];
    if test {
        fields.push(("test", json!(true)));
    }
    ev::line(ts, "input", &fields)
}

fn drill(ts: impl Into<ev::Ts>, action: &str) -> String {
    ev::line(
        ts,
        "emergency",
        &[("kind", json!("drill")), ("action", json!(action))],
    )
}

#[test]
fn replay_over_four_days_raises_drill_overdue_and_panic_untested_at_open_and_a_drill_and_a_test_press_resolve_them(
) {
    let dir = tempfile::tempdir().unwrap();
    // The demo opens at 07:30 (Asia/Shanghai); its office panic button is `panic-office`.
    let config = quiet_demo_config(
        dir.path(),
        &[("drill_every", "1d"), ("panic_test_every", "1d")],
    );
    let day = |d: u32| ev::Day::new(&format!("2026-03-0{d}"), "+08:00");
    let lines = [
        // The first moment: both intervals are counted from 07:00 on the 2nd, so the
        // opening at 07:30 that day is too early, and the one on the 3rd is due.
        ev::check_in(day(2).at("07:00"), "s-01"),
        ev::check_out(day(2).at("17:00"), "s-01"),
        ev::check_in(day(3).at("08:00"), "s-01"),
        drill(day(3).at("10:00"), "start"),
        drill(day(3).at("10:05"), "end"),
        input(day(3).at("10:30"), "active", true),
        input(day(3).at("10:30:01"), "clear", true),
        ev::check_out(day(3).at("17:00"), "s-01"),
        // The 4th opens within a day of the drill and of the test: nothing due.
        ev::check_in(day(4).at("08:00"), "s-01"),
        ev::check_out(day(4).at("17:00"), "s-01"),
        // The 5th opens more than a day after both: due again, counted from them.
        ev::check_in(day(5).at("08:00"), "s-01"),
    ];
    let log = dir.path().join("days.jsonl");
    std::fs::write(&log, ev::log(&lines)).unwrap();
    let (code, out, err) = replay(&config, &log);
    assert_eq!(code, 0, "{err}");

    let drills = of_type(&out, "drill_overdue");
    assert_eq!(
        moments(&drills),
        [
            ("raised".into(), "2026-03-03T07:30:00+08:00".into()),
            ("resolved".into(), "2026-03-03T10:05:00+08:00".into()),
            ("raised".into(), "2026-03-05T07:30:00+08:00".into()),
        ],
        "{out}"
    );
    assert!(drills.iter().all(|t| t["severity"] == "warning"), "{out}");
    assert!(drills.iter().all(|t| t["subject"] == FACILITY), "{out}");
    assert_eq!(drills[0]["alert_id"], drills[1]["alert_id"]);
    assert_eq!(
        drills[0]["details"],
        json!({"last_drill": null, "every_s": 86400})
    );
    assert_eq!(
        drills[2]["details"],
        json!({"last_drill": "2026-03-03T10:05:00+08:00", "every_s": 86400})
    );

    let tests = of_type(&out, "panic_untested");
    assert_eq!(
        moments(&tests),
        [
            ("raised".into(), "2026-03-03T07:30:00+08:00".into()),
            ("resolved".into(), "2026-03-03T10:30:00+08:00".into()),
            ("raised".into(), "2026-03-05T07:30:00+08:00".into()),
        ],
        "{out}"
    );
    assert!(tests.iter().all(|t| t["severity"] == "warning"), "{out}");
    assert!(
        tests.iter().all(|t| t["subject"] == "panic-office"),
        "{out}"
    );
    assert_eq!(
        tests[0]["details"],
        json!({"last_test": null, "every_s": 86400})
    );
    assert_eq!(
        tests[2]["details"],
        json!({"last_test": "2026-03-03T10:30:00+08:00", "every_s": 86400})
    );
    assert!(
        of_type(&out, "panic_button").is_empty(),
        "a test press raises nothing: {out}"
    );
}

/// How far to set the wall clock so that it reads `hh_mm_ss` today in Shanghai (the demo's
/// time zone), as libfaketime's `FAKETIME` takes it: signed seconds.
fn offset_to_shanghai(hh_mm_ss: (u32, u32, u32)) -> String {
    let tz = chrono_tz::Asia::Shanghai;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let (h, m, s) = hh_mm_ss;
    let target = tz
        .from_local_datetime(&today.and_hms_opt(h, m, s).unwrap())
        .unwrap();
    let secs = (target.with_timezone(&Utc) - Utc::now()).num_seconds();
    format!("{secs:+}")
}

#[test]
fn the_daemon_started_just_before_open_raises_both_at_open_and_a_drill_and_a_test_press_resolve_them(
) {
    let dir = tempfile::tempdir().unwrap();
    // Intervals of one second: the first moment (the start, a few seconds before 07:30)
    // is more than one second before the opening, so both fall due at 07:30:00.
    let config = quiet_demo_config(
        dir.path(),
        &[("drill_every", "1s"), ("panic_test_every", "1s")],
    );
    let events = dir.path().join("events.jsonl");
    append(&events, "");
    let lib = libfaketime();
    let offset = PathBuf::from(offset_to_shanghai((7, 29, 52)));
    let one = PathBuf::from("1");
    let env = [
        ("LD_PRELOAD", lib.as_path()),
        ("FAKETIME", offset.as_path()),
        ("DONT_FAKE_MONOTONIC", one.as_path()),
    ];
    let mut agent = Agent::start_with_env(&config, &["--events", events.to_str().unwrap()], &env);
    agent.wait_for_line("events from", LIMIT);
    assert!(
        !agent.seen.iter().any(|l| l.contains("drill overdue")),
        "nothing is due before open: {:?}",
        agent.seen
    );
    let drill_raised = agent.wait_for_line("raised [warning] drill overdue", LIMIT);
    assert!(drill_raised.contains("07:30:00"), "{drill_raised}");
    assert!(drill_raised.contains(FACILITY), "{drill_raised}");
    let test_raised = agent.wait_for_line("raised [warning] panic button untested", LIMIT);
    assert!(test_raised.contains("07:30:00"), "{test_raised}");

    append(
        &events,
        &ev::log(&[drill(ev::NOW, "start"), drill(ev::NOW, "end")]),
    );
    agent.wait_for_line("resolved [warning] drill overdue", LIMIT);
    append(&events, &ev::log(&[input(ev::NOW, "active", true)]));
    agent.wait_for_line("resolved [warning] panic button untested", LIMIT);
    assert!(
        !agent
            .seen
            .iter()
            .any(|l| l.contains("panic button pressed")),
        "a test press raises nothing: {:?}",
        agent.seen
    );
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
}
