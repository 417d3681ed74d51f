//! Intake: the batch's inputs, each parsed (lines), checked against the clock, applied to
//! the rules and journalled — accepted as an event, or rejected with its reason. Commands
//! and the positions to resume from are collected for the rest of the batch.

use chrono::{DateTime, NaiveDate, Utc};

use super::record::Recorder;
use super::{CoreError, CoreStats, Resume, FUTURE_TOLERANCE, MAX_LINE_BYTES};
use crate::alert::Transition;
use crate::event::{Event, EventKind};
use crate::input::{Command, Input, LineProblem, Reload};
use crate::rules::{Engine, Rejection};

type Dt = DateTime<Utc>;

/// Why a live input was not taken in. The text is what the journal records as the reason.
#[derive(Debug, thiserror::Error)]
pub enum LineRejected {
    #[error(transparent)]
    Line(#[from] LineProblem),
    #[error(transparent)]
    Parse(#[from] crate::event::ParseError),
    #[error(
        "`ts` {ts} is {ahead} s ahead of the agent's clock ({clock}); more than {} s ahead is refused",
        FUTURE_TOLERANCE.num_seconds()
    )]
    Ahead {
        ts: String,
        ahead: i64,
        clock: String,
    },
    #[error(transparent)]
    Rules(#[from] Rejection),
}

/// What the batch's inputs leave for the rest of the batch.
#[derive(Default)]
pub(super) struct Taken {
    /// The latest input position seen, to record with the batch.
    pub resume: Option<Resume>,
    /// The latest simulated event taken: its day and index.
    pub simulated: Option<(NaiveDate, u64)>,
    /// The outcome of every local command, in order: the core pairs them with the
    /// answer channels it took out of the inputs, and answers once the batch is visible.
    pub local_results: Vec<Result<Vec<Transition>, String>>,
    /// The latest storage reading of the batch, for the `storage_pressure` alert.
    pub storage: Option<crate::input::StorageNote>,
    /// Platform commands, carried out after the events.
    pub commands: Vec<Command>,
    /// The latest configuration reload of the batch: applied to the engine where it came
    /// among the inputs, the rest of the core to follow.
    pub reload: Option<Reload>,
}

/// Applies every input in order, journalling each event or rejection in the batch.
pub(super) fn take_in(
    engine: &mut Engine,
    cfg: &crate::config::Config,
    stats: &mut CoreStats,
    rec: &mut Recorder<'_, '_>,
    inputs: Vec<Input>,
    now: Dt,
) -> Result<Taken, CoreError> {
    let mut taken = Taken::default();
    for input in inputs {
        let (event, original) = match input {
            Input::Line { text, resume } => {
                if resume.is_some() {
                    taken.resume = resume;
                }
                match parse_line(engine, &text, now) {
                    Ok((ev, false)) => (ev, Some(text)),
                    Ok((ev, true)) => (ev, None),
                    Err(reason) => {
                        reject(stats, rec, now, &text, &reason)?;
                        continue;
                    }
                }
            }
            Input::BadLine {
                sample,
                reason,
                resume,
            } => {
                if resume.is_some() {
                    taken.resume = resume;
                }
                reject(stats, rec, now, &sample, &reason)?;
                continue;
            }
            Input::Hardware(event) => match ahead(engine, &event, now) {
                // The journal keeps the event as its line, as it would have come.
                Ok(()) => (event, None),
                Err(reason) => {
                    reject(stats, rec, now, &event.to_json_line(), &reason)?;
                    continue;
                }
            },
            Input::Simulated { date, index, event } => {
                taken.simulated = Some((date, index));
                (event, None)
            }
            Input::Time(_) => continue,
            Input::ClockJump(jump) => {
                clock_jump(engine, rec, jump)?;
                continue;
            }
            Input::Reload(reload) => {
                let old = match &taken.reload {
                    Some(Reload::Apply { cfg, .. }) => cfg.as_ref(),
                    _ => cfg,
                };
                let reload = reconfigure(engine, old, rec, reload, now)?;
                taken.reload = Some(reload);
                continue;
            }
            Input::Command(cmd) => {
                taken.commands.push(cmd);
                continue;
            }
            Input::Local { event, .. } => {
                let result = local(engine, stats, rec, event, now)?;
                taken.local_results.push(result);
                continue;
            }
            Input::Storage(note) => {
                taken.storage = Some(note);
                continue;
            }
        };
        apply(engine, stats, rec, event, original, now)?;
    }
    Ok(taken)
}

/// Rebuilds the engine under a reloaded configuration (`Engine::reload`): who is where
/// and every open alert carry over, people checked in who left the roster stay until
/// checked out, alerts whose subject left resolve. The configuration is journalled with
/// its hash and text (`config_loaded`), so `replay` of an export judges what follows under
/// it. A configuration the rules cannot take is refused like an invalid file.
fn reconfigure(
    engine: &mut Engine,
    old: &crate::config::Config,
    rec: &mut Recorder<'_, '_>,
    reload: Reload,
    now: Dt,
) -> Result<Reload, CoreError> {
    let Reload::Apply { cfg, hash, text } = reload else {
        return Ok(reload);
    };
    match engine.reload(old, &cfg) {
        Ok(r) => {
            if !r.kept.is_empty() {
                tracing::info!(kept = ?r.kept, "left the roster while checked in: kept until checked out");
            }
            let at = engine.local(engine.clock().map_or(now, |c| c.max(now)));
            *engine = r.engine;
            let event = Event::at(
                at,
                EventKind::ConfigLoaded {
                    hash: hash.clone(),
                    config: Some(text.clone()),
                },
            );
            rec.batch().event(&event)?;
            rec.record(r.transitions)?;
            Ok(Reload::Apply {
                cfg: Box::new(r.config),
                hash,
                text,
            })
        }
        Err(problem) => Ok(Reload::Refused {
            problems: vec![problem],
        }),
    }
}

/// A step of the wall clock, journalled as a `clock_jump`: the rules move their timers
/// with it (it is the one event that may go back in time).
fn clock_jump(
    engine: &mut Engine,
    rec: &mut Recorder<'_, '_>,
    jump: crate::wallclock::Jump,
) -> Result<(), CoreError> {
    let from = engine.local(jump.from);
    let to = engine.local(jump.to);
    tracing::warn!(
        from = %from.to_rfc3339(),
        to = %to.to_rfc3339(),
        "the wall clock jumped; pending timers move with it, nothing is due for the span"
    );
    let event = Event::at(to, EventKind::ClockJump { from });
    if let Ok(ts) = engine.on_event(&event) {
        rec.batch().event(&event)?;
        rec.record(ts)?;
    }
    Ok(())
}

/// An event from the staff page, applied at the rules' clock (or `now`, if later).
fn local(
    engine: &mut Engine,
    stats: &mut CoreStats,
    rec: &mut Recorder<'_, '_>,
    mut event: Event,
    now: Dt,
) -> Result<Result<Vec<Transition>, String>, CoreError> {
    event.ts = Some(engine.local(engine.clock().map_or(now, |c| c.max(now))));
    let result = engine.on_event(&event);
    match &result {
        Ok(ts) => {
            stats.accepted += 1;
            rec.batch().event(&event)?;
            rec.record(ts.iter().cloned())?;
        }
        Err(rejection) => {
            tracing::info!(event = %event.to_json_line(), reason = %rejection, "local command refused");
        }
    }
    Ok(result.map_err(|e| e.to_string()))
}

/// A live event: clamped to the rules' clock if stamped before it, applied, journalled
/// (as its original line when that is the event as applied), or rejected.
fn apply(
    engine: &mut Engine,
    stats: &mut CoreStats,
    rec: &mut Recorder<'_, '_>,
    event: Event,
    original: Option<String>,
    now: Dt,
) -> Result<(), CoreError> {
    let (event, clamped) = clamp(engine, event);
    match engine.on_event(&event) {
        Ok(ts) => {
            stats.accepted += 1;
            if clamped {
                stats.clamped += 1;
            }
            match original.filter(|_| !clamped) {
                Some(text) => rec.batch().event_line(&event, text.trim())?,
                None => rec.batch().event(&event)?,
            };
            rec.record(ts)?;
        }
        Err(rejection) => {
            let line = event.to_json_line();
            reject(stats, rec, now, &line, &LineRejected::Rules(rejection))?;
        }
    }
    Ok(())
}

/// Counts, logs and journals a rejected line.
fn reject(
    stats: &mut CoreStats,
    rec: &Recorder<'_, '_>,
    now: Dt,
    line: &str,
    reason: &dyn std::fmt::Display,
) -> Result<(), CoreError> {
    stats.rejected += 1;
    tracing::warn!(line = %shorten(line), %reason, "event rejected");
    rec.batch().rejected(now, line, &reason.to_string())?;
    Ok(())
}

/// Parses a live line; the flag says whether it had no `ts` and was stamped with `now`.
pub fn parse_line(engine: &Engine, text: &str, now: Dt) -> Result<(Event, bool), LineRejected> {
    if text.len() > MAX_LINE_BYTES {
        return Err(LineProblem::TooLong {
            bytes: text.len(),
            limit: MAX_LINE_BYTES,
        }
        .into());
    }
    let mut ev: Event =
        serde_json::from_str(text.trim()).map_err(crate::event::ParseError::from)?;
    let stamped = ev.ts.is_none();
    ev.ts.get_or_insert(engine.local(now));
    ahead(engine, &ev, now)?;
    Ok((ev, stamped))
}

/// A clock running far ahead (a terminal with a wrong RTC) must not drag the rules' time
/// with it: every timer would fire early and the day's summary go out half done.
fn ahead(engine: &Engine, ev: &Event, now: Dt) -> Result<(), LineRejected> {
    let Some(ts) = ev.ts else { return Ok(()) };
    if ts.to_utc() > now + FUTURE_TOLERANCE {
        return Err(LineRejected::Ahead {
            ts: ts.to_rfc3339(),
            ahead: (ts.to_utc() - now).num_seconds(),
            clock: engine.local(now).to_rfc3339(),
        });
    }
    Ok(())
}

/// A live event stamped before the rules' clock is applied at the clock.
fn clamp(engine: &Engine, mut event: Event) -> (Event, bool) {
    match (engine.clock(), event.utc()) {
        (Some(clock), Some(ts)) if ts < clock => {
            tracing::warn!(
                ts = %event.ts.map(|t| t.to_rfc3339()).unwrap_or_default(),
                clock = %engine.local(clock).to_rfc3339(),
                "event stamped earlier than the rules' clock; applied at the clock"
            );
            event.ts = Some(engine.local(clock));
            (event, true)
        }
        _ => (event, false),
    }
}

fn shorten(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
