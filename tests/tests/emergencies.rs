//! Emergencies and their roll call through the real binary (contract 1.1 sections 9 and
//! 10): `replay` of an evacuation with a slow roll call and of bad lines, and the daemon
//! raising `roll_call_incomplete` on the wall clock, resolving it on a badge at the assembly
//! reader, with the journal able to reproduce it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nursery_agent_tests::agent::{quiet_demo_config, run, status, workspace, Agent};
use nursery_agent_tests::day::{append, line, replay};

const LIMIT: Duration = Duration::from_secs(60);

fn of_type(out: &str, ty: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|t| t["type"] == ty)
        .collect()
}

#[test]
fn replay_of_an_evacuation_with_a_slow_roll_call_raises_roll_call_incomplete_at_ten_minutes_and_rejects_bad_lines(
) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("evacuation.jsonl");
    let text = [
        line(
            "07:40:00",
            r#""type":"attendance","person":"s-01","action":"check_in""#,
        ),
        line(
            "07:50:00",
            r#""type":"attendance","person":"c-01","action":"check_in""#,
        ),
        line(
            "09:00:00",
            r#""type":"emergency","kind":"drill","action":"end""#,
        ),
        line(
            "10:00:00",
            r#""type":"emergency","kind":"evacuation","action":"start""#,
        ),
        line("10:02:00", r#""type":"roll_call","person":"c-99""#),
        line(
            "10:03:00",
            r#""type":"emergency","kind":"flood","action":"start""#,
        ),
        line("10:04:00", r#""type":"roll_call","person":"s-01""#),
        // Late: due at 10:10.
        line("10:14:00", r#""type":"roll_call","person":"c-01""#),
        line(
            "10:20:00",
            r#""type":"emergency","kind":"evacuation","action":"end""#,
        ),
    ]
    .concat();
    std::fs::write(&log, text).unwrap();
    let (code, out, err) = replay(&workspace().join("config/example.toml"), &log);
    assert_eq!(code, 1, "three lines are rejected: {err}");
    assert!(
        err.contains("line 3") && err.contains("end without a start"),
        "{err}"
    );
    assert!(
        err.contains("line 5") && err.contains("unknown person `c-99`"),
        "{err}"
    );
    assert!(err.contains("line 6") && err.contains("flood"), "{err}");
    let calls = of_type(&out, "roll_call_incomplete");
    assert_eq!(calls.len(), 2, "{out}");
    assert_eq!(calls[0]["state"], "raised");
    assert_eq!(calls[0]["severity"], "critical");
    assert_eq!(calls[0]["ts"], "2026-03-02T10:10:00+08:00");
    assert_eq!(calls[0]["details"], serde_json::json!({"missing": 1}));
    assert_eq!(calls[1]["state"], "resolved");
    assert_eq!(calls[1]["ts"], "2026-03-02T10:14:00+08:00");
    assert_eq!(calls[0]["subject"], calls[1]["subject"]);
    assert!(
        !calls[0]["subject"].as_str().unwrap().is_empty(),
        "the facility id"
    );
}

/// The demo configuration (which has the assembly reader `assembly-yard`) with the
/// simulation off, so that only `--events` feeds the agent, and a roll call due after
/// `within`.
fn emergency_config(dir: &Path, within: &str) -> PathBuf {
    let config = quiet_demo_config(dir, &[("roll_call_within", within)]);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("purpose = \"assembly\""),
        "the demo lost its assembly reader"
    );
    config
}

#[test]
fn the_daemon_raises_an_incomplete_roll_call_on_time_and_a_badge_at_the_assembly_reader_resolves_it(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = emergency_config(dir.path(), "3s");
    let events = dir.path().join("events.jsonl");
    append(
        &events,
        concat!(
            "{\"type\":\"attendance\",\"person\":\"s-01\",\"action\":\"check_in\"}\n",
            "{\"type\":\"attendance\",\"person\":\"c-01\",\"action\":\"check_in\"}\n",
            "{\"type\":\"emergency\",\"kind\":\"drill\",\"action\":\"start\"}\n",
            "{\"type\":\"roll_call\",\"person\":\"c-01\"}\n",
        ),
    );
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    agent.wait_for_line("roll call incomplete", LIMIT);
    let open = status(&config)["open_alerts"].clone();
    let call = open
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "roll_call_incomplete")
        .cloned();
    assert!(call.is_some(), "{open}");
    // s-01's card (10001) at the assembly reader accounts for the last one missing.
    append(
        &events,
        "{\"type\":\"badge\",\"reader\":\"assembly-yard\",\"card\":\"10001\"}\n",
    );
    agent.wait_for_line("resolved", LIMIT);
    append(
        &events,
        "{\"type\":\"emergency\",\"kind\":\"drill\",\"action\":\"end\"}\n",
    );
    std::thread::sleep(Duration::from_secs(2));
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");

    // The journal holds the emergency and the roll call, and replay of its export says the
    // same.
    let (st, exported, err) = run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    assert!(exported.contains(r#""type":"emergency""#), "{exported}");
    assert!(exported.contains(r#""type":"roll_call""#), "{exported}");
    let log = dir.path().join("exported.jsonl");
    std::fs::write(&log, &exported).unwrap();
    let (code, out, err) = replay(&config, &log);
    assert_eq!(code, 0, "{err}");
    let states: Vec<String> = of_type(&out, "roll_call_incomplete")
        .iter()
        .map(|t| t["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["raised", "resolved"], "{out}");
}

#[test]
fn replay_of_a_fire_input_raises_fire_alarm_starts_a_fire_emergency_and_its_roll_call_falls_due_ten_minutes_on(
) {
    let dir = tempfile::tempdir().unwrap();
    // The demo's fire panel relay, `fire-panel` (virtual: its changes are `input` events).
    let config = quiet_demo_config(dir.path(), &[]);
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("id = \"fire-panel\""),
        "the demo lost its fire panel"
    );
    let log = dir.path().join("fire.jsonl");
    let text = [
        line(
            "07:40:00",
            r#""type":"attendance","person":"s-01","action":"check_in""#,
        ),
        line(
            "07:50:00",
            r#""type":"attendance","person":"c-01","action":"check_in""#,
        ),
        line(
            "10:00:00",
            r#""type":"input","input":"fire-panel","state":"active""#,
        ),
        line("10:02:00", r#""type":"roll_call","person":"s-01""#),
        // The fire input started an emergency: no other may start during it.
        line(
            "10:03:00",
            r#""type":"emergency","kind":"drill","action":"start""#,
        ),
        // The panel clears; the emergency and its roll call go on.
        line(
            "10:05:00",
            r#""type":"input","input":"fire-panel","state":"clear""#,
        ),
        // Late: due at 10:10.
        line("10:14:00", r#""type":"roll_call","person":"c-01""#),
        line(
            "10:20:00",
            r#""type":"emergency","kind":"fire","action":"end""#,
        ),
    ]
    .concat();
    std::fs::write(&log, text).unwrap();
    let (code, out, err) = replay(&config, &log);
    assert_eq!(code, 1, "one line is rejected: {err}");
    assert!(
        err.contains("line 5") && err.contains("while a `fire` emergency is under way"),
        "{err}"
    );
    assert!(!err.contains("line 8"), "the fire emergency ends: {err}");
    let fire = of_type(&out, "fire_alarm");
    assert_eq!(fire.len(), 2, "{out}");
    assert_eq!(fire[0]["state"], "raised");
    assert_eq!(fire[0]["severity"], "critical");
    assert_eq!(fire[0]["subject"], "fire-panel");
    assert_eq!(fire[0]["ts"], "2026-03-02T10:00:00+08:00");
    assert_eq!(fire[1]["state"], "resolved");
    assert_eq!(fire[1]["ts"], "2026-03-02T10:05:00+08:00");
    let calls = of_type(&out, "roll_call_incomplete");
    assert_eq!(calls.len(), 2, "{out}");
    assert_eq!(calls[0]["state"], "raised");
    assert_eq!(calls[0]["ts"], "2026-03-02T10:10:00+08:00");
    assert_eq!(calls[0]["details"], serde_json::json!({"missing": 1}));
    assert_eq!(calls[1]["state"], "resolved");
    assert_eq!(calls[1]["ts"], "2026-03-02T10:14:00+08:00");
}

#[test]
fn the_daemon_raises_a_fire_alarm_from_the_fire_input_on_its_console_and_the_input_clearing_resolves_it(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = emergency_config(dir.path(), "3s");
    let events = dir.path().join("events.jsonl");
    append(
        &events,
        concat!(
            "{\"type\":\"attendance\",\"person\":\"s-01\",\"action\":\"check_in\"}\n",
            "{\"type\":\"input\",\"input\":\"fire-panel\",\"state\":\"active\"}\n",
        ),
    );
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    let raised = agent.wait_for_line("raised [CRITICAL] fire alarm", LIMIT);
    assert!(raised.contains("fire-panel"), "{raised}");
    let open = status(&config)["open_alerts"].clone();
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .any(|a| a["type"] == "fire_alarm" && a["subject"] == "fire-panel"),
        "{open}"
    );
    // The input started a fire emergency: s-01, checked in, is on its roll call.
    agent.wait_for_line("raised [CRITICAL] roll call incomplete", LIMIT);
    append(
        &events,
        "{\"type\":\"input\",\"input\":\"fire-panel\",\"state\":\"clear\"}\n",
    );
    agent.wait_for_line("resolved [CRITICAL] fire alarm", LIMIT);
    append(
        &events,
        "{\"type\":\"emergency\",\"kind\":\"fire\",\"action\":\"end\"}\n",
    );
    agent.wait_for_line("resolved [CRITICAL] roll call incomplete", LIMIT);
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
}
