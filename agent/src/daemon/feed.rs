//! Where events come from: `--events PATH` (a file followed as it grows, a FIFO reopened
//! after each writer, or stdin) and the simulated nursery. Each feed runs on its own
//! thread and hands [`Input`]s to the core over a bounded channel, so a fast feed waits
//! for the journal instead of filling memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio_util::sync::CancellationToken;

use super::core::{Input, Resume};
use crate::clock::Clock;
use crate::config::Config;

/// How often a followed file is checked for growth, rotation or truncation.
const POLL: Duration = Duration::from_millis(100);

/// The `meta` key under which the position in the events file at `path` is kept.
pub fn events_key(path: &Path) -> String {
    format!("events:{}", path.display())
}

/// Follows `--events PATH` until cancelled (or, for stdin, until it ends).
pub fn follow_events(
    path: PathBuf,
    resume_from: Option<String>,
    tx: SyncSender<Input>,
    cancel: CancellationToken,
) {
    let result = if path.as_os_str() == "-" {
        read_stream(std::io::stdin().lock(), &tx, &cancel).map(|_| {
            tracing::info!("events: stdin closed; the agent keeps running");
        })
    } else {
        match std::fs::metadata(&path) {
            Ok(m) if m.file_type().is_fifo() => follow_fifo(&path, &tx, &cancel),
            Ok(_) => follow_file(&path, resume_from, &tx, &cancel),
            Err(e) => Err(e),
        }
    };
    if let Err(e) = result {
        if !cancel.is_cancelled() {
            tracing::error!(path = %path.display(), error = %e, "events: cannot read; no more events from it");
        }
    }
}

/// Reads lines until end of input. Returns false when the core has gone away.
fn read_stream(
    mut r: impl BufRead,
    tx: &SyncSender<Input>,
    cancel: &CancellationToken,
) -> std::io::Result<bool> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 || cancel.is_cancelled() {
            return Ok(true);
        }
        let text = String::from_utf8_lossy(&buf).trim().to_string();
        if text.is_empty() {
            continue;
        }
        if tx.send(Input::Line { text, resume: None }).is_err() {
            return Ok(false);
        }
    }
}

/// A FIFO ends each time its writer closes it; the next writer reopens it.
fn follow_fifo(
    path: &Path,
    tx: &SyncSender<Input>,
    cancel: &CancellationToken,
) -> std::io::Result<()> {
    while !cancel.is_cancelled() {
        let f = File::open(path)?;
        if !read_stream(BufReader::new(f), tx, cancel)? {
            break;
        }
    }
    Ok(())
}

/// Identity and position of a followed regular file, as kept in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    dev: u64,
    ino: u64,
    offset: u64,
}

impl Position {
    fn parse(s: &str) -> Option<Position> {
        let mut it = s.split(':').map(|p| p.parse::<u64>().ok());
        let (dev, ino, offset) = (it.next()??, it.next()??, it.next()??);
        Some(Position { dev, ino, offset })
    }

    fn render(&self) -> String {
        format!("{}:{}:{}", self.dev, self.ino, self.offset)
    }
}

/// Follows a regular file like `tail -F`: resumes after the last line the journal took
/// in, waits for growth, starts over when the file is replaced or truncated. A last line
/// without its newline is held until the newline arrives.
fn follow_file(
    path: &Path,
    resume_from: Option<String>,
    tx: &SyncSender<Input>,
    cancel: &CancellationToken,
) -> std::io::Result<()> {
    let key = events_key(path);
    let mut saved = resume_from.as_deref().and_then(Position::parse);
    'reopen: while !cancel.is_cancelled() {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let mut pos = Position {
            dev: meta.dev(),
            ino: meta.ino(),
            offset: 0,
        };
        if let Some(s) = saved.take() {
            if s.dev == pos.dev && s.ino == pos.ino && s.offset <= meta.len() {
                file.seek(SeekFrom::Start(s.offset))?;
                pos.offset = s.offset;
                tracing::info!(path = %path.display(), offset = s.offset, "events: resuming after the last line taken in");
            }
        }
        let mut reader = BufReader::new(file);
        let mut buf = Vec::new();
        while !cancel.is_cancelled() {
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 || !buf.ends_with(b"\n") {
                std::thread::sleep(POLL);
                match std::fs::metadata(path) {
                    Ok(m) if m.dev() == pos.dev && m.ino() == pos.ino && m.len() >= pos.offset => {}
                    Ok(_) => {
                        tracing::info!(path = %path.display(), "events: file replaced or truncated; reading it from the start");
                        continue 'reopen;
                    }
                    Err(_) => {} // moved away and not yet recreated: keep the old one
                }
                continue;
            }
            pos.offset += buf.len() as u64;
            let text = String::from_utf8_lossy(&buf).trim().to_string();
            buf.clear();
            if text.is_empty() {
                continue;
            }
            let resume = Some(Resume {
                key: key.clone(),
                value: pos.render(),
            });
            if tx.send(Input::Line { text, resume }).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Where the simulation stands: which day, and how many of its events were taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulationStart {
    pub date: NaiveDate,
    pub taken: u64,
    /// Where the simulated clock starts; earlier events of the day are not fed.
    pub origin: DateTime<Utc>,
}

/// Feeds simulated days to the core, each event when the (accelerated) clock reaches its
/// time, starting with event `taken + 1` of `start.date`, then day after day.
pub fn simulate(
    cfg: &Config,
    seed: u64,
    clock: Clock,
    start: SimulationStart,
    tx: SyncSender<Input>,
    cancel: CancellationToken,
) {
    let mut date = start.date;
    let mut skip = start.taken as usize;
    while !cancel.is_cancelled() {
        let day = crate::simulate::simulate_day(cfg, seed, date);
        let total = day.len();
        for (i, event) in day.into_iter().enumerate().skip(skip) {
            let Some(at) = event.utc() else { continue };
            if at < start.origin {
                // Before the simulation's start time (the day's night-time readings).
                continue;
            }
            if !wait_until(&clock, at, &tx, &cancel) {
                return;
            }
            let input = Input::Simulated {
                date,
                index: i as u64 + 1,
                event,
            };
            if tx.send(input).is_err() {
                return;
            }
        }
        tracing::info!(%date, events = total, "simulated day over; the next one follows");
        let Some(next) = date.succ_opt() else { return };
        date = next;
        skip = 0;
    }
}

/// Sleeps until `clock` reads `at`, telling the core the time as it passes; false if
/// cancelled (or the core has gone) first.
fn wait_until(
    clock: &Clock,
    at: DateTime<Utc>,
    tx: &SyncSender<Input>,
    cancel: &CancellationToken,
) -> bool {
    loop {
        if cancel.is_cancelled() {
            return false;
        }
        let left = clock.real_until(at);
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
        // Only a time strictly before the next event: the rules must not settle at `at`
        // before the event due at `at` is in.
        let now = clock.now();
        if now >= at {
            return true;
        }
        if tx.send(Input::Time(now)).is_err() {
            return false;
        }
    }
}
