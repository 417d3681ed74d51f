//! `replay`: the rules engine over a recorded event log, with the events' timestamps as
//! the clock. No network, no state directory.
//!
//! The log is read as bytes, a line at a time and never more than [`MAX_LINE_BYTES`] of
//! one line in memory: a line that is not UTF-8, or longer than the limit, is rejected with
//! its line number like any other bad line, and the replay goes on (contract section 1). A
//! UTF-8 byte-order mark at the start of the file is not part of line 1.
//!
//! **Far jumps.** One mistyped date (2056 for 2026) would move the clock decades ahead and
//! make every later line "out of order". So a line more than [`MAX_JUMP`] after the
//! previous accepted event (or the very first line) is held until the next event is read:
//! if that event goes back before it (for the first line: by more than [`MAX_JUMP`]), the
//! far line is rejected as an implausible jump and the log goes on from the earlier clock;
//! otherwise (a nursery closed for the holidays, a log of many months) it is applied and
//! the replay goes on as usual. A far line that is the last of the log is applied.

use std::io::{BufRead, Write};

use chrono::{DateTime, Duration, Utc};

use crate::config::Config;
pub use crate::daemon::core::MAX_LINE_BYTES;
use crate::event::{Event, EventKind};
use crate::rules::Engine;

/// How far past the previous accepted event a line may move the clock without the next
/// line confirming it (see the module documentation).
pub const MAX_JUMP: Duration = Duration::days(7);

/// What a replay did, for the exit status and the caller's report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayOutcome {
    pub accepted: u64,
    pub rejected: u64,
    pub transitions: u64,
}

/// Replays `input` line by line: every alert transition goes to `out` as one JSON line,
/// every rejected line to `errors` as `line N: why`. Blank lines are skipped. Events later
/// than `until` are not applied; timers fire up to `until` (or the last event's time).
pub fn replay(
    cfg: &Config,
    input: impl BufRead,
    until: Option<DateTime<Utc>>,
    out: &mut impl Write,
    errors: &mut impl Write,
) -> std::io::Result<ReplayOutcome> {
    let mut r = Replayer {
        engine: Engine::new(cfg).map_err(std::io::Error::other)?,
        cfg: cfg.clone(),
        outcome: ReplayOutcome::default(),
        out,
        errors,
        held: None,
        deferred: Vec::new(),
        last_line: None,
    };
    let mut lines = Lines::new(input);
    while let Some((n, line)) = lines.next()? {
        let text = match line {
            Line::Text(text) => text,
            Line::Bad(why) => {
                r.reject(n, &why)?;
                continue;
            }
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let ev = match Event::parse(text) {
            Ok(ev) => ev,
            Err(e) => {
                r.reject(n, &e.to_string())?;
                continue;
            }
        };
        if let (Some(until), Some(ts)) = (until, ev.utc()) {
            if ts > until {
                break;
            }
        }
        r.event(n, ev)?;
    }
    if let Some(h) = r.held.take() {
        // Nothing after it says otherwise.
        r.apply(h.n, &h.ev)?;
        r.flush_deferred()?;
    }
    if let Some(until) = until {
        for t in r.engine.on_tick(until) {
            r.outcome.transitions += 1;
            writeln!(r.out, "{}", t.to_json_line())?;
        }
    }
    Ok(r.outcome)
}

/// A line far ahead of the clock, waiting for the next event to confirm or refute it.
struct Held {
    n: u64,
    ev: Event,
    ts: DateTime<Utc>,
    /// The first event of the log (there was no clock to compare it with).
    first: bool,
}

struct Replayer<'a, O, E> {
    engine: Engine,
    /// The configuration in force: the one given, then each `config_loaded` of the log.
    cfg: Config,
    outcome: ReplayOutcome,
    out: &'a mut O,
    errors: &'a mut E,
    held: Option<Held>,
    /// Rejections of the lines after a held one, reported once it is settled, so that
    /// rejections stay in line order.
    deferred: Vec<String>,
    /// The line of the last accepted event.
    last_line: Option<u64>,
}

impl<O: Write, E: Write> Replayer<'_, O, E> {
    fn reject(&mut self, n: u64, why: &str) -> std::io::Result<()> {
        self.outcome.rejected += 1;
        if self.held.is_some() {
            self.deferred.push(format!("line {n}: {why}"));
            return Ok(());
        }
        writeln!(self.errors, "line {n}: {why}")
    }

    fn flush_deferred(&mut self) -> std::io::Result<()> {
        for line in std::mem::take(&mut self.deferred) {
            writeln!(self.errors, "{line}")?;
        }
        Ok(())
    }

    /// One parsed event: settles a held line first, then applies or holds this one.
    fn event(&mut self, n: u64, ev: Event) -> std::io::Result<()> {
        let Some(ts) = ev.utc() else {
            // Rejected by the engine (no `ts`); a held line stays held.
            return self.apply(n, &ev);
        };
        if matches!(ev.kind, EventKind::ClockJump { .. }) {
            // The agent's own record of a step of its wall clock: it may move the clock
            // any distance, either way. A line held before it is settled as it stands.
            if let Some(h) = self.held.take() {
                self.apply(h.n, &h.ev)?;
                self.flush_deferred()?;
            }
            return self.apply(n, &ev);
        }
        if let Some(h) = self.held.take() {
            let goes_back = if h.first {
                ts.checked_add_signed(MAX_JUMP).is_some_and(|t| t < h.ts)
            } else {
                ts < h.ts
            };
            if goes_back {
                self.refute(&h, n, &ev)?;
            } else {
                self.apply(h.n, &h.ev)?;
            }
            self.flush_deferred()?;
        }
        let far = match self.engine.clock() {
            Some(clock) => clock.checked_add_signed(MAX_JUMP).is_some_and(|c| ts > c),
            None => true,
        };
        if far {
            self.held = Some(Held {
                n,
                ev,
                ts,
                first: self.engine.clock().is_none(),
            });
            return Ok(());
        }
        self.apply(n, &ev)
    }

    /// Rejects the held line `h`: line `n` (`next`) went back before it.
    fn refute(&mut self, h: &Held, n: u64, next: &Event) -> std::io::Result<()> {
        let shown = |e: &Event| e.ts.map(|t| t.to_rfc3339()).unwrap_or_default();
        let against = match (self.engine.clock(), self.last_line) {
            (Some(clock), Some(prev)) => format!(
                "{} days after the previous event (line {prev}, {})",
                (h.ts - clock).num_days(),
                self.engine.local(clock).to_rfc3339()
            ),
            _ => format!(
                "{} days before the line after it",
                (h.ts - next.utc().unwrap_or(h.ts)).num_days()
            ),
        };
        let why = format!(
            "`ts` {} is {against}, and line {n} ({}) goes back before it: rejected as an \
             implausible jump (a mistyped date?); a line may move the clock more than {} days \
             ahead only when the next line does not go back",
            shown(&h.ev),
            shown(next),
            MAX_JUMP.num_days()
        );
        self.reject(h.n, &why)
    }

    fn apply(&mut self, n: u64, ev: &Event) -> std::io::Result<()> {
        if let EventKind::ConfigLoaded {
            hash,
            config: Some(text),
        } = &ev.kind
        {
            if let Err(why) = self.reconfigure(hash, text) {
                return self.reject(n, &why);
            }
        }
        match self.engine.on_event(ev) {
            Ok(ts) => {
                self.outcome.accepted += 1;
                self.last_line = Some(n);
                for t in ts {
                    self.outcome.transitions += 1;
                    writeln!(self.out, "{}", t.to_json_line())?;
                }
                Ok(())
            }
            Err(e) => self.reject(n, &e.to_string()),
        }
    }
}

impl<O: Write, E: Write> Replayer<'_, O, E> {
    /// A `config_loaded` of the log: what follows is judged under that configuration, as
    /// the agent judged it (`Engine::reload`), its transitions printed.
    fn reconfigure(&mut self, hash: &str, text: &str) -> Result<(), String> {
        if crate::config::content_hash(text) != hash {
            return Err(format!(
                "`config_loaded` {hash}: its text does not have that hash"
            ));
        }
        let new = crate::config::parse(text, std::path::Path::new(hash))
            .map_err(|e| format!("`config_loaded` {hash} is not a valid configuration: {e}"))?;
        let r = self.engine.reload(&self.cfg, &new)?;
        self.engine = r.engine;
        self.cfg = r.config;
        for t in r.transitions {
            self.outcome.transitions += 1;
            writeln!(self.out, "{}", t.to_json_line()).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// One line of the log.
enum Line {
    Text(String),
    /// Not a line that can be judged: why.
    Bad(String),
}

/// Lines of at most [`MAX_LINE_BYTES`], read as bytes: a longer line is skipped up to its
/// newline without being kept.
struct Lines<R> {
    r: R,
    buf: Vec<u8>,
    n: u64,
}

impl<R: BufRead> Lines<R> {
    fn new(r: R) -> Lines<R> {
        Lines {
            r,
            buf: Vec::new(),
            n: 0,
        }
    }

    /// The next line and its number, or `None` at the end.
    fn next(&mut self) -> std::io::Result<Option<(u64, Line)>> {
        self.buf.clear();
        let room = MAX_LINE_BYTES as u64 + 2;
        if std::io::Read::take(&mut self.r, room).read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        self.n += 1;
        if self.n == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") {
            self.buf.drain(..3);
        }
        let content = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.len() > MAX_LINE_BYTES {
            let total = self.buf.len() as u64 + self.skip_rest()?;
            return Ok(Some((
                self.n,
                Line::Bad(format!(
                    "a line of {total} bytes, longer than the {MAX_LINE_BYTES}-byte limit; skipped unread"
                )),
            )));
        }
        let line = match std::str::from_utf8(content) {
            Ok(text) => Line::Text(text.to_owned()),
            Err(e) => Line::Bad(format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            )),
        };
        Ok(Some((self.n, line)))
    }

    /// Skips to just past the next newline (or the end); how many bytes that was.
    fn skip_rest(&mut self) -> std::io::Result<u64> {
        if self.buf.ends_with(b"\n") {
            return Ok(0);
        }
        let mut skipped = 0u64;
        loop {
            let chunk = self.r.fill_buf()?;
            if chunk.is_empty() {
                return Ok(skipped);
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.r.consume(i + 1);
                    return Ok(skipped + i as u64 + 1);
                }
                None => {
                    let len = chunk.len();
                    self.r.consume(len);
                    skipped += len as u64;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nursery_testkit::{ev, Roster};

    fn replayed(log: &str) -> (ReplayOutcome, String, String) {
        let cfg = crate::config::parse(&Roster::sunflower().toml(), std::path::Path::new("r.toml"))
            .unwrap();
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        let outcome = replay(&cfg, log.as_bytes(), None, &mut out, &mut errors).unwrap();
        (
            outcome,
            String::from_utf8(out).unwrap(),
            String::from_utf8(errors).unwrap(),
        )
    }

    #[test]
    fn a_mistyped_first_line_is_rejected_and_rejections_stay_in_line_order() {
        let log = [
            ev::door_open("2056-03-02T08:00:00+08:00", "entrance"),
            "{not json".to_string(),
            ev::door_open("2026-03-02T08:00:00+08:00", "entrance"),
            ev::door_closed("2026-03-02T08:00:30+08:00", "entrance"),
        ]
        .join("\n");
        let (outcome, out, errors) = replayed(&log);
        assert_eq!((outcome.accepted, outcome.rejected), (2, 2), "{errors}");
        let lines: Vec<&str> = errors.lines().collect();
        assert!(
            lines[0].starts_with("line 1: ") && lines[0].contains("implausible jump"),
            "{errors}"
        );
        assert!(lines[1].starts_with("line 2: "), "{errors}");
        assert_eq!(out.matches("door_forced").count(), 2, "{out}");
    }

    #[test]
    fn a_far_line_at_the_end_of_the_log_is_applied() {
        let log = ev::log(&[
            ev::door_open("2026-03-02T08:00:00+08:00", "entrance"),
            ev::door_closed("2026-06-02T08:00:00+08:00", "entrance"),
        ]);
        let (outcome, out, errors) = replayed(&log);
        assert_eq!(outcome.rejected, 0, "{errors}");
        assert!(out.contains("\"resolved\""), "{out}");
    }
}
