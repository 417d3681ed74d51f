//! A day of the duty tests (sleep checks, health checks, emergencies): event lines on
//! 2026-03-02 in +08:00, `replay` of a file of them, and an events file the daemon follows.

use std::io::Write;
use std::path::Path;

use crate::agent::run;

/// `replay --config CONFIG --events LOG`: (exit code, stdout, stderr).
pub fn replay(config: &Path, log: &Path) -> (i32, String, String) {
    let (st, out, err) = run(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--events",
        log.to_str().unwrap(),
    ]);
    (st.code().unwrap_or(-1), out, err)
}

/// One event line at `ts` (`"HH:MM:SS"`) on 2026-03-02 in +08:00; `body` holds the rest
/// of the object's fields, as JSON text.
pub fn line(ts: &str, body: &str) -> String {
    format!("{{\"ts\":\"2026-03-02T{ts}+08:00\",{body}}}\n")
}

/// Appends `text` to the events file at `path` (created if missing).
pub fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}
