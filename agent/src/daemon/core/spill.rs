//! What a stop while the journal cannot be written leaves behind, and the next start takes
//! in (see `hold`).
//!
//! While the storage is full the core holds in memory what it could not journal. A stop
//! then (`systemctl restart`, a package upgrade, the watchdog's restart) would lose it. So
//! the stop writes the held events, in the order they came, as event lines to `held.jsonl`
//! under `[storage] spill_dir` (by default systemd's `RuntimeDirectory`, in RAM, so on
//! another file system than the full one): the hardware's door edges and badges, the staff
//! page's acknowledgements, dispositions and checks, the lines of `--events` (a line that
//! came without `ts` is written with the time it was judged at). The file's first line says
//! how far the events file was read, so the next start reads on from there and takes each
//! line once; one file, renamed into place whole, so lines and position never disagree.
//! Under simulation nothing is written (the simulated day resumes as after any stop, and
//! its page events would be out of its clock), and the stop says so.
//!
//! The next start takes the file in first, before the events file's backlog and the start
//! marker, each line with its own `ts`, and deletes it once that start batch is journalled:
//! at once, or, when the journal still cannot be written, as soon as the held start batch
//! is. A stop before that writes the file again with everything then held.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::input::{Input, Resume};
use crate::journal::MetaKey;

/// What [`Core::spill_held`](super::Core::spill_held) did with what was held.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Spilled {
    /// Where they went (`None`: no spill directory is configured).
    pub path: Option<PathBuf>,
    /// Events written to the file.
    pub kept: usize,
    /// Held events of the simulated day: simulated again at the next start.
    pub reread: usize,
    /// Held inputs the next start makes afresh: the clock's ticks, storage readings, clock
    /// jumps and reloads (the file is read again at the start).
    pub afresh: usize,
    /// Held inputs that are lost: platform commands (the platform asks again when no result
    /// comes), rejected lines, and every event when the file could not be written.
    pub lost: usize,
    /// Why the file could not be written, if it could not.
    pub error: Option<String>,
}

/// What to do with a held input at a stop.
pub(super) enum Keep {
    /// Write this line; with how far the events file was read after it, for a line of it.
    Line(String, Option<Position>),
    Reread,
    Afresh,
    Lost,
}

/// How far the events file `events` was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub events: PathBuf,
    pub position: String,
}

/// What to do with `input`, held from a batch judged at `now` (the facility's offset).
pub(super) fn keep(input: &Input, now: DateTime<FixedOffset>) -> Keep {
    match input {
        Input::Hardware(e) | Input::Local { event: e, .. } => Keep::Line(e.to_json_line(), None),
        Input::Line { text, resume } => {
            let at = resume.as_ref().and_then(|r| match &r.key {
                MetaKey::Events(path) => Some(Position {
                    events: path.clone(),
                    position: r.value.clone(),
                }),
                _ => None,
            });
            Keep::Line(stamped(text, now), at)
        }
        Input::Simulated { .. } => Keep::Reread,
        Input::Time(_) | Input::Storage(_) | Input::ClockJump(_) | Input::Reload(_) => Keep::Afresh,
        Input::Command(_) | Input::BadLine { .. } => Keep::Lost,
    }
}

/// `text` with `ts` set to `now` when it is a JSON object without one (live, the core
/// stamped it on arrival; the next start must not stamp it with its own time). Anything
/// else as it is: the start rejects what is not an event, as live.
fn stamped(text: &str, now: DateTime<FixedOffset>) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(text) else {
        return text.to_string();
    };
    if fields.contains_key("ts") {
        return text.to_string();
    }
    // Put in front, leaving the rest of the line as it came.
    let ts = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    let rest = text.trim_start()[1..].trim_start();
    if rest.starts_with('}') {
        format!("{{\"ts\":\"{ts}\"}}")
    } else {
        format!("{{\"ts\":\"{ts}\",{rest}")
    }
}

/// The file's first line: how far the events file had been read (`null`: no line of it is
/// held).
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    held_by: String,
    events_read_to: Option<Position>,
}

const HELD_BY: &str = "nursery-agent";

/// Writes the held `lines` to `path` after a header with `at`, whole.
pub(super) fn write_all(
    path: &Path,
    lines: &[String],
    at: Option<&Position>,
) -> std::io::Result<()> {
    let header = Header {
        held_by: HELD_BY.into(),
        events_read_to: at.cloned(),
    };
    let mut all = Vec::with_capacity(lines.len() + 1);
    all.push(serde_json::to_string(&header).expect("a header serializes"));
    all.extend(lines.iter().cloned());
    write(path, &all)
}

/// Writes `lines` to `path` whole: to a temporary file beside it, synced, then renamed over
/// it, so a crash in between leaves the previous file, never half of one.
pub(super) fn write(path: &Path, lines: &[String]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        for l in lines {
            f.write_all(l.as_bytes())?;
            f.write_all(b"\n")?;
        }
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// What a previous stop left in `path`: its lines, as inputs for the start to take in (none
/// when there is no file), and how far the events file had been read. The last line carries
/// that position, so the start's batch journals it with them.
pub fn read(path: &Path) -> (Vec<Input>, Option<Position>) {
    let Ok(bytes) = std::fs::read(path) else {
        return (Vec::new(), None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    let header = lines
        .peek()
        .and_then(|l| serde_json::from_str::<Header>(l).ok())
        .filter(|h| h.held_by == HELD_BY);
    if header.is_some() {
        lines.next();
    } else {
        tracing::warn!(path = %path.display(), "held events' file without its header: the events file is read on from the journal's position");
    }
    let at = header.and_then(|h| h.events_read_to);
    let mut inputs: Vec<Input> = lines
        .map(|l| Input::Line {
            text: l.to_string(),
            resume: None,
        })
        .collect();
    if let (Some(Input::Line { resume, .. }), Some(at)) = (inputs.last_mut(), &at) {
        *resume = Some(Resume {
            key: MetaKey::events(&at.events),
            value: at.position.clone(),
        });
    }
    (inputs, at)
}

/// Deletes the file once what it held is journalled.
pub fn taken(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot delete the held events' file: they would be taken in again at the next start")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    const BADGE: &str =
        r#"{"ts":"2026-03-02T08:00:00+08:00","type":"badge","reader":"front","card":"10001"}"#;
    const CHECK_IN: &str = r#"{"ts":"2026-03-02T08:00:01+08:00","type":"attendance","person":"s-01","action":"check_in"}"#;

    fn file_line(text: &str, at: &str) -> Input {
        Input::Line {
            text: text.into(),
            resume: Some(Resume {
                key: MetaKey::events(Path::new("/srv/events.jsonl")),
                value: at.into(),
            }),
        }
    }

    #[test]
    fn hardware_page_and_events_file_inputs_are_kept_and_the_clock_s_ticks_are_not() {
        let badge = Event::parse(BADGE).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-03-02T08:00:05+08:00").unwrap();
        assert!(
            matches!(keep(&Input::Hardware(badge.clone()), now), Keep::Line(l, None) if l == badge.to_json_line())
        );
        assert!(matches!(
            keep(
                &Input::Local {
                    event: badge,
                    reply: None
                },
                now
            ),
            Keep::Line(_, None)
        ));
        match keep(&file_line(CHECK_IN, "1:2:300"), now) {
            Keep::Line(l, Some(at)) => {
                assert_eq!(l, CHECK_IN);
                assert_eq!(at.events, Path::new("/srv/events.jsonl"));
                assert_eq!(at.position, "1:2:300");
            }
            _ => panic!("a line of the events file is kept with its position"),
        }
        assert!(matches!(
            keep(&Input::Time(chrono::Utc::now()), now),
            Keep::Afresh
        ));
    }

    #[test]
    fn a_held_line_without_ts_is_kept_with_the_time_it_was_judged_at() {
        let now = DateTime::parse_from_rfc3339("2026-03-02T08:00:05+08:00").unwrap();
        let line = r#"{"type":"door","door":"front","state":"open"}"#;
        let Keep::Line(kept, _) = keep(&file_line(line, "1:2:300"), now) else {
            panic!("kept");
        };
        let v: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(v["ts"], "2026-03-02T08:00:05.000+08:00");
        assert_eq!(v["door"], "front");
        assert!(
            kept.starts_with(r#"{"ts":"#),
            "ts first, as the agent writes lines: {kept}"
        );
        let Keep::Line(kept, _) = keep(&file_line(CHECK_IN, "1:2:300"), now) else {
            panic!("kept");
        };
        assert_eq!(kept, CHECK_IN, "a line with its own ts is kept as it came");
    }

    #[test]
    fn what_is_written_reads_back_in_order_and_the_last_line_carries_the_file_s_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join(crate::config::SPILL_FILE);
        let at = Position {
            events: "/srv/events.jsonl".into(),
            position: "1:2:300".into(),
        };
        write_all(&path, &[CHECK_IN.into(), BADGE.into()], Some(&at)).unwrap();
        let (inputs, read_to) = read(&path);
        assert_eq!(read_to.as_ref(), Some(&at));
        let texts: Vec<(&str, Option<&str>)> = inputs
            .iter()
            .map(|i| match i {
                Input::Line { text, resume } => {
                    (text.as_str(), resume.as_ref().map(|r| r.value.as_str()))
                }
                _ => panic!("a line"),
            })
            .collect();
        assert_eq!(texts, [(CHECK_IN, None), (BADGE, Some("1:2:300"))]);

        // Written again without a position: none is read.
        write_all(&path, &[BADGE.into()], None).unwrap();
        assert_eq!(read(&path).1, None);
        assert_eq!(read(&path).0.len(), 1);
        taken(&path);
        assert!(!path.exists());
        assert_eq!(read(&path).0.len(), 0, "nothing left for another start");
    }
}
