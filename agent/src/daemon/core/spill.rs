//! What a stop while the journal cannot be written leaves behind, and the next start takes
//! in (see `hold`).
//!
//! While the storage is full the core holds in memory what it could not journal. A stop
//! then (`systemctl restart`, a package upgrade, the watchdog's restart) would lose it. So
//! the stop writes the held events, in the order they came, as event lines to `held.jsonl`
//! under `[storage] spill_dir` (by default systemd's `RuntimeDirectory`, in RAM, so on
//! another file system than the full one): the hardware's door edges and badges, the staff
//! page's acknowledgements, dispositions and checks, the lines of `--events`. How far the
//! events file was read goes beside it (`held.position`), so the next start reads on from
//! there and takes each line once. The simulated day is not written: its progress resumes
//! as after any stop.
//!
//! The next start takes the file in first, before the events file's backlog and the start
//! marker, each line with its own `ts`, and deletes it once that start is journalled. If the
//! journal still cannot be written, the file stays and the next stop writes it again with
//! everything then held.

use std::io::Write;
use std::path::{Path, PathBuf};

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

pub(super) fn keep(input: &Input) -> Keep {
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
            Keep::Line(text.clone(), at)
        }
        Input::Simulated { .. } => Keep::Reread,
        Input::Time(_) | Input::Storage(_) | Input::ClockJump(_) | Input::Reload(_) => Keep::Afresh,
        Input::Command(_) | Input::BadLine { .. } => Keep::Lost,
    }
}

/// The file beside `path` that says how far the events file was read.
fn position_path(path: &Path) -> PathBuf {
    path.with_extension("position")
}

/// Writes the held `lines` to `path`, then `at` beside it (or removes a stale one). In
/// that order: if the agent dies in between, the next start reads the new lines and the
/// events file on from the old position, so some lines come twice rather than not at all.
pub(super) fn write_all(
    path: &Path,
    lines: &[String],
    at: Option<&Position>,
) -> std::io::Result<()> {
    write(path, lines)?;
    let pos = position_path(path);
    match at {
        Some(at) => {
            let text = serde_json::to_string(at).expect("a position serializes");
            write(&pos, std::slice::from_ref(&text))
        }
        None => match std::fs::remove_file(&pos) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
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
    let mut f = std::fs::File::create(&tmp)?;
    for l in lines {
        f.write_all(l.as_bytes())?;
        f.write_all(b"\n")?;
    }
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// What a previous stop left in `path`: its lines, as inputs for the start to take in (none
/// when there is no file), and how far the events file had been read. The last line carries
/// that position, so the start's batch journals it with them.
pub fn read(path: &Path) -> (Vec<Input>, Option<Position>) {
    let Ok(bytes) = std::fs::read(path) else {
        return (Vec::new(), None);
    };
    let at: Option<Position> = std::fs::read_to_string(position_path(path))
        .ok()
        .and_then(|t| serde_json::from_str(t.trim()).ok());
    let mut inputs: Vec<Input> = String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
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

/// Deletes the file (and its position) once what it held is journalled.
pub fn taken(path: &Path) {
    for p in [path.to_path_buf(), position_path(path)] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(path = %p.display(), error = %e, "cannot delete the held events' file: they would be taken in again at the next start")
            }
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
        assert!(
            matches!(keep(&Input::Hardware(badge.clone())), Keep::Line(l, None) if l == badge.to_json_line())
        );
        assert!(matches!(
            keep(&Input::Local {
                event: badge,
                reply: None
            }),
            Keep::Line(_, None)
        ));
        match keep(&file_line(CHECK_IN, "1:2:300")) {
            Keep::Line(l, Some(at)) => {
                assert_eq!(l, CHECK_IN);
                assert_eq!(at.events, Path::new("/srv/events.jsonl"));
                assert_eq!(at.position, "1:2:300");
            }
            _ => panic!("a line of the events file is kept with its position"),
        }
        assert!(matches!(
            keep(&Input::Time(chrono::Utc::now())),
            Keep::Afresh
        ));
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

        // Written again without a position: the stale one goes.
        write_all(&path, &[BADGE.into()], None).unwrap();
        assert_eq!(read(&path).1, None);
        taken(&path);
        assert!(!path.exists());
        assert_eq!(read(&path).0.len(), 0, "nothing left for another start");
    }
}
