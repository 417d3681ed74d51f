//! The daemon (`run`, the real binary) in a zone whose clocks jump by two hours: Antarctica/
//! Troll goes from UTC+0 to UTC+2 at 01:00 on the last Sunday of March and back at 03:00 on
//! the last Sunday of October. Issue 11.11: such a configuration crash-looped the daemon
//! under systemd (a time-zone gap panic). Here a simulated day runs through each change.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nursery_agent_tests::agent::{demo_config, wait_for_clock, Agent};

const LIMIT: Duration = Duration::from_secs(120);

/// The demo nursery in Antarctica/Troll, simulating `date` from 00:30 at `speed`.
fn troll(dir: &Path, date: &str, speed: f64) -> PathBuf {
    let path = demo_config(dir, speed);
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    doc["facility"]["timezone"] = toml_edit::value("Antarctica/Troll");
    doc["simulation"]["date"] = toml_edit::value(date);
    doc["simulation"]["start"] = toml_edit::value("00:30");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn still_running(agent: &mut Agent) {
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "the agent exited: {:?}",
        agent.child.try_wait()
    );
}

#[test]
fn the_daemon_in_antarctica_troll_runs_a_whole_day_through_the_hours_its_clocks_skip() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = troll(dir.path(), "2026-03-29", 3000.0);
    let mut agent = Agent::start(&cfg, &[]);
    let after_gap = wait_for_clock(&cfg, "03:30", LIMIT);
    assert!(
        after_gap["clock"].as_str().unwrap().ends_with("+02:00"),
        "{after_gap}"
    );
    still_running(&mut agent);
    // On through the day's close and its pick-up check.
    wait_for_clock(&cfg, "18:30", LIMIT);
    still_running(&mut agent);
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn the_daemon_in_antarctica_troll_runs_through_the_hours_its_clocks_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = troll(dir.path(), "2026-10-25", 1500.0);
    let mut agent = Agent::start(&cfg, &[]);
    let after_fold = wait_for_clock(&cfg, "03:30", LIMIT);
    assert!(
        after_fold["clock"].as_str().unwrap().ends_with("+00:00"),
        "{after_fold}"
    );
    still_running(&mut agent);
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
}
