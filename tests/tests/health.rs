//! Health checks (晨午检), absences and expected arrivals through the real binary (contract
//! 1.1 sections 9 and 10): `replay` of a morning with a fever, bad values and a child who
//! never comes, and the daemon raising `health_check_missing` and `health_check_failed` on
//! the wall clock, with the journal able to reproduce them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nursery_agent_tests::agent::{demo_config, run, status, workspace, Agent};
use nursery_agent_tests::day::{append, line, replay};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn attend(ts: &str, person: &str) -> String {
    line(
        ts,
        &format!(r#""type":"attendance","person":"{person}","action":"check_in""#),
    )
}

fn check(ts: &str, person: &str, celsius: &str, result: &str) -> String {
    line(
        ts,
        &format!(
            r#""type":"health_check","person":"{person}","celsius":{celsius},"result":"{result}""#
        ),
    )
}

/// The example configuration with health checks due within `within` and an arrival
/// deadline of 09:30.
fn health_config(dir: &Path) -> PathBuf {
    health_config_edited(dir, "health.toml", |_| {})
}

/// [`health_config`] with `edit` applied too, written as `dir/name`.
fn health_config_edited(
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut toml_edit::DocumentMut),
) -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("config/example.toml")).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc["rules"]["health_check_within"] = toml_edit::value("30m");
    doc["rules"]["arrival_deadline"] = toml_edit::value("09:30");
    edit(&mut doc);
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn days(names: &[&str]) -> toml_edit::Item {
    toml_edit::value(names.iter().copied().collect::<toml_edit::Array>())
}

fn of_type<'a>(ts: &'a [Value], ty: &str) -> Vec<(&'a str, &'a str, &'a str)> {
    ts.iter()
        .filter(|t| t["type"] == ty)
        .map(|t| {
            (
                t["state"].as_str().unwrap(),
                t["subject"].as_str().unwrap(),
                t["ts"].as_str().unwrap(),
            )
        })
        .collect()
}

#[test]
fn replay_of_a_morning_flags_a_fever_a_late_check_and_an_unreported_child_and_rejects_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let config = health_config(dir.path());
    let log = dir.path().join("morning.jsonl");
    let text = [
        attend("07:40:00", "s-01"),
        line(
            "07:45:00",
            r#""type":"absence","person":"c-05","date":"2026-03-02","reason":"sick""#,
        ),
        attend("07:50:00", "c-01"),
        attend("07:51:00", "c-02"),
        check("07:52:00", "c-01", "36.6", "pass"),
        check("07:53:00", "c-02", "37.9", "pass"),
        check("07:54:00", "c-01", "80", "pass"),
        check("07:55:00", "c-01", "20", "pass"),
        check("07:56:00", "c-99", "36.6", "pass"),
        check("07:57:00", "s-01", "36.6", "pass"),
        line(
            "07:58:00",
            r#""type":"absence","person":"c-03","date":"2029-03-02","reason":"sick""#,
        ),
        attend("08:10:00", "c-03"),
        check("09:00:00", "c-02", "36.7", "pass"),
        attend("10:00:00", "c-04"),
        check("10:05:00", "c-03", "36.5", "pass"),
    ]
    .concat();
    std::fs::write(&log, text).unwrap();
    let (code, out, err) = replay(&config, &log);
    assert_eq!(code, 1, "five lines are rejected: {err}");
    for (n, says) in [
        (7, "`celsius` 80"),
        (8, "`celsius` 20"),
        (9, "unknown child `c-99`"),
        (10, "`s-01` is a member of staff"),
        (11, "more than 60 days after"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("line {n}")) && l.contains(says)),
            "line {n} should say {says}: {err}"
        );
    }
    let ts: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        of_type(&ts, "health_check_failed"),
        [
            ("raised", "c-02", "2026-03-02T07:53:00+08:00"),
            ("resolved", "c-02", "2026-03-02T09:00:00+08:00")
        ],
        "{out}"
    );
    let failed = ts
        .iter()
        .find(|t| t["type"] == "health_check_failed")
        .unwrap();
    assert_eq!(failed["severity"], "critical");
    assert_eq!(failed["details"]["celsius"], 37.9);
    assert_eq!(
        of_type(&ts, "health_check_missing"),
        [
            ("raised", "c-03", "2026-03-02T08:40:00+08:00"),
            ("resolved", "c-03", "2026-03-02T10:05:00+08:00")
        ],
        "{out}"
    );
    // c-05 is reported sick; c-04 comes late; c-06 never comes.
    assert_eq!(
        of_type(&ts, "child_absent_unreported"),
        [
            ("raised", "c-04", "2026-03-02T09:30:00+08:00"),
            ("raised", "c-06", "2026-03-02T09:30:00+08:00"),
            ("resolved", "c-04", "2026-03-02T10:00:00+08:00")
        ],
        "{out}"
    );
}

#[test]
fn a_child_expected_on_tuesdays_only_is_not_flagged_on_a_monday_and_a_closed_monday_flags_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let tuesdays = health_config_edited(dir.path(), "tuesdays.toml", |doc| {
        let children = doc["children"].as_array_of_tables_mut().unwrap();
        let c06 = children
            .iter_mut()
            .find(|c| c["id"].as_str() == Some("c-06"))
            .unwrap();
        c06["days"] = days(&["tue"]);
    });
    let closed_monday = health_config_edited(dir.path(), "closed.toml", |doc| {
        doc["facility"]["days"] = days(&["tue", "wed", "thu", "fri"]);
    });
    // Monday 2026-03-02: only c-01 comes; the log runs on past the 09:30 deadline.
    let log = dir.path().join("monday.jsonl");
    let text = [
        attend("07:40:00", "s-01"),
        attend("07:50:00", "c-01"),
        check("07:52:00", "c-01", "36.6", "pass"),
        check("10:00:00", "c-01", "36.5", "pass"),
    ]
    .concat();
    std::fs::write(&log, text).unwrap();
    let flagged = |config: &Path| -> Vec<String> {
        let (code, out, err) = replay(config, &log);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|t| t["type"] == "child_absent_unreported")
            .map(|t| {
                assert_eq!(t["ts"], "2026-03-02T09:30:00+08:00", "{t}");
                t["subject"].as_str().unwrap().to_string()
            })
            .collect()
    };
    assert_eq!(
        flagged(&tuesdays),
        ["c-02", "c-03", "c-04", "c-05"],
        "c-06 is not expected on a Monday"
    );
    assert_eq!(
        flagged(&closed_monday),
        Vec::<String>::new(),
        "the nursery does not open on Mondays"
    );
}

#[test]
fn without_the_new_rules_a_version_1_configuration_raises_no_missing_check_or_absent_child() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("day.jsonl");
    let text = [
        attend("07:40:00", "s-01"),
        attend("07:50:00", "c-01"),
        line(
            "12:00:00",
            r#""type":"attendance","person":"c-01","action":"check_out","by":"g-01""#,
        ),
    ]
    .concat();
    std::fs::write(&log, text).unwrap();
    let (code, out, err) = replay(&workspace().join("config/example.toml"), &log);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("health_check"), "{out}");
    assert!(!out.contains("child_absent_unreported"), "{out}");
}

#[test]
fn the_daemon_raises_a_missing_check_on_time_then_a_fever_and_replay_of_its_journal_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), 1.0);
    let text = std::fs::read_to_string(&config).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc["simulation"]["enabled"] = toml_edit::value(false);
    doc["rules"]["health_check_within"] = toml_edit::value("2s");
    std::fs::write(&config, doc.to_string()).unwrap();

    let events = dir.path().join("events.jsonl");
    append(
        &events,
        concat!(
            "{\"type\":\"attendance\",\"person\":\"s-01\",\"action\":\"check_in\"}\n",
            "{\"type\":\"attendance\",\"person\":\"c-01\",\"action\":\"check_in\"}\n",
        ),
    );
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    agent.wait_for_line("raised [warning] health check missing", LIMIT);
    let open = status(&config)["open_alerts"].clone();
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .any(|a| a["type"] == "health_check_missing" && a["subject"] == "c-01"),
        "{open}"
    );
    append(
        &events,
        concat!(
            "{\"type\":\"health_check\",\"person\":\"c-01\",\"celsius\":80,\"result\":\"pass\"}\n",
            "{\"type\":\"health_check\",\"person\":\"c-01\",\"celsius\":38.4,\"result\":\"pass\"}\n",
        ),
    );
    agent.wait_for_line("raised [CRITICAL] health check failed", LIMIT);
    append(
        &events,
        "{\"type\":\"health_check\",\"person\":\"c-01\",\"celsius\":36.8,\"result\":\"pass\"}\n",
    );
    agent.wait_for_line("resolved [CRITICAL] health check failed", LIMIT);
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");

    let (st, exported, err) = run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    assert_eq!(
        exported.matches(r#""type":"health_check""#).count(),
        2,
        "the 80 °C line was refused, not journalled: {exported}"
    );
    let log = dir.path().join("exported.jsonl");
    std::fs::write(&log, &exported).unwrap();
    let (code, out, err) = replay(&config, &log);
    assert_eq!(code, 0, "{err}");
    let ts: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let states = |ty: &str| -> Vec<String> {
        of_type(&ts, ty)
            .into_iter()
            .map(|(s, ..)| s.to_string())
            .collect()
    };
    assert_eq!(
        states("health_check_missing"),
        ["raised", "resolved"],
        "{out}"
    );
    assert_eq!(
        states("health_check_failed"),
        ["raised", "resolved"],
        "{out}"
    );
}
