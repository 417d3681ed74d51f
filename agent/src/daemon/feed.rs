//! Where events come from: `--events PATH` (a file followed as it grows, a FIFO reopened
//! after each writer, or stdin) and the simulated nursery. Each feed runs on its own
//! thread and hands [`Input`]s to the core over a bounded channel, so a fast feed waits
//! for the journal instead of filling memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio_util::sync::CancellationToken;

use super::core::{Input, Resume, MAX_LINE_BYTES};
use crate::clock::Clock;
use crate::config::Config;
use crate::input::LineProblem;

/// How often a followed file is checked for growth, rotation or truncation.
const POLL: Duration = Duration::from_millis(100);

/// The `meta` key under which the position in the events file at `path` is kept.
pub fn events_key(path: &Path) -> crate::journal::MetaKey {
    crate::journal::MetaKey::events(path)
}

/// The lines a regular events file gained while the agent was down: the whole lines after
/// `resume_from` (the position the journal kept), at most `max`, for the core to take in
/// before its start marker. Empty for a FIFO, stdin, a missing file, or a file replaced
/// since (the follower reads those as before).
pub fn backlog(path: &Path, resume_from: Option<&str>, max: usize) -> Vec<Input> {
    let Some(saved) = resume_from.and_then(Position::parse) else {
        return Vec::new();
    };
    let Ok(mut file) = File::open(path) else {
        return Vec::new();
    };
    let Ok(meta) = file.metadata() else {
        return Vec::new();
    };
    let same = meta.is_file() && meta.dev() == saved.dev && meta.ino() == saved.ino;
    if !same || saved.offset > meta.len() || file.seek(SeekFrom::Start(saved.offset)).is_err() {
        return Vec::new();
    }
    let key = events_key(path);
    let mut pos = saved;
    let mut lines = Lines::new(BufReader::new(file), None);
    let mut out = Vec::new();
    while out.len() < max {
        let Ok(Got::Line(text, taken)) = lines.next() else {
            break;
        };
        pos.offset += taken;
        let resume = Some(Resume {
            key: key.clone(),
            value: pos.render(),
        });
        out.extend(input(text, None, resume));
    }
    out
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
            // A regular file, or one not there yet (followed once it appears).
            _ => follow_file(&path, resume_from, &tx, &cancel),
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
    r: impl BufRead,
    tx: &SyncSender<Input>,
    cancel: &CancellationToken,
) -> std::io::Result<bool> {
    let mut lines = Lines::new(r, Some(0));
    loop {
        let text = match lines.next()? {
            Got::Line(text, _) => text,
            // The input ended: a last line without its newline is still a line.
            Got::Eof => match lines.take_partial() {
                Some(text) => text,
                None => return Ok(true),
            },
        };
        if cancel.is_cancelled() {
            return Ok(true);
        }
        let Some(input) = input(text, lines.number(), None) else {
            continue;
        };
        if tx.send(input).is_err() {
            return Ok(false);
        }
    }
}

/// What the core gets for a line: the line, or why it is rejected unread. `None` for an
/// empty line.
fn input(text: Text, line: Option<u64>, resume: Option<Resume>) -> Option<Input> {
    match text {
        Ok(text) if text.is_empty() => None,
        Ok(text) => Some(Input::Line { text, resume }),
        Err(Bad { sample, problem }) => {
            tracing::warn!(line = ?line, reason = %problem, "events: a line is rejected unread");
            Some(Input::BadLine {
                sample,
                reason: problem,
                resume,
            })
        }
    }
}

/// A line as read: its text (trimmed), or why it cannot be read as text.
type Text = Result<String, Bad>;

/// A line rejected before it is parsed: a sample of it (lossy UTF-8, at most 200 bytes)
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bad {
    sample: String,
    problem: LineProblem,
}

/// The line's text, or [`LineProblem::NotUtf8`]: a line is text, and one that is not
/// must not be taken in with U+FFFD in place of its bytes (a card number of `���`). A
/// byte-order mark (what Windows editors put at the start of a file) is not part of it.
fn decode(bytes: &[u8]) -> Text {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.trim_start_matches('\u{feff}').trim().to_string()),
        Err(e) => Err(Bad {
            sample: sample(bytes),
            problem: LineProblem::NotUtf8 {
                offset: e.valid_up_to(),
            },
        }),
    }
}

/// The start of a bad line, to journal in its place.
fn sample(bytes: &[u8]) -> String {
    let end = bytes.len().min(200);
    String::from_utf8_lossy(&bytes[..end]).trim().to_string()
}

/// Splits input into lines of at most [`MAX_LINE_BYTES`]: a longer line is not held in
/// memory — its start is kept as a sample (which the core then rejects) and the rest is
/// skipped up to its newline.
struct Lines<R> {
    r: R,
    buf: Vec<u8>,
    /// Bytes of an overlong line skipped so far.
    skipped: usize,
    /// The start of an overlong line, for the rejection.
    sample: String,
    /// Lines read so far, when counted from the input's start (not after a resume).
    number: Option<u64>,
}

#[derive(Debug)]
enum Got {
    /// A whole line and how many bytes it took, newline included.
    Line(Text, u64),
    /// Nothing more for now; a line without its newline yet stays pending.
    Eof,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `r`; `number` is how many lines came before (`None`: not known).
    fn new(r: R, number: Option<u64>) -> Lines<R> {
        Lines {
            r,
            buf: Vec::new(),
            skipped: 0,
            sample: String::new(),
            number,
        }
    }

    /// The number of the line last returned, when known.
    fn number(&self) -> Option<u64> {
        self.number
    }

    fn next(&mut self) -> std::io::Result<Got> {
        loop {
            let room = (MAX_LINE_BYTES + 1).saturating_sub(self.buf.len()).max(1) as u64;
            let n = (&mut self.r).take(room).read_until(b'\n', &mut self.buf)?;
            if n == 0 {
                return Ok(Got::Eof);
            }
            if self.buf.ends_with(b"\n") {
                let taken = (self.skipped + self.buf.len()) as u64;
                self.number = self.number.map(|n| n + 1);
                let text = if self.skipped > 0 {
                    self.skipped = taken as usize;
                    Err(self.too_long())
                } else {
                    decode(&self.buf)
                };
                self.buf.clear();
                self.skipped = 0;
                return Ok(Got::Line(text, taken));
            }
            if self.buf.len() > MAX_LINE_BYTES {
                if self.skipped == 0 {
                    self.sample = sample(&self.buf);
                }
                self.skipped += self.buf.len();
                self.buf.clear();
            }
        }
    }

    /// The rejection of an overlong line: its start, and its size against the limit.
    fn too_long(&mut self) -> Bad {
        Bad {
            sample: format!("{}…", std::mem::take(&mut self.sample)),
            problem: LineProblem::TooLong {
                bytes: self.skipped,
                limit: MAX_LINE_BYTES,
            },
        }
    }

    /// A pending line without its newline, taken as it is (at the end of a stream).
    fn take_partial(&mut self) -> Option<Text> {
        if self.buf.is_empty() {
            return None;
        }
        self.number = self.number.map(|n| n + 1);
        let text = decode(&self.buf);
        self.buf.clear();
        Some(text)
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
/// in, waits for growth, starts over when the file is replaced or truncated (after reading
/// what was appended to the old one), and waits for a missing file to appear. A last line
/// without its newline is held until the newline arrives.
fn follow_file(
    path: &Path,
    resume_from: Option<String>,
    tx: &SyncSender<Input>,
    cancel: &CancellationToken,
) -> std::io::Result<()> {
    let key = events_key(path);
    let mut saved = resume_from.as_deref().and_then(Position::parse);
    let mut warned = false;
    while !cancel.is_cancelled() {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                if !warned {
                    tracing::warn!(path = %path.display(), error = %e, "events: cannot open; waiting for it");
                    warned = true;
                }
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        warned = false;
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
        let mut lines = Lines::new(BufReader::new(file), (pos.offset == 0).then_some(0));
        let mut replaced = false;
        while !cancel.is_cancelled() {
            let (text, taken) = match lines.next()? {
                Got::Line(text, taken) => (text, taken),
                Got::Eof if replaced => {
                    tracing::info!(path = %path.display(), "events: file replaced or truncated; reading it from the start");
                    break;
                }
                Got::Eof => {
                    std::thread::sleep(POLL);
                    // Replaced or truncated: read what is left of this one first.
                    replaced = match std::fs::metadata(path) {
                        Ok(m) => {
                            !(m.dev() == pos.dev && m.ino() == pos.ino && m.len() >= pos.offset)
                        }
                        Err(_) => false, // moved away and not yet recreated: keep the old one
                    };
                    continue;
                }
            };
            pos.offset += taken;
            let resume = Some(Resume {
                key: key.clone(),
                value: pos.render(),
            });
            let Some(input) = input(text, lines.number(), resume) else {
                continue;
            };
            if tx.send(input).is_err() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<(Text, u64)> {
        let mut lines = Lines::new(input, Some(0));
        let mut out = Vec::new();
        while let Got::Line(text, taken) = lines.next().unwrap() {
            out.push((text, taken));
        }
        out
    }

    #[test]
    fn a_line_longer_than_the_limit_is_cut_to_a_sample_and_the_next_line_is_whole() {
        let long = format!("{{\"type\":\"{}\"}}\n", "x".repeat(3 * MAX_LINE_BYTES));
        let input = format!("{long}{{\"type\":\"exit_button\",\"door\":\"d\"}}\n");
        let got = all(input.as_bytes());
        assert_eq!(got.len(), 2);
        let bad = got[0].0.as_ref().unwrap_err();
        assert!(bad.sample.len() < 400, "only a sample is kept");
        assert!(
            bad.problem.to_string().contains("longer than"),
            "{}",
            bad.problem
        );
        assert_eq!(
            got[0].1,
            long.len() as u64,
            "every byte of it is accounted for"
        );
        assert_eq!(
            got[1].0.as_deref(),
            Ok(r#"{"type":"exit_button","door":"d"}"#)
        );
    }

    #[test]
    fn an_over_long_line_is_rejected_naming_its_size_and_the_limit() {
        let long = format!(
            "{{\"type\":\"badge\",\"card\":\"{}\"}}\n",
            "1".repeat(MAX_LINE_BYTES)
        );
        let got = all(long.as_bytes());
        let bad = got[0].0.as_ref().unwrap_err();
        assert_eq!(
            bad.problem.to_string(),
            format!(
                "line is {} bytes, longer than the {MAX_LINE_BYTES}-byte limit",
                long.len()
            )
        );
        assert!(
            bad.sample.starts_with(r#"{"type":"badge""#),
            "{}",
            bad.sample
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_is_rejected_unread_and_the_next_line_is_read() {
        let bytes = b"{\"type\":\"badge\",\"reader\":\"r\",\"card\":\"\xff\xfe\"}\n{\"a\":1}\n";
        let got = all(bytes);
        assert_eq!(got.len(), 2);
        let bad = got[0].0.as_ref().unwrap_err();
        assert_eq!(bad.problem, LineProblem::NotUtf8 { offset: 37 });
        assert_eq!(
            bad.problem.to_string(),
            "line is not valid UTF-8 (invalid byte at offset 37)"
        );
        assert_eq!(got[1].0.as_deref(), Ok(r#"{"a":1}"#));
        let rejected = input(got[0].0.clone(), Some(1), None).unwrap();
        assert!(
            matches!(
                rejected,
                Input::BadLine {
                    reason: LineProblem::NotUtf8 { .. },
                    ..
                }
            ),
            "{rejected:?}"
        );
    }

    #[test]
    fn a_last_line_without_its_newline_stays_pending() {
        let mut lines = Lines::new(&b"{\"a\":1}\n{\"b\""[..], Some(0));
        assert!(matches!(lines.next().unwrap(), Got::Line(Ok(t), 8) if t == r#"{"a":1}"#));
        assert!(matches!(lines.next().unwrap(), Got::Eof));
        assert_eq!(
            lines.take_partial().map(|t| t.unwrap()).as_deref(),
            Some(r#"{"b""#)
        );
        assert_eq!(lines.number(), Some(2));
    }

    #[test]
    fn a_byte_order_mark_before_the_first_line_is_not_part_of_it() {
        let line = "{\"type\":\"exit_button\",\"door\":\"entrance\"}";
        let with_bom = format!("\u{feff}{line}\n");
        assert_eq!(decode(with_bom.as_bytes()), Ok(line.to_string()));
    }
}
