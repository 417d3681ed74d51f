//! Whether the journal can be written, for the people and the platform watching the agent:
//! what `nursery-agent status` prints as `journal` and the MQTT `status` message carries as
//! `journal` and `journal_held`.
//!
//! When a write fails (a full disk: `SQLITE_FULL`, an I/O error), the core holds what it
//! could not write in memory and retries (`daemon::core::hold`); this is how it says so.
//! `status` runs in another process and reads the journal read-only, but a journal that
//! cannot be written cannot carry the news either: so the core also writes it to a small
//! file beside the journal, [`HEALTH_FILE`], allocated once at [`HEALTH_FILE_BYTES`] while
//! there is room and then rewritten **in place** — overwriting blocks the file already has
//! needs no free space, on ext4 as on tmpfs.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// File name of the health record inside `storage.dir`.
pub const HEALTH_FILE: &str = "journal-health.json";
/// The record's fixed size: JSON padded with spaces.
pub const HEALTH_FILE_BYTES: usize = 1024;

/// The journal's state, as `status` and the staff's tools read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalHealth {
    /// `ok`, or `failing`: writes fail and what could not be written is held in memory.
    pub state: String,
    /// Inputs held in memory for the journal (events with their original `ts` and line,
    /// local commands, readings of the storage), written in order once writes succeed.
    pub held: u64,
    /// Inputs taken in (and judged) while the journal was failing that did not fit in
    /// memory: they are missing from the journal. Since the agent started.
    pub not_held: u64,
    /// Since when writes fail (UTC), if they do.
    pub since: Option<DateTime<Utc>>,
    /// The last write error, if writes fail.
    pub error: Option<String>,
    /// When the record was written (UTC): a record much older than a few seconds was left
    /// by an agent that is not running.
    pub updated: DateTime<Utc>,
}

impl JournalHealth {
    pub fn ok(now: DateTime<Utc>) -> JournalHealth {
        JournalHealth {
            state: "ok".into(),
            held: 0,
            not_held: 0,
            since: None,
            error: None,
            updated: now,
        }
    }

    pub fn failing(&self) -> bool {
        self.state != "ok"
    }
}

/// Writes `h` over the record in `dir`, in place (see the module docs). The error is
/// returned for the caller to log; nothing depends on the file.
pub fn write(dir: &Path, h: &JournalHealth) -> std::io::Result<()> {
    let mut text = serde_json::to_string(h).unwrap_or_default();
    if text.len() >= HEALTH_FILE_BYTES {
        // Only the error can be long: shorten it rather than grow the file.
        let mut short = h.clone();
        short.error = h
            .error
            .as_ref()
            .map(|e| e.chars().take(HEALTH_FILE_BYTES / 2).collect());
        text = serde_json::to_string(&short).unwrap_or_default();
    }
    let mut bytes = text.into_bytes();
    bytes.resize(HEALTH_FILE_BYTES - 1, b' ');
    bytes.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(dir.join(HEALTH_FILE))?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&bytes)?;
    f.set_len(HEALTH_FILE_BYTES as u64)
}

/// The record in `dir`, if there is a readable one.
pub fn read(dir: &Path) -> Option<JournalHealth> {
    let mut text = String::new();
    std::fs::File::open(dir.join(HEALTH_FILE))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    serde_json::from_str(text.trim_end()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_rewritten_in_place_at_a_fixed_size_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let mut h = JournalHealth::ok(now);
        write(dir.path(), &h).unwrap();
        h.state = "failing".into();
        h.held = 42;
        h.error = Some("x".repeat(5000));
        write(dir.path(), &h).unwrap();
        let len = std::fs::metadata(dir.path().join(HEALTH_FILE))
            .unwrap()
            .len();
        assert_eq!(len, HEALTH_FILE_BYTES as u64);
        let back = read(dir.path()).unwrap();
        assert_eq!((back.state.as_str(), back.held), ("failing", 42));
        assert!(back.error.unwrap().len() < HEALTH_FILE_BYTES);
    }
}
