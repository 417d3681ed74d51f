//! Loader tests: each names a mistake someone will make in a real file and checks that it
//! is reported with the right key, line and a message that says what to write instead.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

mod certificates;
mod files;
mod hardware;
mod health;
mod ids;
mod odds;
mod references;
mod rules;
mod shape;
mod wording;

/// A small valid file; tests change one thing in it.
const BASE: &str = r#"
[facility]
id = "310115-0042"
name = "Sunflower"
timezone = "Asia/Shanghai"
ratio_preset = "cn-2019"
open = "07:30"
close = "18:00"

[[rooms]]
id = "infant"
name = "Infants"

[[rooms]]
id = "toddler"
name = "Toddlers"
capacity = 15

[[doors]]
id = "entrance"

[[readers]]
id = "entrance-reader"
purpose = "access"
door = "entrance"

[[sensors]]
id = "t-infant"
room = "infant"

[[staff]]
id = "s-01"
name = "Wang"
card = "10001"
role = "caregiver"
room = "infant"

[[children]]
id = "c-01"
name = "Ming"
birth_date = "2025-05-20"
room = "infant"
guardians = ["g-01"]

[[guardians]]
id = "g-01"
name = "Li"
card = "20001"
"#;

const ORIGIN: &str = "/etc/nursery/agent.toml";

fn problems(text: &str) -> Vec<Problem> {
    match parse(text, Path::new(ORIGIN)) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems,
    }
}

fn ok(text: &str) -> Config {
    match parse(text, Path::new(ORIGIN)) {
        Ok(cfg) => cfg,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// `BASE` with `from` replaced by `to`; `from` must occur exactly once.
fn with(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur once in BASE"
    );
    BASE.replacen(from, to, 1)
}

/// The 1-based line of the only line of `text` containing `needle`.
fn line(text: &str, needle: &str) -> usize {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "`{needle}` must be on exactly one line");
    hits[0]
}

/// Asserts that `text` has exactly one problem, at `key` on line `at`, whose message
/// contains `says`.
fn only(text: &str, key: &str, at: usize, says: &str) {
    let found = problems(text);
    let listed = found
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(found.len(), 1, "expected one problem, got:\n{listed}");
    let p = &found[0];
    assert_eq!(p.key, key, "{listed}");
    assert_eq!(p.line, Some(at), "{listed}");
    assert!(p.message.contains(says), "`{says}` not in: {listed}");
    assert_eq!(p.file, PathBuf::from(ORIGIN));
}

const MQTT_BASE: &str = r#"
[facility]
id = "f-1"
name = "n"
timezone = "Asia/Shanghai"
ratio_preset = "cn-2019"
open = "07:30"
close = "18:00"

[[rooms]]
id = "r1"
name = "r1"
"#;
