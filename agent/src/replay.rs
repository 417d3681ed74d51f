//! `replay`: the rules engine over a recorded event log, with the events' timestamps as
//! the clock. No network, no state directory.

use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::event::Event;
use crate::rules::Engine;

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
    let mut engine = Engine::new(cfg).map_err(std::io::Error::other)?;
    let mut outcome = ReplayOutcome::default();
    let mut line = String::new();
    let mut input = input;
    let mut n = 0u64;
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        n += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let ev = match Event::parse(text) {
            Ok(ev) => ev,
            Err(e) => {
                outcome.rejected += 1;
                writeln!(errors, "line {n}: {e}")?;
                continue;
            }
        };
        if let (Some(until), Some(ts)) = (until, ev.utc()) {
            if ts > until {
                break;
            }
        }
        match engine.on_event(&ev) {
            Ok(ts) => {
                outcome.accepted += 1;
                for t in ts {
                    outcome.transitions += 1;
                    writeln!(out, "{}", t.to_json_line())?;
                }
            }
            Err(e) => {
                outcome.rejected += 1;
                writeln!(errors, "line {n}: {e}")?;
            }
        }
    }
    if let Some(until) = until {
        for t in engine.on_tick(until) {
            outcome.transitions += 1;
            writeln!(out, "{}", t.to_json_line())?;
        }
    }
    Ok(outcome)
}
