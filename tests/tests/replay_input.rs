//! `nursery-agent replay` on hostile logs (issue 11.2–11.4, 11.11): bytes that are not
//! UTF-8, a 50 MB line, a byte-order mark, far-apart timestamps and one mistyped year. Every
//! bad line is rejected with its line number and the replay goes on (contract section 1).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{binary, run, workspace};
use nursery_testkit::ev;

fn example() -> PathBuf {
    workspace().join("config/example.toml")
}

fn replay(log: &Path) -> (i32, String, String) {
    let (st, out, err) = run(&[
        "replay",
        "--config",
        example().to_str().unwrap(),
        "--events",
        log.to_str().unwrap(),
    ]);
    (st.code().unwrap_or(-1), out, err)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_line_of_invalid_utf8_is_rejected_with_its_number_and_the_lines_after_it_are_judged() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Vec::new();
    log.extend(ev::door_open("2026-03-02T08:00:00+08:00", "entrance").into_bytes());
    log.push(b'\n');
    log.extend(b"{\"ts\":\"2026-03-02T08:00:30+08:00\",\"type\":\"badge\",\"reader\":\"entrance-reader\",\"card\":\"\xff\xfe\"}\n");
    log.extend(ev::door_closed("2026-03-02T08:03:00+08:00", "entrance").into_bytes());
    log.push(b'\n');
    let (code, out, err) = replay(&write(dir.path(), "bad.jsonl", &log));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("line 2: not UTF-8"), "{err}");
    // Line 3 was judged: the forced door is resolved when it closes.
    assert!(
        out.lines()
            .any(|l| l.contains("door_forced") && l.contains("\"resolved\"")),
        "{out}"
    );
}

#[test]
fn a_byte_order_mark_on_line_1_does_not_reject_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = b"\xEF\xBB\xBF".to_vec();
    log.extend(ev::log(&[ev::door_open("2026-03-02T08:00:00+08:00", "entrance")]).into_bytes());
    let (code, out, err) = replay(&write(dir.path(), "bom.jsonl", &log));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("door_forced"), "{out}");
}

/// Resident set size of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_50_mb_line_is_rejected_naming_the_limit_without_being_held_in_memory() {
    // Fed through a pipe, so the agent's memory can be read while it is in the middle of
    // the long line.
    let mut child = Command::new(binary())
        .args(["replay", "--config", example().to_str().unwrap()])
        .args(["--events", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(br#"{"ts":"2026-03-02T08:00:00+08:00","type":"badge","reader":"entrance-reader","card":""#)
        .unwrap();
    let chunk = vec![b'9'; 1 << 20];
    for _ in 0..50 {
        stdin.write_all(&chunk).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let rss = rss_kib(pid);
    println!("replay's resident memory 50 MB into one line: {rss} KiB");
    stdin.write_all(b"\"}\n").unwrap();
    stdin
        .write_all(ev::log(&[ev::door_open("2026-03-02T08:01:00+08:00", "entrance")]).as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 1: a line of") && stderr.contains("longer than the 65536-byte limit"),
        "{stderr}"
    );
    assert!(stdout.contains("door_forced"), "line 2 judged: {stdout}");
    assert!(
        rss < 40 * 1024,
        "{rss} KiB resident while reading a 50 MB line"
    );
}

#[test]
fn events_in_the_years_1_and_9999_replay_in_under_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let log = ev::log(&[
        ev::check_in("0001-01-01T08:00:00+08:00", "s-01"),
        ev::door_open("0001-01-01T08:00:00+08:00", "entrance"),
        ev::door_closed("9999-12-30T08:00:00+08:00", "entrance"),
    ]);
    let path = write(dir.path(), "far.jsonl", log.as_bytes());
    let started = Instant::now();
    let (code, out, err) = replay(&path);
    let took = started.elapsed();
    println!("replay of events in years 1 and 9999: {took:?}");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("door_held_open"), "{out}");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn one_mistyped_year_is_rejected_as_an_implausible_jump_and_the_lines_after_it_are_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = ev::log(&[
        ev::door_open("2026-03-02T08:00:00+08:00", "entrance"),
        ev::door_closed("2056-03-02T08:00:10+08:00", "entrance"),
        ev::door_closed("2026-03-02T08:00:20+08:00", "entrance"),
        ev::door_open("2026-03-02T09:00:00+08:00", "entrance"),
    ]);
    let (code, out, err) = replay(&write(dir.path(), "typo.jsonl", log.as_bytes()));
    assert_eq!(code, 1, "{err}");
    let rejected: Vec<&str> = err.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(rejected.len(), 1, "{err}");
    assert!(
        rejected[0].starts_with("line 2: `ts` 2056-03-02T08:00:10+08:00")
            && rejected[0].contains("implausible jump"),
        "{err}"
    );
    // The door closed at 08:00:20 and forced open again at 09:00.
    let forced = out.lines().filter(|l| l.contains("door_forced")).count();
    assert_eq!(forced, 3, "{out}");
}

#[test]
fn a_gap_of_weeks_confirmed_by_the_next_line_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let log = ev::log(&[
        ev::door_open("2026-01-20T08:00:00+08:00", "entrance"),
        ev::door_closed("2026-01-20T08:00:10+08:00", "entrance"),
        ev::door_open("2026-02-24T08:00:00+08:00", "entrance"),
        ev::door_closed("2026-02-24T08:00:10+08:00", "entrance"),
    ]);
    let (code, out, err) = replay(&write(dir.path(), "holiday.jsonl", log.as_bytes()));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().filter(|l| l.contains("door_forced")).count(),
        4,
        "{out}"
    );
}
