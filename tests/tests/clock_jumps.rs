//! The real binary under libfaketime (Debian `faketime`), whose wall clock the test steps
//! forward and back while the monotonic clock runs on: a jump is journalled as a
//! `clock_jump`, raises nothing by itself, and timers keep their own time across it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{run, status, Agent};
use nursery_testkit::{write_config, Roster};

const LIMIT: Duration = Duration::from_secs(60);

/// libfaketime's preload library, installed by `scripts/test` (Debian package `faketime`).
fn libfaketime() -> PathBuf {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("libfaketime is installed (Debian package `faketime`; scripts/test installs it)")
}

/// An agent on the wall clock (no simulation, no uplink) following `events`, whose wall
/// clock is offset by what the test writes into `offset` (`"-1d"`, `"+0"`, …).
struct Faked {
    _dir: tempfile::TempDir,
    config: PathBuf,
    events: PathBuf,
    offset: PathBuf,
    agent: Agent,
}

impl Faked {
    fn start(roster: Roster, offset: &str) -> Faked {
        let dir = tempfile::tempdir().unwrap();
        let text = roster
            .storage(&dir.path().join("state"))
            .mqtt_off()
            .listen("127.0.0.1:0")
            .toml();
        let config = write_config(dir.path(), &text);
        let events = dir.path().join("events.jsonl");
        std::fs::write(&events, "").unwrap();
        let offset_file = dir.path().join("faketime");
        std::fs::write(&offset_file, format!("{offset}\n")).unwrap();
        let lib = libfaketime();
        let one = PathBuf::from("1");
        let env: [(&str, &Path); 4] = [
            ("LD_PRELOAD", &lib),
            ("FAKETIME_TIMESTAMP_FILE", &offset_file),
            ("FAKETIME_NO_CACHE", &one),
            ("DONT_FAKE_MONOTONIC", &one),
        ];
        let mut agent =
            Agent::start_with_env(&config, &["--events", events.to_str().unwrap()], &env);
        agent.wait_for_line("events from", LIMIT);
        Faked {
            _dir: dir,
            config,
            events,
            offset: offset_file,
            agent,
        }
    }

    fn feed(&self, lines: &[String]) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.events)
            .unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }

    fn step_to(&self, offset: &str) {
        std::fs::write(&self.offset, format!("{offset}\n")).unwrap();
    }

    /// The journal's events (`export`), once `pred` holds of them, within `LIMIT`.
    fn journal_until(&self, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + LIMIT;
        loop {
            let (st, out, err) = run(&["export", "--config", self.config.to_str().unwrap()]);
            assert!(st.success(), "export failed: {err}");
            if pred(&out) {
                return out;
            }
            assert!(
                Instant::now() < end,
                "journal never matched; it holds:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn transitions(&self) -> String {
        let args = [
            "export",
            "--config",
            self.config.to_str().unwrap(),
            "--transitions",
        ];
        let (st, out, err) = run(&args);
        assert!(st.success(), "export failed: {err}");
        out
    }
}

/// Four infants, two caregivers, a virtual sensor; doors held open for 5 s raise.
fn roster() -> Roster {
    Roster::sunflower()
        .children("infant", &["2025-06-15"; 4])
        .rule("door_held_open", "5s")
}

fn line(v: serde_json::Value) -> String {
    v.to_string()
}

fn morning() -> Vec<String> {
    let mut lines = vec![
        line(serde_json::json!({"type": "attendance", "person": "s-01", "action": "check_in"})),
        line(serde_json::json!({"type": "attendance", "person": "s-02", "action": "check_in"})),
    ];
    for c in ["c-01", "c-02", "c-03", "c-04"] {
        lines.push(line(
            serde_json::json!({"type": "attendance", "person": c, "action": "check_in"}),
        ));
    }
    lines.push(line(
        serde_json::json!({"type": "reading", "sensor": "t-infant", "celsius": 24.0}),
    ));
    lines
}

#[test]
fn a_wall_clock_that_jumps_forward_a_day_is_journalled_and_raises_no_missed_pickup_or_stale_sensor()
{
    let f = Faked::start(roster(), "-1d");
    f.feed(&morning());
    f.journal_until(|j| j.contains("\"sensor\":\"t-infant\""));
    f.step_to("+0");
    let journal = f.journal_until(|j| j.contains("\"type\":\"clock_jump\""));
    let jump: serde_json::Value = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["type"] == "clock_jump")
        .unwrap();
    let (from, to) = (
        chrono::DateTime::parse_from_rfc3339(jump["from"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(jump["ts"].as_str().unwrap()).unwrap(),
    );
    let hours = (to - from).num_minutes() as f64 / 60.0;
    assert!(
        (23.9..24.1).contains(&hours),
        "a jump of a day, not {hours} h: {jump}"
    );
    // Give the agent time to fire whatever it (wrongly) would.
    std::thread::sleep(Duration::from_secs(3));
    let transitions = f.transitions();
    for wrong in ["child_not_checked_out", "sensor_stale"] {
        assert!(
            !transitions.contains(wrong),
            "{wrong} raised by the jump:\n{transitions}"
        );
    }
    // The children are still where they were, on today's clock.
    let s = status(&f.config);
    assert_eq!(
        s["occupancy"]["infant"].as_array().map(Vec::len),
        Some(6),
        "{s}"
    );
    assert_eq!(s["clock_synced"], false);
    f.agent.terminate(LIMIT);
}

#[test]
fn after_the_wall_clock_steps_back_an_hour_a_door_held_open_is_raised_on_time_and_a_correct_stamp_is_accepted(
) {
    let mut f = Faked::start(roster(), "+1h");
    f.feed(&[line(
        serde_json::json!({"type": "door", "door": "garden", "state": "open"}),
    )]);
    f.journal_until(|j| j.contains("\"door\":\"garden\""));
    let opened = Instant::now();
    f.step_to("+0");
    f.journal_until(|j| j.contains("\"type\":\"clock_jump\""));
    // A check-in stamped by a terminal whose clock is right (the real time now).
    let now = chrono::Utc::now().to_rfc3339();
    f.feed(&[line(serde_json::json!({
        "ts": now, "type": "attendance", "person": "s-01", "action": "check_in"
    }))]);
    let held = f.agent.wait_for_line("held open", LIMIT);
    let after = opened.elapsed();
    assert!(
        after < Duration::from_secs(20),
        "held-open raised {after:?} after the door opened: {held}"
    );
    let s = status(&f.config);
    let staff_in = s["occupancy"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap().clone())
        .any(|p| p == "s-01");
    assert!(staff_in, "the correctly stamped check-in was taken: {s}");
    f.agent.terminate(LIMIT);
}
