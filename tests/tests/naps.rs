//! Naps and sleep checks through the real binary (contract 1.1 sections 9 and 10):
//! `replay` of a nap log, and the daemon raising `sleep_check_missed` on the wall clock,
//! on its console, resolving it on a check, with the journal able to reproduce it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nursery_agent_tests::agent::{demo_config, run, status, workspace, Agent};

const LIMIT: Duration = Duration::from_secs(60);

fn replay(config: &Path, log: &Path) -> (i32, String, String) {
    let (st, out, err) = run(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--events",
        log.to_str().unwrap(),
    ]);
    (st.code().unwrap_or(-1), out, err)
}

fn line(ts: &str, body: &str) -> String {
    format!("{{\"ts\":\"2026-03-02T{ts}+08:00\",{body}}}\n")
}

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
    let config = demo_config(dir, 1.0);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("id = \"infant-sleep\""),
        "the demo lost its sleep reader"
    );
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc["simulation"]["enabled"] = toml_edit::value(false);
    doc["rules"]["sleep_check_interval"] = toml_edit::value(interval);
    std::fs::write(&config, doc.to_string()).unwrap();
    config
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
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
