//! The real daemon on the simulated nursery: crashes, restarts, and what its journal says.

use std::time::Duration;

use nursery_agent_tests::agent::{demo_config, run, status, wait_for_clock, Agent};

/// Simulated seconds per real second: the demo day in about fifteen seconds.
const FAST: f64 = 3000.0;
/// So slow that nothing happens while the test looks.
const FROZEN: f64 = 0.001;
const LIMIT: Duration = Duration::from_secs(60);

fn set_speed(config: &std::path::Path, speed: f64) {
    let text = std::fs::read_to_string(config).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc["simulation"]["speed"] = toml_edit::value(speed);
    std::fs::write(config, doc.to_string()).unwrap();
}

#[test]
fn killed_with_sigkill_mid_morning_the_agent_restarts_with_the_same_children_in_the_same_rooms_and_the_same_open_alerts(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), FAST);
    let agent = Agent::start(&config, &[]);
    wait_for_clock(&config, "10:00", LIMIT);
    agent.kill9();
    let before = status(&config);
    let in_rooms: usize = before["occupancy"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_array().unwrap().len())
        .sum();
    assert!(
        in_rooms >= 20,
        "by 10:00 most of the nursery is in: {before}"
    );

    set_speed(&config, FROZEN);
    let mut agent = Agent::start(&config, &[]);
    let banner = agent.wait_for_line("restored from the journal", LIMIT);
    let after = status(&config);
    assert_eq!(after["occupancy"], before["occupancy"], "{banner}");
    assert_eq!(after["open_alerts"], before["open_alerts"]);
    assert_eq!(after["rooms"], before["rooms"]);
    assert!(
        banner.contains(&format!("{in_rooms} people checked in")),
        "{banner}"
    );
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "SIGTERM is a clean shutdown: {exit:?}");
}

#[test]
fn killed_three_times_in_a_day_the_agent_loses_and_repeats_no_event_and_replay_of_its_journal_reproduces_every_alert(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), FAST);
    let cfg = config.to_str().unwrap();
    for until in ["09:00", "12:30", "16:45"] {
        let agent = Agent::start(&config, &[]);
        wait_for_clock(&config, until, LIMIT);
        agent.kill9();
    }
    let agent = Agent::start(&config, &[]);
    let end = wait_for_clock(&config, "18:45", LIMIT);
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
    let clock = status(&config)["clock"].as_str().unwrap().to_string();
    assert!(clock.as_str() >= end["clock"].as_str().unwrap());

    // Every simulated event once, in order, none lost, none twice.
    let (st, journal, err) = run(&["export", "--config", cfg]);
    assert!(st.success(), "{err}");
    let events: Vec<&str> = journal
        .lines()
        .filter(|l| !l.contains(r#""type":"agent_started""#))
        .collect();
    let starts = journal.lines().count() - events.len();
    assert_eq!(starts, 4, "one agent_started per start");
    let date = &clock[..10];
    let (st, day, err) = run(&["simulate", "--config", cfg, "--date", date]);
    assert!(st.success(), "{err}");
    // Every event of the simulated day from the simulation's start (07:00, half an hour
    // before opening) up to the agent's clock (the day's readings go on until midnight).
    let until = chrono::DateTime::parse_from_rfc3339(&clock).unwrap();
    let from =
        chrono::DateTime::parse_from_rfc3339(&format!("{}T07:00:00+08:00", &clock[..10])).unwrap();
    let day: Vec<&str> = day
        .lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let ts = chrono::DateTime::parse_from_rfc3339(v["ts"].as_str().unwrap()).unwrap();
            from <= ts && ts <= until
        })
        .collect();
    assert!(day.len() > 1000, "a whole day of events");
    assert_eq!(events.len(), day.len(), "every event of the day, once");
    for (i, (j, d)) in events.iter().zip(&day).enumerate() {
        assert_eq!(j, d, "event {i}");
    }

    // Replay of the exported journal raises exactly what the daemon raised live.
    let log = dir.path().join("journal.jsonl");
    std::fs::write(&log, &journal).unwrap();
    let (st, replayed, err) = run(&[
        "replay",
        "--config",
        cfg,
        "--events",
        log.to_str().unwrap(),
        "--until",
        &clock,
    ]);
    assert!(st.success(), "{err}");
    let (st, live, err) = run(&["export", "--config", cfg, "--transitions"]);
    assert!(st.success(), "{err}");
    assert!(
        live.lines().count() >= 10,
        "the demo day raises and resolves its incidents:\n{live}"
    );
    assert_eq!(replayed, live);
}

/// Counts journalled events of `kind` (via `export`).
fn journalled(config: &std::path::Path, kind: &str) -> usize {
    let (st, out, err) = run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    out.lines()
        .filter(|l| l.contains(&format!(r#""type":"{kind}""#)))
        .count()
}

fn wait_for_journalled(config: &std::path::Path, kind: &str, n: usize) {
    let end = std::time::Instant::now() + LIMIT;
    while journalled(config, kind) < n {
        assert!(
            std::time::Instant::now() < end,
            "only {} of {n} {kind} events journalled",
            journalled(config, kind)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_events_file_is_followed_as_it_grows_and_after_a_sigkill_resumes_after_its_last_line_taken_in()
{
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), 1.0);
    let text = std::fs::read_to_string(&config).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc["simulation"]["enabled"] = toml_edit::value(false);
    std::fs::write(&config, doc.to_string()).unwrap();
    let events = dir.path().join("events.jsonl");
    let press = "{\"type\":\"exit_button\",\"door\":\"entrance\"}\n";
    let append = |s: &str| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&events)
            .unwrap();
        f.write_all(s.as_bytes()).unwrap();
    };
    append(&press.repeat(200));
    append("this is not an event\n");

    let ev = events.to_str().unwrap();
    let mut agent = Agent::start(&config, &["--events", ev]);
    agent.wait_for_line("events from", LIMIT);
    wait_for_journalled(&config, "exit_button", 200);
    agent.kill9();

    append(&press.repeat(100));
    // A last line still being written is not taken until its newline arrives.
    append("{\"type\":\"exit_button\",");
    let mut agent = Agent::start(&config, &["--events", ev]);
    agent.wait_for_line("events from", LIMIT);
    wait_for_journalled(&config, "exit_button", 300);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(journalled(&config, "exit_button"), 300);
    append("\"door\":\"garden\"}\n");
    wait_for_journalled(&config, "exit_button", 301);
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
    assert_eq!(journalled(&config, "exit_button"), 301, "every line once");
    assert_eq!(journalled(&config, "agent_started"), 2);
}

/// A demo configuration with the simulation off, so that only `--events` feeds the agent.
fn events_only_config(dir: &std::path::Path) -> std::path::PathBuf {
    let config = demo_config(dir, 1.0);
    let text = std::fs::read_to_string(&config).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc["simulation"]["enabled"] = toml_edit::value(false);
    std::fs::write(&config, doc.to_string()).unwrap();
    config
}

/// The journal's rejected lines: (line, reason).
fn rejected(dir: &std::path::Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(dir.join("state/nursery-agent.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT line, reason FROM rejected ORDER BY rowid")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_line_that_is_not_utf8_is_rejected_and_counted_not_journalled_as_a_card_of_replacement_characters(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = events_only_config(dir.path());
    let events = dir.path().join("events.jsonl");
    let mut bytes = b"{\"type\":\"badge\",\"reader\":\"entrance-reader\",\"card\":\"".to_vec();
    bytes.extend_from_slice(b"\xff\xfe\xfd\"}\n");
    bytes.extend_from_slice(b"{\"type\":\"exit_button\",\"door\":\"entrance\"}\n");
    std::fs::write(&events, &bytes).unwrap();
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    agent.wait_for_line("events from", LIMIT);
    wait_for_journalled(&config, "exit_button", 1);
    assert!(agent.terminate(Duration::from_secs(10)).success());

    assert_eq!(
        journalled(&config, "badge"),
        0,
        "the bad line is not judged"
    );
    let (_, export, _) = run(&["export", "--config", config.to_str().unwrap()]);
    assert!(!export.contains('\u{FFFD}'), "{export}");
    let rejected = rejected(dir.path());
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(
        rejected[0].1,
        "line is not valid UTF-8 (invalid byte at offset 51)"
    );
}

#[test]
fn an_over_long_line_is_rejected_naming_the_size_limit_and_the_next_line_is_taken_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = events_only_config(dir.path());
    let events = dir.path().join("events.jsonl");
    let long = format!(
        "{{\"type\":\"badge\",\"reader\":\"entrance-reader\",\"card\":\"{}\"}}\n",
        "1".repeat(100_000)
    );
    let text = format!("{long}{{\"type\":\"exit_button\",\"door\":\"entrance\"}}\n");
    std::fs::write(&events, text).unwrap();
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    agent.wait_for_line("events from", LIMIT);
    wait_for_journalled(&config, "exit_button", 1);
    assert!(agent.terminate(Duration::from_secs(10)).success());

    let rejected = rejected(dir.path());
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(
        rejected[0].1,
        format!(
            "line is {} bytes, longer than the 65536-byte limit",
            long.len()
        )
    );
    assert!(rejected[0].0.len() < 400, "only a sample is journalled");
    assert_eq!(journalled(&config, "badge"), 0);
}

fn hangup(agent: &Agent) {
    let pid = agent.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn sighup_refuses_an_invalid_configuration_whole_and_applies_a_valid_one_keeping_the_open_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let config = events_only_config(dir.path());
    let good = std::fs::read_to_string(&config).unwrap();
    let events = dir.path().join("events.jsonl");
    // A door opened with no badge or exit button: door_forced, open until it closes.
    std::fs::write(
        &events,
        "{\"type\":\"door\",\"door\":\"entrance\",\"state\":\"open\"}\n",
    )
    .unwrap();
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    agent.wait_for_line("door forced", LIMIT);
    let open = |config: &std::path::Path| status(config)["open_alerts"].as_array().unwrap().len();
    assert_eq!(open(&config), 1);

    std::fs::write(&config, format!("no_such_key = 1\n{good}")).unwrap();
    hangup(&agent);
    let refused = agent.wait_for_line("configuration refused", LIMIT);
    assert!(refused.contains("1 problems"), "{refused}");
    agent.wait_for_line("no_such_key", LIMIT);
    // `status` itself needs a valid file: the same configuration, beside it.
    let good_copy = dir.path().join("agent-good.toml");
    std::fs::write(&good_copy, &good).unwrap();
    let st = status(&good_copy);
    assert_eq!(st["reload"]["applied"], false, "{st}");
    assert!(
        st["reload"]["problems"][0]
            .as_str()
            .unwrap()
            .contains("no_such_key"),
        "{st}"
    );
    assert_eq!(open(&good_copy), 1, "the open alert stays");

    assert!(good.contains("name = \"向日葵托育园\""));
    let renamed = good.replacen(
        "name = \"向日葵托育园\"",
        "name = \"向日葵托育园 (renamed)\"",
        1,
    );
    std::fs::write(&config, &renamed).unwrap();
    hangup(&agent);
    agent.wait_for_line("configuration reloaded (b2s:", LIMIT);
    let st = status(&config);
    assert_eq!(st["reload"]["applied"], true, "{st}");
    assert_eq!(st["open_alerts"].as_array().unwrap().len(), 1, "{st}");
    assert_eq!(st["open_alerts"][0]["type"], "door_forced", "{st}");
    let exit = agent.terminate(Duration::from_secs(10));
    assert!(exit.success(), "still running after both reloads: {exit:?}");
}

#[test]
fn events_written_while_the_agent_was_down_keep_their_own_ts_after_a_sigkill_and_restart() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let config = events_only_config(dir.path());
    let events = dir.path().join("events.jsonl");
    let append = |s: &str| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&events)
            .unwrap();
        f.write_all(s.as_bytes()).unwrap();
    };
    append("{\"type\":\"exit_button\",\"door\":\"entrance\"}\n");
    let ev = events.to_str().unwrap();
    let mut agent = Agent::start(&config, &["--events", ev]);
    agent.wait_for_line("events from", LIMIT);
    wait_for_journalled(&config, "exit_button", 1);
    agent.kill9();

    // Written while the agent is down (systemd's restart delay), stamped by the terminal.
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let mut written = Vec::new();
    for i in 0..3 {
        let ts = (chrono::Utc::now() + chrono::Duration::milliseconds(i * 10))
            .with_timezone(&tz)
            .format("%Y-%m-%dT%H:%M:%S%.3f+08:00");
        let line = format!(r#"{{"ts":"{ts}","type":"exit_button","door":"garden"}}"#);
        append(&format!("{line}\n"));
        written.push(line);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let mut agent = Agent::start(&config, &["--events", ev]);
    agent.wait_for_line("events from", LIMIT);
    wait_for_journalled(&config, "exit_button", 4);
    assert!(agent.terminate(Duration::from_secs(10)).success());

    let (_, export, _) = run(&["export", "--config", config.to_str().unwrap()]);
    let lines: Vec<&str> = export.lines().collect();
    let restart = lines
        .iter()
        .rposition(|l| l.contains(r#""type":"agent_started""#))
        .unwrap();
    for line in &written {
        let at = lines.iter().position(|l| l == line);
        assert!(
            at.is_some(),
            "{line} was re-stamped; the journal has:\n{export}"
        );
        assert!(at < Some(restart), "taken in before the start marker");
    }
}
