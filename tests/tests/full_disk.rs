//! A full disk is survivable (issue 10.1): the storage directory on a real, small file
//! system — a 4 MiB tmpfs — filled with a ballast file while the real binary runs. The
//! agent must not exit; alerts must reach the console and the staff page while the
//! journal cannot be written; and once space returns, the journal must hold every event
//! with its own `ts` (none re-stamped) and the transitions `replay` gives for the input.
//!
//! Mounting needs root (or CAP_SYS_ADMIN); without it the test says SKIPPED and passes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use nursery_agent_tests::agent::{self, Agent};
use nursery_agent_tests::page::{self, request};
use nursery_testkit::ev;
use serde_json::Value;

/// A tmpfs of `size` at `dir`, unmounted on drop (also when the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Tmpfs {
    /// A 4 MiB tmpfs at `dir`, or `None` after saying the test `name` is SKIPPED (mounting
    /// needs root).
    fn mount_or_skip(dir: &Path, name: &str) -> Option<Tmpfs> {
        match Tmpfs::mount(dir, "4m") {
            Ok(fs) => Some(fs),
            Err(e) => {
                eprintln!("SKIPPED: {name}: cannot mount a tmpfs ({e}); run as root");
                println!("SKIPPED: cannot mount a tmpfs ({e})");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (an agent not reaped yet): detach it, it goes when unused.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Fills the file system holding `path` with a ballast file until it refuses a byte.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let mut written = 0u64;
    for chunk in [64 * 1024, 4096, 512, 1] {
        let buf = vec![0u8; chunk];
        while f.write_all(&buf).is_ok() {
            written += chunk as u64;
        }
    }
    let _ = f.sync_all();
    written
}

fn now_ts() -> String {
    Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// Appends lines, each stamped now (the agent refuses lines far ahead and re-stamps lines
/// behind its clock: stamping as they are written is how a terminal feeds it).
fn append(events: &Path, log: &mut Vec<String>, lines: impl IntoIterator<Item = String>) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(events)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
        log.push(l);
    }
    f.flush().unwrap();
}

fn journal_state(config: &Path) -> Value {
    let (st, out, err) = agent::run(&["status", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "status failed while the disk is full: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["journal"].clone()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < end, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn lines_of(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// The transitions of the rules (not the daemon's own `storage_pressure`), as
/// comparable text.
fn rule_transitions(text: &str) -> Vec<String> {
    lines_of(text)
        .into_iter()
        .filter(|t| t["type"] != "storage_pressure")
        .map(|t| t.to_string())
        .collect()
}

#[test]
fn a_full_disk_does_not_stop_the_agent_and_the_journal_catches_up_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let Some(_fs) = Tmpfs::mount_or_skip(&mnt, "a_full_disk_does_not_stop_the_agent") else {
        return;
    };
    let config = page::roster(dir.path())
        .storage(&mnt.join("state"))
        .facility_set("locale", "en")
        .rule("door_grant_window", "1s")
        .write(dir.path());
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let mut a = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    let port = a.page_port(Duration::from_secs(20));
    let mut input = Vec::new();

    // Before: a ratio breach (one caregiver, four babies, no grace).
    let mut morning = vec![ev::check_in(now_ts(), "s-01")];
    for c in 1..=4 {
        morning.push(ev::check_in(now_ts(), &format!("c-0{c}")));
    }
    append(&events, &mut input, morning);
    a.wait_for_line("ratio", Duration::from_secs(10));

    // The disk fills up.
    let ballast = mnt.join("ballast");
    let filled = fill(&ballast);
    println!("ballast: {filled} bytes");
    let started = Instant::now();
    // Routine events until the journal's writes fail (SQLite has some room left in its
    // WAL and in free pages first).
    wait_for("journal failing", Duration::from_secs(15), || {
        let lines: Vec<String> = (0..50)
            .map(|_| ev::exit_button(now_ts(), "entrance"))
            .collect();
        append(&events, &mut input, lines);
        std::thread::sleep(Duration::from_millis(200));
        journal_state(&config)["state"] == "failing"
    });
    a.wait_for_line("journal: writes fail", Duration::from_secs(5));
    a.wait_for_line(
        "local storage nearly full: storage",
        Duration::from_secs(10),
    );

    // While it is full: a forced door and an unknown card, on the console and the page.
    std::thread::sleep(Duration::from_millis(1100)); // past the grant of the last exit button
    append(
        &events,
        &mut input,
        [
            ev::door_open(now_ts(), "entrance"),
            ev::badge(now_ts(), "attendance-reader", "99999"),
        ],
    );
    a.wait_for_line("door forced", Duration::from_secs(10));
    a.wait_for_line("unknown card", Duration::from_secs(10));
    let open_alerts = || -> Vec<String> {
        let view = request(port, "GET", "/api/view", &[], None).json();
        view["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["type"].as_str().map(str::to_owned))
            .collect()
    };
    let mut open = Vec::new();
    wait_for(
        "door_forced on the page while full",
        Duration::from_secs(5),
        || {
            open = open_alerts();
            open.iter().any(|t| t == "door_forced")
        },
    );
    assert!(
        open.iter().any(|t| t == "ratio_breach"),
        "page while full: {open:?}"
    );
    // The page's system line says that what it shows is not yet recorded.
    let view = request(port, "GET", "/api/view", &[], None).json();
    assert_eq!(
        view["operations"]["journal"]["state"], "failing",
        "{}",
        view["operations"]
    );
    assert!(
        view["operations"]["journal"]["held"].as_u64().unwrap_or(0) > 0,
        "{}",
        view["operations"]
    );
    append(&events, &mut input, [ev::door_closed(now_ts(), "entrance")]);
    let held = journal_state(&config);
    println!("while full: {held}");
    assert!(held["held"].as_u64().unwrap() > 0, "{held}");
    assert!(
        a.child.try_wait().unwrap().is_none(),
        "the agent is still running"
    );

    // Space returns.
    std::fs::remove_file(&ballast).unwrap();
    wait_for("journal ok again", Duration::from_secs(15), || {
        journal_state(&config)["state"] == "ok"
    });
    a.wait_for_line("journal: writable again", Duration::from_secs(5));
    println!("full for {:?}", started.elapsed());
    // The storage alert resolves once the headroom is back.
    a.wait_for_line("resolved [", Duration::from_secs(10));
    let rc = a.terminate(Duration::from_secs(10));
    assert!(rc.success(), "clean stop: {rc:?}");

    // Every event as it came, with its own ts, in order; nothing re-stamped.
    let cfg = config.to_str().unwrap();
    let (st, exported, err) = agent::run(&["export", "--config", cfg]);
    assert!(st.success(), "{err}");
    let journalled: Vec<Value> = lines_of(&exported)
        .into_iter()
        .filter(|e| e["type"] != "agent_started")
        .collect();
    let fed: Vec<Value> = input
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        journalled.len(),
        fed.len(),
        "every event taken in is journalled"
    );
    let restamped = journalled
        .iter()
        .zip(&fed)
        .filter(|(j, f)| j["ts"] != f["ts"])
        .count();
    assert_eq!(restamped, 0, "no event re-stamped");
    assert_eq!(journalled, fed);

    // The journal's transitions are those `replay` gives for the same events.
    let log = dir.path().join("journal.jsonl");
    std::fs::write(&log, &exported).unwrap();
    let last = fed.last().unwrap()["ts"].as_str().unwrap().to_string();
    let (_, replayed, err) = agent::run(&[
        "replay",
        "--config",
        cfg,
        "--events",
        log.to_str().unwrap(),
        "--until",
        &last,
    ]);
    let (st, transitions, _) = agent::run(&["export", "--config", cfg, "--transitions"]);
    assert!(st.success());
    let live: Vec<String> = rule_transitions(&transitions)
        .into_iter()
        .filter(|t| {
            let v: Value = serde_json::from_str(t).unwrap();
            chrono::DateTime::parse_from_rfc3339(v["ts"].as_str().unwrap()).unwrap()
                <= chrono::DateTime::parse_from_rfc3339(&last).unwrap()
        })
        .collect();
    assert_eq!(live, rule_transitions(&replayed), "replay: {err}");
    let storage: Vec<Value> = lines_of(&transitions)
        .into_iter()
        .filter(|t| t["type"] == "storage_pressure")
        .collect();
    assert!(
        storage
            .iter()
            .any(|t| t["subject"] == "storage" && t["severity"] == "critical"),
        "the full disk is journalled as critical storage_pressure: {storage:?}"
    );
    println!(
        "events fed {}, journalled {}, re-stamped {restamped}; rule transitions {}",
        fed.len(),
        journalled.len(),
        live.len()
    );
}

#[test]
fn a_restart_on_a_full_disk_runs_degraded_instead_of_exiting_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let Some(_fs) = Tmpfs::mount_or_skip(&mnt, "a_restart_on_a_full_disk") else {
        return;
    };
    let config = page::roster(dir.path())
        .storage(&mnt.join("state"))
        .facility_set("locale", "en")
        .rule("door_grant_window", "1s")
        .write(dir.path());
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let mut input = Vec::new();
    let mut a = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    a.wait_for_line("staff page: http://", Duration::from_secs(20));
    append(&events, &mut input, [ev::check_in(now_ts(), "s-01")]);
    wait_for("the check-in journalled", Duration::from_secs(10), || {
        agent::status(&config)["occupancy"]["infant"]
            .as_array()
            .is_some()
    });
    assert!(a.terminate(Duration::from_secs(10)).success());

    // Stopped cleanly (the WAL folded back and removed), then the disk fills up, and a
    // line comes while the agent is down: the degraded start takes it in (held), and the
    // feed must read on after it, not take it a second time.
    let ballast = mnt.join("ballast");
    fill(&ballast);
    append(&events, &mut input, [ev::check_in(now_ts(), "s-02")]);
    let mut a = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    let port = a.page_port(Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1100));
    append(&events, &mut input, [ev::door_open(now_ts(), "entrance")]);
    a.wait_for_line("door forced", Duration::from_secs(10));
    wait_for("door_forced on the page", Duration::from_secs(5), || {
        let view = request(port, "GET", "/api/view", &[], None).json();
        view["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["type"] == "door_forced"))
    });
    assert_eq!(journal_state(&config)["state"], "failing");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        a.child.try_wait().unwrap().is_none(),
        "still running on a full disk"
    );

    std::fs::remove_file(&ballast).unwrap();
    wait_for("journal ok again", Duration::from_secs(15), || {
        journal_state(&config)["state"] == "ok"
    });
    append(&events, &mut input, [ev::door_closed(now_ts(), "entrance")]);
    a.wait_for_line("resolved [CRITICAL] door forced", Duration::from_secs(10));
    assert!(a.terminate(Duration::from_secs(10)).success());
    let (st, exported, err) = agent::run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    let journalled: Vec<Value> = lines_of(&exported)
        .into_iter()
        .filter(|e| e["type"] != "agent_started")
        .collect();
    let fed: Vec<Value> = input
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(journalled, fed, "every event, with its own ts");
    let starts = lines_of(&exported)
        .into_iter()
        .filter(|e| e["type"] == "agent_started")
        .count();
    assert_eq!(starts, 2, "the degraded start is journalled too");
}

/// The alert messages the platform received, as their envelopes' (seq, body).
fn alert_messages(platform: &nursery_agent_tests::broker::Collector) -> Vec<(u64, Value)> {
    platform
        .on("/alerts")
        .iter()
        .map(|m| m.json())
        .map(|e| (e["seq"].as_u64().unwrap(), e["body"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_said_upstream_and_what_happened_meanwhile_follows_in_seq_order() {
    use nursery_agent_tests::broker::{Broker, Collector};
    use tokio::task::block_in_place;
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let Some(_fs) = Tmpfs::mount_or_skip(&mnt, "a_full_disk_is_said_upstream") else {
        return;
    };
    let broker = Broker::start();
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    let config = page::roster(dir.path())
        .storage(&mnt.join("state"))
        .rule("door_grant_window", "1s")
        .set("mqtt", "enabled", true)
        .set("mqtt", "host", "127.0.0.1")
        .set("mqtt", "port", i64::from(broker.port))
        .set("mqtt", "reconnect_max", "2s")
        .write(dir.path());
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let mut input = Vec::new();
    let a = block_in_place(|| {
        let mut a = Agent::start(&config, &["--events", events.to_str().unwrap()]);
        a.wait_for_line("staff page: http://", Duration::from_secs(20));
        let mut morning = vec![ev::check_in(now_ts(), "s-01")];
        for c in 1..=4 {
            morning.push(ev::check_in(now_ts(), &format!("c-0{c}")));
        }
        append(&events, &mut input, morning);
        a
    });
    platform
        .wait_until(Duration::from_secs(10), |s| {
            s.iter().any(|m| m.topic.ends_with("/alerts"))
        })
        .await;

    let ballast = mnt.join("ballast");
    block_in_place(|| {
        fill(&ballast);
        wait_for("journal failing", Duration::from_secs(15), || {
            let lines: Vec<String> = (0..50)
                .map(|_| ev::exit_button(now_ts(), "entrance"))
                .collect();
            append(&events, &mut input, lines);
            std::thread::sleep(Duration::from_millis(200));
            journal_state(&config)["state"] == "failing"
        });
    });
    // The retained status says so while the disk is full.
    platform
        .wait_until(Duration::from_secs(10), |s| {
            s.iter()
                .any(|m| m.topic.ends_with("/status") && m.json()["journal"] == "failing")
        })
        .await;
    block_in_place(|| {
        std::thread::sleep(Duration::from_millis(1100));
        append(&events, &mut input, [ev::door_open(now_ts(), "entrance")]);
        std::thread::sleep(Duration::from_millis(500));
        append(&events, &mut input, [ev::door_closed(now_ts(), "entrance")]);
        std::thread::sleep(Duration::from_millis(500));
        std::fs::remove_file(&ballast).unwrap();
        wait_for("journal ok again", Duration::from_secs(15), || {
            journal_state(&config)["state"] == "ok"
        });
    });
    // Once written, what happened while full goes up, in seq order, after the alerts before.
    platform
        .wait_until(Duration::from_secs(15), |_| {
            let alerts = alert_messages(&platform);
            let has = |kind: &str, state: &str, subject: &str| {
                alerts.iter().any(|(_, b)| {
                    b["type"] == kind && b["state"] == state && b["subject"] == subject
                })
            };
            has("door_forced", "resolved", "entrance")
                && has("storage_pressure", "raised", "storage")
                && has("storage_pressure", "resolved", "storage")
        })
        .await;
    platform
        .wait_until(Duration::from_secs(10), |s| {
            s.iter()
                .rev()
                .find(|m| m.topic.ends_with("/status"))
                .is_some_and(|m| m.json()["journal"] == "ok")
        })
        .await;
    let alerts = alert_messages(&platform);
    let seqs: Vec<u64> = alerts.iter().map(|(s, _)| *s).collect();
    let mut got = seqs.clone();
    got.sort_unstable();
    got.dedup();
    let expected: Vec<u64> = (1..=*got.last().unwrap()).collect();
    assert_eq!(got, expected, "no gap in seq: {seqs:?}");
    let raised = alerts
        .iter()
        .find(|(_, b)| b["type"] == "storage_pressure" && b["state"] == "raised")
        .unwrap();
    assert_eq!(raised.1["severity"], "critical", "{}", raised.1);
    assert_eq!(raised.1["details"]["journal"], "failing", "{}", raised.1);
    assert!(
        raised.1["details"]["headroom_bytes"].is_u64(),
        "{}",
        raised.1
    );
    let rc = block_in_place(|| a.terminate(Duration::from_secs(10)));
    assert!(rc.success());
}

/// The journal's health as the staff page shows it (`operations.journal`).
fn page_journal(port: u16) -> Value {
    request(port, "GET", "/api/view", &[], None).json()["operations"]["journal"].clone()
}

#[test]
fn a_first_start_on_a_full_disk_runs_degraded_and_a_stop_keeps_what_the_page_recorded_for_the_next_start(
) {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let Some(_fs) = Tmpfs::mount_or_skip(&mnt, "a_first_start_on_a_full_disk") else {
        return;
    };
    // The board's SD is full before the agent ever ran; what a stop holds goes to RAM
    // (here a directory beside the test, as the unit's RuntimeDirectory would be).
    let ballast = mnt.join("ballast");
    fill(&ballast);
    let spill = dir.path().join("run");
    let config = page::roster(dir.path())
        .storage(&mnt.join("state"))
        .set("storage", "spill_dir", spill.to_str().unwrap())
        .facility_set("locale", "en")
        .write(dir.path());
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let mut input = Vec::new();
    let mut a = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    let port = a.page_port(Duration::from_secs(20));
    assert_eq!(
        page_journal(port)["state"],
        "failing",
        "{}",
        page_journal(port)
    );
    // Staff see on the page too that the storage is full, not only on the console.
    page::wait_for_alert(port, "storage_pressure", Duration::from_secs(15));
    // `status` from the installer's laptop says why there is nothing to show.
    let s = agent::status(&config);
    assert!(
        s["error"].as_str().is_some_and(|e| e.contains("is empty")),
        "{s}"
    );

    // One caregiver, four babies: a ratio breach, on the console and the page.
    let mut lines = vec![ev::check_in(now_ts(), "s-01")];
    lines.extend((1..=4).map(|c| ev::check_in(now_ts(), &format!("c-0{c}"))));
    append(&events, &mut input, lines);
    a.wait_for_line("raised [CRITICAL] staff ratio", Duration::from_secs(10));
    let id = page::wait_for_alert(port, "ratio_breach", Duration::from_secs(5));
    // A caregiver acknowledges it on the page: only this agent's memory knows that.
    let (cookie, csrf) = page::login(port, "s-01", nursery_testkit::PIN);
    let r = request(
        port,
        "POST",
        &format!("/api/alerts/{id}/ack"),
        &[
            ("Content-Type", "application/json"),
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
        ],
        Some(b"{}"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(page_journal(port)["state"], "failing");

    // Stopped (a restart by systemd, an upgrade) while the disk is still full.
    let pid = a.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let said = a.wait_for_line(
        "journal: stopping while writes fail",
        Duration::from_secs(10),
    );
    assert!(
        said.contains("6 held events kept in") && said.contains("for the next start"),
        "{said}"
    );
    assert!(a.terminate(Duration::from_secs(10)).success());
    let kept = std::fs::read_to_string(spill.join("held.jsonl")).unwrap();
    let kept: Vec<Value> = lines_of(&kept);
    // A header that says how far the events file was read, then the events in order.
    assert!(
        kept[0]["events_read_to"]["position"].is_string(),
        "{kept:?}"
    );
    let kept = &kept[1..];
    assert_eq!(kept.len(), 6, "{kept:?}");
    assert_eq!(kept[5]["type"], "acknowledge", "{kept:?}");

    // Space returns; the next start journals all of it, each event with its own ts.
    std::fs::remove_file(&ballast).unwrap();
    let mut a = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    a.wait_for_line(
        "6 events held at the last stop are journalled",
        Duration::from_secs(20),
    );
    assert!(
        !spill.join("held.jsonl").exists(),
        "the held file is deleted once journalled"
    );
    // A line after the start: once it is in, the feed has read on (from after the held
    // lines, or it would have taken them a second time).
    append(&events, &mut input, [ev::check_out(now_ts(), "c-01")]);
    wait_for("the check-out taken in", Duration::from_secs(10), || {
        agent::status(&config)["occupancy"]["infant"]
            .as_array()
            .is_some_and(|a| !a.iter().any(|p| p == "c-01"))
    });
    assert!(a.terminate(Duration::from_secs(10)).success());
    let (st, exported, err) = agent::run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    let journalled: Vec<Value> = lines_of(&exported)
        .into_iter()
        .filter(|e| e["type"] != "agent_started")
        .collect();
    let fed: Vec<Value> = input
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut expected = fed[..5].to_vec();
    expected.push(kept[5].clone());
    expected.push(fed[5].clone());
    assert_eq!(
        journalled, expected,
        "each event once, in the order it came, with its own ts"
    );
    let (st, transitions, err) = agent::run(&[
        "export",
        "--transitions",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(st.success(), "{err}");
    let acked: Vec<Value> = lines_of(&transitions)
        .into_iter()
        .filter(|t| t["type"] == "ratio_breach" && t["state"] == "acknowledged")
        .collect();
    assert_eq!(acked.len(), 1, "{transitions}");
    assert_eq!(acked[0]["details"]["by"], "s-01");
}

#[test]
fn held_events_a_start_cannot_journal_are_held_again_and_written_once_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let Some(_fs) = Tmpfs::mount_or_skip(&mnt, "held_events_a_start_cannot_journal") else {
        return;
    };
    let ballast = mnt.join("ballast");
    fill(&ballast);
    let spill = dir.path().join("run");
    let config = page::roster(dir.path())
        .storage(&mnt.join("state"))
        .set("storage", "spill_dir", spill.to_str().unwrap())
        .facility_set("locale", "en")
        .write(dir.path());
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let mut input = Vec::new();
    let start = || {
        let mut a = Agent::start(&config, &["--events", events.to_str().unwrap()]);
        let port = a.page_port(Duration::from_secs(20));
        (a, port)
    };
    let (mut a, _) = start();
    std::thread::sleep(Duration::from_millis(1100));
    append(&events, &mut input, [ev::door_open(now_ts(), "entrance")]);
    a.wait_for_line("raised [CRITICAL] door forced", Duration::from_secs(10));
    assert!(a.terminate(Duration::from_secs(10)).success());
    assert!(spill.join("held.jsonl").exists());

    // Started again on the still-full disk: the door is still forced open on the page,
    // from the held events alone.
    let (mut a, port) = start();
    a.wait_for_line(
        "1 events held at the last stop are held again",
        Duration::from_secs(10),
    );
    assert!(
        spill.join("held.jsonl").exists(),
        "kept while the journal cannot take it"
    );
    page::wait_for_alert(port, "door_forced", Duration::from_secs(5));
    append(&events, &mut input, [ev::door_closed(now_ts(), "entrance")]);
    a.wait_for_line("resolved [CRITICAL] door forced", Duration::from_secs(10));

    // Space returns while it runs: everything is written, and the file goes with it.
    std::fs::remove_file(&ballast).unwrap();
    wait_for("journal ok again", Duration::from_secs(15), || {
        page_journal(port)["state"] == "ok"
    });
    assert!(
        !spill.join("held.jsonl").exists(),
        "the held file is deleted once what it held is written"
    );
    assert!(a.terminate(Duration::from_secs(10)).success());
    assert!(
        !spill.join("held.jsonl").exists(),
        "nothing held at the stop"
    );
    let (st, exported, err) = agent::run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    let journalled: Vec<Value> = lines_of(&exported)
        .into_iter()
        .filter(|e| e["type"] != "agent_started")
        .collect();
    let fed: Vec<Value> = input
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(journalled, fed, "each event once, with its own ts");
}
