//! The configuration in force across restarts (contract section 11), through the real
//! binary: a child a reload removed while checked in is still there after `kill -9` and
//! a start, until checked out; a file edited while the agent was down is journalled at
//! the next start, so `replay` of the export judges each moment under the configuration
//! in force then; `status` says which configuration is in force and whom it keeps.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{run, status, Agent};
use nursery_testkit::{write_config, Roster};

const LIMIT: Duration = Duration::from_secs(60);

fn roster(dir: &Path, children: usize) -> Roster {
    Roster::sunflower()
        .children("infant", &vec!["2026-06-01"; children])
        .storage(&dir.join("state"))
        .mqtt_off()
        .listen("127.0.0.1:0")
}

fn feed(events: &Path, lines: &[serde_json::Value]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(events)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn attendance(person: &str, action: &str) -> serde_json::Value {
    serde_json::json!({"type": "attendance", "person": person, "action": action})
}

fn export(config: &Path, transitions: bool) -> String {
    let mut args = vec!["export", "--config", config.to_str().unwrap()];
    if transitions {
        args.push("--transitions");
    }
    let (st, out, err) = run(&args);
    assert!(st.success(), "export: {err}");
    out
}

/// The exported journal, once `pred` holds of it, within `LIMIT`.
fn journal_until(config: &Path, pred: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + LIMIT;
    loop {
        let out = export(config, false);
        if pred(&out) {
            return out;
        }
        assert!(Instant::now() < end, "journal never matched:\n{out}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start(config: &Path, events: &Path) -> Agent {
    let mut agent = Agent::start(config, &["--events", events.to_str().unwrap()]);
    agent.wait_for_line("events from", LIMIT);
    agent
}

fn hangup(agent: &Agent) {
    let pid = agent.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

fn infants(s: &serde_json::Value) -> Vec<String> {
    s["occupancy"]["infant"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// (alert_id, type, state) of every transition in JSON lines.
fn keys(lines: &str) -> Vec<(String, String, String)> {
    lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("alert_id"), s("type"), s("state"))
        })
        .collect()
}

fn replay(config: &Path, journal: &str, dir: &Path) -> String {
    let file = dir.join("journal.jsonl");
    std::fs::write(&file, journal).unwrap();
    // Timers the agent fired after the last event fall due by now.
    let until = chrono::Utc::now().to_rfc3339();
    let args = [
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--events",
        file.to_str().unwrap(),
        "--until",
        &until,
    ];
    let (st, out, err) = run(&args);
    assert!(st.success(), "replay rejected lines: {err}");
    out
}

#[test]
fn a_child_a_reload_removed_while_checked_in_is_still_there_after_kill_9_and_a_restart_until_checked_out(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &roster(dir.path(), 4).toml());
    let original = dir.path().join("original.toml");
    std::fs::copy(&config, &original).unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let mut agent = start(&config, &events);
    let morning: Vec<_> = ["s-01", "s-02", "c-01", "c-02", "c-03", "c-04"]
        .iter()
        .map(|p| attendance(p, "check_in"))
        .collect();
    feed(&events, &morning);
    journal_until(&config, |j| j.contains("\"c-04\""));

    std::fs::write(&config, roster(dir.path(), 4).without("c-01").toml()).unwrap();
    hangup(&agent);
    agent.wait_for_line("configuration reloaded", LIMIT);
    let s = status(&config);
    assert!(infants(&s).contains(&"c-01".to_string()), "{s}");
    assert_eq!(
        s["config"]["kept_until_checked_out"],
        serde_json::json!(["c-01"])
    );

    agent.kill9();
    let agent = start(&config, &events);
    let s = status(&config);
    assert!(
        infants(&s).contains(&"c-01".to_string()),
        "c-01 was dropped by the restart: {s}"
    );
    assert_eq!(
        s["config"]["kept_until_checked_out"],
        serde_json::json!(["c-01"]),
        "{s}"
    );
    // The same file as before the kill: nothing new to journal.
    assert_eq!(
        export(&config, false).matches("\"config_loaded\"").count(),
        1
    );

    feed(
        &events,
        &[
            serde_json::json!({"type": "attendance", "person": "c-01", "action": "check_out", "by": "g-01"}),
        ],
    );
    journal_until(&config, |j| {
        j.lines()
            .any(|l| l.contains("\"c-01\"") && l.contains("check_out"))
    });
    assert!(!export(&config, true).contains("unauthorized_pickup"));
    let s = status(&config);
    assert!(!infants(&s).contains(&"c-01".to_string()), "{s}");
    assert_eq!(
        s["config"]["kept_until_checked_out"],
        serde_json::json!([]),
        "{s}"
    );
    agent.terminate(LIMIT);

    let replayed = replay(&original, &export(&config, false), dir.path());
    assert_eq!(keys(&replayed), keys(&export(&config, true)));
}

#[test]
fn a_configuration_edited_while_the_agent_was_down_is_journalled_at_the_next_start_and_replays_under_it(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &roster(dir.path(), 4).rule("ratio_grace", "1s").toml(),
    );
    let original = dir.path().join("original.toml");
    std::fs::copy(&config, &original).unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let agent = start(&config, &events);
    feed(&events, &[attendance("s-01", "check_in")]);
    journal_until(&config, |j| j.contains("\"s-01\""));
    let first_hash = status(&config)["config"]["hash"].clone();
    assert!(first_hash.is_string(), "{first_hash}");
    agent.terminate(LIMIT);

    // While it is down, a fifth infant joins the roster.
    std::fs::write(
        &config,
        roster(dir.path(), 5).rule("ratio_grace", "1s").toml(),
    )
    .unwrap();
    let agent = start(&config, &events);
    let journal = export(&config, false);
    assert_eq!(journal.matches("\"config_loaded\"").count(), 1, "{journal}");
    let loaded = journal.find("\"config_loaded\"").unwrap();
    let restarted = journal.rfind("\"agent_started\"").unwrap();
    assert!(
        loaded < restarted,
        "the change is journalled before the start marker:\n{journal}"
    );
    assert_ne!(status(&config)["config"]["hash"], first_hash);

    // Five infants 1:3 with one member of staff: a breach, once the new child is known.
    let infants: Vec<_> = ["c-01", "c-02", "c-03", "c-04", "c-05"]
        .iter()
        .map(|p| attendance(p, "check_in"))
        .collect();
    feed(&events, &infants);
    journal_until(&config, |j| j.contains("\"c-05\""));
    let end = Instant::now() + LIMIT;
    while !export(&config, true).contains("ratio_breach") {
        assert!(Instant::now() < end, "no ratio_breach with five infants");
        std::thread::sleep(Duration::from_millis(200));
    }
    agent.terminate(LIMIT);

    // Replayed with the first file, c-05 is known from the `config_loaded` on: every line
    // is accepted and the transitions are the agent's.
    let live = export(&config, true);
    assert!(live.contains("ratio_breach"), "{live}");
    let replayed = replay(&original, &export(&config, false), dir.path());
    assert_eq!(keys(&replayed), keys(&live));
}
