//! The configuration files shipped in `config/` are valid, and `check-config` says so — or,
//! for a broken file, lists every problem with its file and line and exits 2.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{agent_bin, workspace_dir};

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
/// dangling reference and a semantic rule.
const BROKEN: &str = r#"[facility]
id = "310115-0042"
name = "Sunflower"
timezone = "Asia/Shanghai"
ratio_preset = "cn-2019"
open = "07:30"
close = "18:00"

[[rooms]]
id = "infant"
name = "Infants"
capacty = 10

[[staff]]
id = "s-01"
name = "Wang"
role = "caregiver"
room = "babies"

[rules]
ratio_grace = "a minute"
temperature = { min_c = 28.0, max_c = 18.0 }
"#;

#[test]
fn a_broken_config_makes_check_config_exit_2_and_print_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, BROKEN).unwrap();

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
