//! Naps and sleep checks through the real binary (contract 1.1 sections 9 and 10):
//! `replay` of a nap log, and the daemon raising `sleep_check_missed` on the wall clock,
//! on its console, resolving it on a check, with the journal able to reproduce it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nursery_agent_tests::agent::{quiet_demo_config, run, status, workspace, Agent};
use nursery_agent_tests::day::{append, line, replay};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn replay_of_a_nap_with_one_late_check_raises_and_resolves_sleep_check_missed_at_the_exact_moments()
{
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nap.jsonl");
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
            "12:30:00",
            r#""type":"nap","room":"infant","action":"start""#,
        ),
        line(
            "12:44:00",
            r#""type":"sleep_check","room":"infant","by":"s-01""#,
        ),
        // Late: due at 12:59.
        line(
            "13:03:00",
            r#""type":"sleep_check","room":"infant","by":"s-01""#,
        ),
        line(
            "13:10:00",
            r#""type":"nap","room":"attic","action":"start""#,
        ),
        line(
            "13:11:00",
            r#""type":"sleep_check","room":"infant","by":"g-01""#,
        ),
        line("14:00:00", r#""type":"nap","room":"infant","action":"end""#),
    ]
    .concat();
    std::fs::write(&log, text).unwrap();
    let (code, out, err) = replay(&workspace().join("config/example.toml"), &log);
    assert_eq!(code, 1, "two lines are rejected: {err}");
    assert!(
        err.contains("line 6") && err.contains("unknown room `attic`"),
        "{err}"
    );
    assert!(
        err.contains("line 7") && err.contains("unknown member of staff `g-01`"),
        "{err}"
    );
    let naps: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|t: &serde_json::Value| t["type"] == "sleep_check_missed")
        .collect();
    // Raised at 12:59, resolved by the 13:03 check; due again at 13:18, resolved when the
    // nap ends at 14:00.
    assert_eq!(naps.len(), 4, "{out}");
    assert_eq!(naps[0]["state"], "raised");
    assert_eq!(naps[0]["severity"], "critical");
    assert_eq!(naps[0]["subject"], "infant");
    assert_eq!(naps[0]["ts"], "2026-03-02T12:59:00+08:00");
    assert_eq!(
        naps[0]["details"]["last_check"],
        "2026-03-02T12:44:00+08:00"
    );
    assert_eq!(naps[1]["state"], "resolved");
    assert_eq!(naps[1]["ts"], "2026-03-02T13:03:00+08:00");
    assert_eq!(naps[1]["details"]["by"], "s-01");
    assert_eq!(naps[2]["state"], "raised");
    assert_eq!(naps[2]["ts"], "2026-03-02T13:18:00+08:00");
    assert_eq!(naps[3]["state"], "resolved");
    assert_eq!(naps[3]["ts"], "2026-03-02T14:00:00+08:00");
    assert_eq!(naps[3]["details"], serde_json::json!({}));
}

/// The demo configuration (which has the sleep-check reader `infant-sleep` in the infant
/// room) with the simulation off, so that only `--events` feeds the agent, and checks due
/// every `interval`.
fn nap_config(dir: &Path, interval: &str) -> PathBuf {
    let config = quiet_demo_config(dir, &[("sleep_check_interval", interval)]);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("id = \"infant-sleep\""),
        "the demo lost its sleep reader"
    );
    config
}

#[test]
fn the_daemon_raises_a_missed_sleep_check_on_time_and_a_badge_at_the_sleep_reader_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = nap_config(dir.path(), "3s");
    let events = dir.path().join("events.jsonl");
    append(
        &events,
        concat!(
            "{\"type\":\"attendance\",\"person\":\"s-01\",\"action\":\"check_in\"}\n",
            "{\"type\":\"attendance\",\"person\":\"c-01\",\"action\":\"check_in\"}\n",
            "{\"type\":\"nap\",\"room\":\"infant\",\"action\":\"start\"}\n",
        ),
    );
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    let raised = agent.wait_for_line("sleep check missed", LIMIT);
    assert!(
        raised.contains("infant") || raised.contains("乳儿班"),
        "{raised}"
    );
    let open = status(&config)["open_alerts"].clone();
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .any(|a| a["type"] == "sleep_check_missed"),
        "{open}"
    );
    // s-01's card (10001) at the sleep-check reader is a check.
    append(
        &events,
        "{\"type\":\"badge\",\"reader\":\"infant-sleep\",\"card\":\"10001\"}\n",
    );
    agent.wait_for_line("resolved", LIMIT);
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");

    // The journal holds the nap and the check, and replay of its export says the same.
    let (st, exported, err) = run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    assert!(exported.contains(r#""type":"nap""#), "{exported}");
    let log = dir.path().join("exported.jsonl");
    std::fs::write(&log, &exported).unwrap();
    let (code, out, err) = replay(&config, &log);
    assert_eq!(code, 0, "{err}");
    let states: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|t| t["type"] == "sleep_check_missed")
        .map(|t| t["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["raised", "resolved"], "{out}");
}

/// The example configuration with a panic button and a fire panel.
fn with_inputs(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("config/example.toml")).unwrap();
    let path = dir.join("inputs.toml");
    std::fs::write(
        &path,
        format!("{text}\n[[inputs]]\nid = \"panic-office\"\nkind = \"panic\"\nname = \"办公室\"\n\n[[inputs]]\nid = \"fire-panel\"\nkind = \"fire\"\n"),
    )
    .unwrap();
    path
}

#[test]
fn replay_raises_a_panic_press_until_its_disposition_and_the_note_stays_out_of_the_transition() {
    let dir = tempfile::tempdir().unwrap();
    let config = with_inputs(dir.path());
    let log = dir.path().join("panic.jsonl");
    let text = [
        line(
            "10:00:00",
            r#""type":"input","input":"panic-office","state":"active","test":true"#,
        ),
        line(
            "10:00:01",
            r#""type":"input","input":"panic-office","state":"clear","test":true"#,
        ),
        line(
            "10:30:00",
            r#""type":"input","input":"panic-office","state":"active""#,
        ),
        line(
            "10:30:02",
            r#""type":"input","input":"panic-office","state":"clear""#,
        ),
        line(
            "10:31:00",
            r#""type":"input","input":"fire-panel","state":"active""#,
        ),
        line(
            "10:33:00",
            r#""type":"input","input":"fire-panel","state":"clear""#,
        ),
        line(
            "10:34:00",
            r#""type":"input","input":"panic-kitchen","state":"active""#,
        ),
        line(
            "10:35:00",
            r#""type":"disposition","alert_id":"A-none","by":"s-01","action":"other""#,
        ),
    ]
    .concat();
    std::fs::write(&log, &text).unwrap();
    let (code, out, err) = replay(&config, &log);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 7") && err.contains("unknown input `panic-kitchen`"),
        "{err}"
    );
    assert!(
        err.contains("line 8") && err.contains("unknown alert `A-none`"),
        "{err}"
    );
    let ts: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let panic: Vec<_> = ts.iter().filter(|t| t["type"] == "panic_button").collect();
    assert_eq!(
        panic.len(),
        1,
        "a test press raised, or the release resolved: {out}"
    );
    assert_eq!(panic[0]["severity"], "critical");
    let fire: Vec<_> = ts
        .iter()
        .filter(|t| t["type"] == "fire_alarm")
        .map(|t| t["state"].clone())
        .collect();
    assert_eq!(fire, ["raised", "resolved"]);

    // The disposition, with a note naming a parent: a `disposed` transition without it,
    // then the panic alert resolves.
    let id = panic[0]["alert_id"].as_str().unwrap();
    let note = "已电话通知小明妈妈";
    std::fs::write(
        &log,
        format!(
            "{text}{}",
            line(
                "10:40:00",
                &format!(r#""type":"disposition","alert_id":"{id}","by":"s-01","action":"parent_notified","note":"{note}""#)
            )
        ),
    )
    .unwrap();
    let (_, out, _) = replay(&config, &log);
    assert!(!out.contains(note), "the note left the journal: {out}");
    let after: Vec<(String, String)> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|t| t["alert_id"] == id)
        .map(|t| {
            (
                t["state"].as_str().unwrap().into(),
                t["details"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        after,
        [
            ("raised".to_string(), "{}".to_string()),
            (
                "disposed".into(),
                r#"{"action":"parent_notified","by":"s-01"}"#.into()
            ),
            ("resolved".into(), "{}".into()),
        ]
    );
}

#[test]
fn the_daemon_sounds_a_panic_press_on_its_console_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // The demo's office panic button (config/demo.toml, virtual: its changes are events).
    let config = nap_config(dir.path(), "15m");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("id = \"panic-office\""),
        "the demo lost its panic button"
    );
    let events = dir.path().join("events.jsonl");
    append(
        &events,
        "{\"type\":\"input\",\"input\":\"panic-office\",\"state\":\"active\"}\n",
    );
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    let line = agent.wait_for_line("panic button pressed", LIMIT);
    assert!(line.contains("CRITICAL") || line.contains("严重"), "{line}");
    let open = status(&config)["open_alerts"].clone();
    let id = open
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "panic_button")
        .map(|a| a["alert_id"].as_str().unwrap().to_string())
        .expect("the panic alert is open");
    append(
        &events,
        &format!("{{\"type\":\"disposition\",\"alert_id\":\"{id}\",\"by\":\"s-01\",\"action\":\"handled_on_site\"}}\n"),
    );
    agent.wait_for_line("resolved", LIMIT);
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
}
