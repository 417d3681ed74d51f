//! The real binary under libfaketime (Debian `faketime`), whose wall clock the test steps
//! forward and back while the monotonic clock runs on: a jump is journalled as a
//! `clock_jump`, raises nothing by itself, and timers keep their own time across it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{libfaketime, run, status, Agent};
use nursery_testkit::{write_config, Roster};

const LIMIT: Duration = Duration::from_secs(60);

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
        let agent = Faked::spawn(&config, &events, &offset_file);
        Faked {
            _dir: dir,
            config,
            events,
            offset: offset_file,
            agent,
        }
    }

    fn spawn(config: &Path, events: &Path, offset_file: &Path) -> Agent {
        let lib = libfaketime();
        let one = PathBuf::from("1");
        let env: [(&str, &Path); 4] = [
            ("LD_PRELOAD", &lib),
            ("FAKETIME_TIMESTAMP_FILE", offset_file),
            ("FAKETIME_NO_CACHE", &one),
            ("DONT_FAKE_MONOTONIC", &one),
        ];
        let mut agent =
            Agent::start_with_env(config, &["--events", events.to_str().unwrap()], &env);
        agent.wait_for_line("events from", LIMIT);
        agent
    }

    /// Stops the agent (SIGTERM) and starts it again with its wall clock at `offset`.
    fn restart_at(&mut self, offset: &str) {
        let pid = self.agent.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        assert!(self.agent.child.wait().unwrap().success());
        self.step_to(offset);
        self.agent = Faked::spawn(&self.config, &self.events, &self.offset);
    }

    /// The local dates whose daily summary the agent has queued for the platform.
    fn summarised_days(&self) -> Vec<chrono::NaiveDate> {
        let db = self._dir.path().join("state").join("nursery-agent.db");
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let mut q = conn
            .prepare("SELECT key FROM meta WHERE key LIKE 'summary:%' ORDER BY key")
            .unwrap();
        let keys: Vec<String> = q
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        keys.iter()
            .map(|k| k.trim_start_matches("summary:").parse().unwrap())
            .collect()
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

/// A reading, then two caregivers and four infants checked in. The reading comes first:
/// a batch of readings alone waits in memory for the routine group (up to 20 minutes, see
/// `journal`'s module docs), so only a significant row after it (a check-in) puts it in
/// the journal where `export` sees it.
fn morning() -> Vec<String> {
    let mut lines = vec![
        line(serde_json::json!({"type": "reading", "sensor": "t-infant", "celsius": 24.0})),
        line(serde_json::json!({"type": "attendance", "person": "s-01", "action": "check_in"})),
        line(serde_json::json!({"type": "attendance", "person": "s-02", "action": "check_in"})),
    ];
    for c in ["c-01", "c-02", "c-03", "c-04"] {
        lines.push(line(
            serde_json::json!({"type": "attendance", "person": c, "action": "check_in"}),
        ));
    }
    lines
}

/// Whether the journal holds the whole of [`morning`].
fn morning_taken_in(journal: &str) -> bool {
    journal.contains("\"sensor\":\"t-infant\"") && journal.contains("\"person\":\"c-04\"")
}

#[test]
fn a_wall_clock_that_jumps_forward_a_day_is_journalled_and_raises_no_missed_pickup_or_stale_sensor()
{
    let f = Faked::start(roster(), "-1d");
    f.feed(&morning());
    f.journal_until(morning_taken_in);
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
    f.journal_until(|j| j.contains("\"person\":\"s-01\""));
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

/// Today's local date of the test roster's facility (Asia/Shanghai), by the real clock.
fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

#[test]
fn a_forward_jump_over_three_days_summarises_no_skipped_day_and_replays_to_the_same_transitions() {
    let f = Faked::start(roster(), "-3d");
    f.feed(&morning());
    f.journal_until(morning_taken_in);
    f.step_to("+0");
    f.journal_until(|j| j.contains("\"type\":\"clock_jump\""));
    let first = today() - chrono::Duration::days(3);
    // The day the agent ran through before the jump is summarised once its summary is due
    // (it is: the clock is now three days later).
    let end = Instant::now() + LIMIT;
    while !f.summarised_days().contains(&first) {
        assert!(
            Instant::now() < end,
            "no summary of {first}: {:?}",
            f.summarised_days()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(2));
    let days = f.summarised_days();
    for skipped in [1, 2] {
        let d = today() - chrono::Duration::days(skipped);
        assert!(!days.contains(&d), "a summary of skipped {d}: {days:?}");
    }
    // Nothing happened today but the jump landing on it: no summary of today either.
    assert_eq!(days, vec![first]);
    let live = f.transitions();
    for wrong in ["child_not_checked_out", "sensor_stale"] {
        assert!(!live.contains(wrong), "{wrong} raised by the jump:\n{live}");
    }
    // `replay` of the export judges the jump as the agent did.
    let journal = f.journal_until(|_| true);
    let file = f._dir.path().join("journal.jsonl");
    std::fs::write(&file, &journal).unwrap();
    let args = [
        "replay",
        "--config",
        f.config.to_str().unwrap(),
        "--events",
        file.to_str().unwrap(),
    ];
    let (st, replayed, err) = run(&args);
    assert!(st.success(), "replay: {err}");
    assert_eq!(alert_keys(&replayed), alert_keys(&live));
    f.agent.terminate(LIMIT);
}

/// (alert_id, type, state) of every transition in JSON lines.
fn alert_keys(lines: &str) -> Vec<(String, String, String)> {
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
fn after_a_restart_at_1970_the_children_keep_the_age_band_of_the_last_good_date() {
    let mut f = Faked::start(roster(), "+0");
    f.feed(&morning());
    f.journal_until(morning_taken_in);
    // Born 2025-06-15: past 12 months by the real date, so cn-2019's [12,24) band.
    let infant = |s: &serde_json::Value| {
        s["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["room"] == "infant")
            .cloned()
            .unwrap_or_else(|| panic!("no infant room: {s}"))
    };
    let s = status(&f.config);
    assert_eq!(infant(&s)["by_band"], serde_json::json!([0, 4, 0]), "{s}");
    assert_eq!(infant(&s)["required"], 1, "{s}");

    // A board without a battery-backed clock boots at 1970 and the agent starts again.
    let since_1970 = (chrono::Utc::now().date_naive()
        - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
    .num_days();
    f.restart_at(&format!("-{since_1970}d"));
    f.journal_until(|j| j.contains("\"type\":\"clock_jump\""));
    // One caregiver goes: one is enough for four children past 12 months (1:5), not for
    // four in the youngest band (1:3). (A check-out is committed at once; a reading
    // alone would wait for the group commit of routine readings.)
    f.feed(&[line(
        serde_json::json!({"type": "attendance", "person": "s-02", "action": "check_out"}),
    )]);
    f.journal_until(|j| j.contains("\"s-02\",\"action\":\"check_out\""));
    let s = status(&f.config);
    // The fake clock is set back to 1970-01-01 in UTC; the local date printed in the
    // facility's offset (+08:00) is the 2nd from 16:00 UTC on.
    let clock = chrono::DateTime::parse_from_rfc3339(s["clock"].as_str().unwrap()).unwrap();
    assert_eq!(
        clock.with_timezone(&chrono::Utc).date_naive(),
        chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap(),
        "the clock reads 1970: {s}"
    );
    assert_eq!(infant(&s)["by_band"], serde_json::json!([0, 4, 0]), "{s}");
    assert_eq!(infant(&s)["required"], 1, "{s}");
    assert!(
        !f.transitions().contains("ratio_breach"),
        "{}",
        f.transitions()
    );
    assert_eq!(s["clock_synced"], false);
    f.agent.terminate(LIMIT);
}
