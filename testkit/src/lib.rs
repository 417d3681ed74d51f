//! The one test kit of the workspace: a roster builder that writes configuration TOML and
//! helpers that write event lines, for the unit tests inside `nursery-agent`, the
//! integration tests in `tests/` and the benches alike.
//!
//! It does not depend on `nursery-agent`: it produces text, and each user reads it with the
//! agent it has (`config::parse`/`config::load`, `toml::from_str`, `Event::parse`, or the
//! real binary), so a unit test and an integration test see the same roster through the
//! same loader the installer's file goes through.
//!
//! ```
//! use nursery_testkit::{ev, Child, Roster};
//! let text = Roster::sunflower()
//!     .children("infant", &["2025-06-15"; 4])
//!     .child(Child::new("c-05", "小明", "2025-03-02", "infant").guardians(["g-02"]))
//!     .rule("ratio_grace", "0s")
//!     .toml();
//! assert!(text.contains("[[children]]\nid = \"c-05\"\nname = \"小明\""));
//! let day = ev::Day::new("2026-03-02", "+08:00");
//! let log = ev::log(&[
//!     ev::check_in(day.at("07:40"), "s-01"),
//!     ev::pick_up(day.at("16:50"), "c-01", "g-01"),
//! ]);
//! assert_eq!(log.lines().count(), 2);
//! ```

pub mod ev;
mod roster;

use std::path::{Path, PathBuf};

pub use roster::{quote, Child, Door, Guardian, Raw, Reader, Room, Roster, Sensor, Staff, Toml};

/// A PIN for test staff, and its argon2id hash for `pin_hash` (the one in `config/demo.toml`).
pub const PIN: &str = "1234";
pub const PIN_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$/3wN1wh3k2D0gmT4hm9jbg$gZhKevQ5zhOzGFNmKaI/CqnJCq/RQuaaEThjZOuxwQA";

/// A configuration file in a temporary directory that lives as long as this value.
#[derive(Debug)]
pub struct TempConfig {
    pub dir: tempfile::TempDir,
    /// `<dir>/agent.toml`.
    pub path: PathBuf,
}

/// Writes `text` as `dir/agent.toml`; returns its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// Writes `lines` as an event log `dir/name`, one line each; returns its path.
pub fn write_events<S: AsRef<str>>(dir: &Path, name: &str, lines: &[S]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, ev::log(lines))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

#[cfg(test)]
mod tests;
