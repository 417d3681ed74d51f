//! The configuration files shipped in `config/` are valid, and `check-config` says so — or,
//! for a broken file, lists every problem with its file and line and exits 2.

use std::path::PathBuf;
use std::process::Command;

use nursery_agent_tests::agent::{binary as agent_bin, workspace as workspace_dir};
use nursery_testkit::{Raw, Room, Roster, Staff};

/// Every `*.toml` directly in `<workspace>/config/`, sorted.
fn shipped_configs() -> Vec<PathBuf> {
    let dir = workspace_dir().join("config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_config_file_is_valid() {
    let files = shipped_configs();
    assert!(!files.is_empty(), "no *.toml in config/");
    let mut failures = Vec::new();
    for file in &files {
        if let Err(e) = nursery_agent::config::load(file) {
            failures.push(format!("load({}):\n{e}", file.display()));
        }
        let out = Command::new(agent_bin())
            .arg("check-config")
            .arg("--config")
            .arg(file)
            .output()
            .expect("run nursery-agent check-config");
        if out.status.code() != Some(0) {
            failures.push(format!(
                "check-config --config {} exited {:?}:\n{}",
                file.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        } else {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                stdout.contains("ok"),
                "check-config --config {} printed no summary: {stdout:?}",
                file.display()
            );
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// Four mistakes of different kinds: syntax-level shape (unknown key), a bad value, a
/// dangling reference and a semantic rule. The kit writes one key per line, so the lines
/// below are where each mistake stands.
fn broken() -> String {
    Roster::new()
        .facility("310115-0042", "Sunflower")
        .room(Room::new("infant", "Infants").set("capacty", 10))
        .staff(Staff::caregiver("s-01", "Wang", "babies"))
        .rule("ratio_grace", "a minute")
        .rule("temperature", Raw("{ min_c = 28.0, max_c = 18.0 }"))
        .toml()
}

#[test]
fn a_broken_config_makes_check_config_exit_2_and_print_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, broken()).unwrap();

    let out = Command::new(agent_bin())
        .arg("check-config")
        .arg("--config")
        .arg(&file)
        .output()
        .expect("run nursery-agent check-config");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");

    let f = file.display();
    let want = [
        format!("{f}:12: rooms[0].capacty: unknown key"),
        format!("{f}:18: staff[0].room: unknown room `babies`"),
        format!("{f}:21: rules.ratio_grace: invalid duration `a minute`"),
        format!("{f}:22: rules.temperature.max_c: max_c (18) must be greater than min_c (28)"),
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), want.len(), "stderr:\n{stderr}");
    for (line, want) in lines.iter().zip(&want) {
        assert!(
            line.starts_with(want.as_str()),
            "expected {want:?}\n  got {line:?}"
        );
    }

    // The library says the same, problem for problem.
    let err = nursery_agent::config::load(&file).unwrap_err();
    assert_eq!(err.to_string(), stderr.trim_end());
}

/// The kit's rosters are what the agent's own loader accepts, so a test built on them
/// tests the agent and not a typo in the roster.
#[test]
fn the_test_kit_s_rosters_are_valid_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let sunflower = Roster::sunflower()
        .children("infant", &["2025-06-15", "2025-06-15", "2025-03-02"])
        .children("toddler", &["2024-09-01"])
        .write(dir.path());
    let cfg = nursery_agent::config::load(&sunflower).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.facility.name, "向日葵托育园");
    assert_eq!(
        (
            cfg.rooms.len(),
            cfg.doors.len(),
            cfg.readers.len(),
            cfg.sensors.len()
        ),
        (2, 2, 3, 1)
    );
    assert_eq!(
        (cfg.staff.len(), cfg.children.len(), cfg.guardians.len()),
        (4, 4, 2)
    );
    assert_eq!(cfg.children[3].room, "toddler");

    let page = nursery_agent_tests::page::write_config(dir.path());
    let cfg = nursery_agent::config::load(&page).unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.staff[0].pin_hash.is_some() && cfg.staff[1].pin_hash.is_none());
    assert_eq!(cfg.storage.dir, dir.path().join("state"));
    assert!(!cfg.mqtt.enabled);
}
