//! `SIGHUP` with a changed roster (contract section 11), through the real binary: a child
//! removed while checked in stays until checked out, an open alert whose door was removed
//! resolves saying why, and `replay` of the exported journal judges each moment under the
//! configuration in force then.

use std::io::Write;
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{run, status, Agent};
use nursery_testkit::{write_config, Roster};

const LIMIT: Duration = Duration::from_secs(60);

fn roster(dir: &std::path::Path) -> Roster {
    Roster::sunflower()
        .children("infant", &["2025-06-15"; 4])
        .storage(&dir.join("state"))
        .mqtt_off()
        .listen("127.0.0.1:0")
}

fn feed(events: &std::path::Path, lines: &[serde_json::Value]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(events)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn hangup(agent: &Agent) {
    let pid = agent.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

fn export(config: &std::path::Path, transitions: bool) -> String {
    let mut args = vec!["export", "--config", config.to_str().unwrap()];
    if transitions {
        args.push("--transitions");
    }
    let (st, out, err) = run(&args);
    assert!(st.success(), "export: {err}");
    out
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

#[test]
fn a_reload_keeps_a_removed_child_until_checked_out_resolves_a_removed_doors_alert_and_replays_the_same(
) {
    let dir = tempfile::tempdir().unwrap();
    let first = roster(dir.path());
    let config = write_config(dir.path(), &first.toml());
    let original = dir.path().join("original.toml");
    std::fs::copy(&config, &original).unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    agent.wait_for_line("events from", LIMIT);
    let mut morning: Vec<serde_json::Value> = ["s-01", "s-02", "c-01", "c-02", "c-03", "c-04"]
        .iter()
        .map(|p| serde_json::json!({"type": "attendance", "person": p, "action": "check_in"}))
        .collect();
    morning.push(serde_json::json!({"type": "door", "door": "garden", "state": "open"}));
    feed(&events, &morning);
    agent.wait_for_line("door forced", LIMIT);

    let second = roster(dir.path()).without("c-01").without("garden");
    std::fs::write(&config, second.toml()).unwrap();
    hangup(&agent);
    agent.wait_for_line("configuration reloaded", LIMIT);
    let s = status(&config);
    assert!(
        !s["open_alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == "garden"),
        "{s}"
    );
    let live = export(&config, true);
    assert!(
        live.lines().any(|l| l.contains("\"door_forced\"")
            && l.contains("\"resolved\"")
            && l.contains("removed from the configuration")),
        "{live}"
    );

    feed(
        &events,
        &[
            serde_json::json!({"type": "attendance", "person": "c-01", "action": "check_out", "by": "g-01"}),
        ],
    );
    // The agent still knows c-01, who left the roster while checked in: the check-out is
    // taken (not rejected as an unknown person) and raises nothing.
    let end = Instant::now() + LIMIT;
    while !export(&config, false)
        .lines()
        .any(|l| l.contains("\"c-01\"") && l.contains("check_out"))
    {
        assert!(Instant::now() < end, "c-01's check-out was never taken in");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!export(&config, true).contains("unauthorized_pickup"));
    agent.terminate(LIMIT);

    // The export carries the configuration it was judged under: replayed with the first
    // file, it gives what the agent raised and resolved live, transition for transition.
    let journal = dir.path().join("journal.jsonl");
    std::fs::write(&journal, export(&config, false)).unwrap();
    assert!(std::fs::read_to_string(&journal)
        .unwrap()
        .contains("\"config_loaded\""));
    let args = [
        "replay",
        "--config",
        original.to_str().unwrap(),
        "--events",
        journal.to_str().unwrap(),
    ];
    let (st, replayed, err) = run(&args);
    assert!(st.success(), "replay: {err}");
    assert_eq!(keys(&replayed), keys(&export(&config, true)));
}
