//! The core: the one owner of the journal and the rules engine.
//!
//! Everything that changes the agent's state passes through [`Core::process`]: a batch of
//! inputs is parsed, applied to the engine, and written to the journal — events, alert
//! transitions, rejected lines, input positions and the engine snapshot — in **one**
//! transaction. Only after that transaction has committed are the transitions handed back
//! to the caller to be shown, sounded or sent. So whatever the agent has said, it has
//! recorded; and whatever it has recorded, it will remember after a crash.
//!
//! The core is synchronous and owns no thread of its own: the daemon drives it from one
//! thread, the benchmark drives it directly.

use chrono::{DateTime, NaiveDate, Utc};

use chrono::DurationRound;

use super::upstream;
use crate::alert::{AlertState, AlertType, Transition};
use crate::config::Config;
use crate::event::{Event, EventKind};
pub use crate::input::{Input, Reply, Resume};
use crate::journal::{Journal, JournalError};
use crate::outbox::{self, Kind};
use crate::rules::Engine;

type Dt = DateTime<Utc>;

/// Lines longer than this are rejected unread: no real event comes near it.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How far ahead of the agent's clock a live event's own `ts` may be (clock skew between
/// a terminal and the board); further ahead, it is rejected.
pub const FUTURE_TOLERANCE: chrono::Duration = chrono::Duration::seconds(60);

/// Counters since the core was opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CoreStats {
    pub accepted: u64,
    pub rejected: u64,
    /// Live events stamped earlier than the rules' clock, applied at the clock instead
    /// (an attendance terminal whose clock runs a little behind the agent's).
    pub clamped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("journal write failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("outbox: {0}")]
    Outbox(#[from] outbox::OutboxError),
    #[error("configuration cannot drive the rules: {0}")]
    Rules(String),
    #[error(transparent)]
    Summary(#[from] crate::summary::SummaryError),
}

/// Meta key holding how many events of a simulated day have been taken in.
pub fn simulation_key(date: NaiveDate) -> String {
    format!("simulation:{date}")
}

pub struct Core {
    journal: Journal,
    engine: Engine,
    stats: CoreStats,
    /// This run's row in the journal's `runs` table.
    run: i64,
    cfg: Config,
    cap: outbox::Cap,
    /// When the next telemetry snapshot is due (the next whole minute of the rules' clock).
    telemetry_next: Option<Dt>,
    /// The open `storage_pressure` alert, if any.
    pressure: Option<(String, Dt)>,
    /// Whether a batch since the last [`Core::take_enqueued`] put anything in the outbox.
    enqueued: bool,
    /// The uplink's figures, for the offline time in the daily summary.
    uplink: Option<std::sync::Arc<crate::uplink::UplinkStatus>>,
    offline_mark: u64,
    /// When to look next for a day whose summary is due.
    summary_check: Option<Dt>,
    /// Ids of everyone on the roster: only these may name a person upstream.
    person_ids: std::collections::HashSet<String>,
    /// Answers to local commands of committed batches, not yet sent.
    replies: Vec<(Reply, Result<Vec<Transition>, String>)>,
}

/// What opening the core found and did.
pub struct Opened {
    pub core: Core,
    /// True when the state was rebuilt from a journal written by an earlier run.
    pub restored: bool,
    /// Transitions of timers that fell due while the agent was down, and of the start.
    pub transitions: Vec<Transition>,
}

impl Core {
    /// Opens the journal in `cfg.storage.dir`, rebuilds the rules' state from its latest
    /// snapshot (or starts empty), and journals the start at the time `now` picks — it is
    /// shown the journal and the restored clock — or at the restored clock, if that is
    /// later: time never runs backwards for the rules.
    pub fn open(
        cfg: &Config,
        now: impl FnOnce(&Journal, Option<Dt>) -> Dt,
    ) -> Result<Opened, CoreError> {
        let journal = Journal::open(&cfg.storage.dir)?;
        outbox::migrate(journal.connection())?;
        let snapshot = journal.snapshot()?;
        let pressure = journal
            .meta(PRESSURE_KEY)?
            .and_then(|v| serde_json::from_str::<(String, Dt)>(&v).ok());
        let restored = snapshot.is_some();
        let engine = match &snapshot {
            Some(snap) => Engine::restore(cfg, snap),
            None => Engine::new(cfg),
        }
        .map_err(CoreError::Rules)?;
        let mut core = Core {
            journal,
            engine,
            stats: CoreStats::default(),
            run: 0,
            cfg: cfg.clone(),
            cap: outbox::Cap::from_config(cfg),
            telemetry_next: None,
            pressure,
            enqueued: false,
            uplink: None,
            offline_mark: 0,
            summary_check: None,
            replies: Vec::new(),
            person_ids: cfg
                .staff
                .iter()
                .map(|p| p.id.clone())
                .chain(cfg.children.iter().map(|p| p.id.clone()))
                .chain(cfg.guardians.iter().map(|p| p.id.clone()))
                .collect(),
        };
        let clock = core.engine.clock();
        let now = now(&core.journal, clock);
        let at = clock.map_or(now, |c| c.max(now));
        let start = Event::at(core.engine.local(at), EventKind::AgentStarted);
        let transitions = core.process(vec![], Some(start), at, None)?;
        Ok(Opened {
            core,
            restored,
            transitions,
        })
    }

    /// Takes in a batch: every input is applied in order, timers fire up to `now`, and
    /// everything is committed in one transaction before the transitions are returned.
    pub fn ingest(&mut self, inputs: Vec<Input>, now: Dt) -> Result<Vec<Transition>, CoreError> {
        self.process(inputs, None, now, None)
    }

    /// As [`Core::ingest`], and then moves the rules' clock on to `settled` (at most `now`)
    /// even with no timer due, so that the journal's clock keeps up with an idle day. An
    /// event stamped before `settled` that arrives later is applied at the clock.
    pub fn ingest_and_settle(
        &mut self,
        inputs: Vec<Input>,
        now: Dt,
        settled: Dt,
    ) -> Result<Vec<Transition>, CoreError> {
        self.process(inputs, None, now, Some(settled.min(now)))
    }

    fn process(
        &mut self,
        inputs: Vec<Input>,
        first: Option<Event>,
        now: Dt,
        settle_to: Option<Dt>,
    ) -> Result<Vec<Transition>, CoreError> {
        let mut out = Vec::new();
        let batch = self.journal.batch()?;
        let engine = &mut self.engine;
        let stats = &mut self.stats;
        let mut resume: Option<Resume> = None;
        let mut simulated: Option<(NaiveDate, u64)> = None;
        let mut replies = Vec::new();
        let mut commands = Vec::new();
        if first.is_some() {
            self.run = batch.run_started(now)?;
        }
        if let Some(ev) = first {
            let ts = engine
                .on_event(&ev)
                .map_err(|e| CoreError::Rules(e.to_string()))?;
            batch.event(&ev)?;
            for t in &ts {
                batch.transition(t)?;
            }
            out.extend(ts);
        }
        for input in inputs {
            let (event, original) = match input {
                Input::Line { text, resume: r } => {
                    if r.is_some() {
                        resume = r;
                    }
                    match parse_line(engine, &text, now) {
                        Ok((ev, false)) => (ev, Some(text)),
                        Ok((ev, true)) => (ev, None),
                        Err(reason) => {
                            stats.rejected += 1;
                            tracing::warn!(line = %shorten(&text), %reason, "event rejected");
                            batch.rejected(now, &text, &reason)?;
                            continue;
                        }
                    }
                }
                Input::Simulated { date, index, event } => {
                    simulated = Some((date, index));
                    (event, None)
                }
                Input::Time(_) => continue,
                Input::Command(cmd) => {
                    commands.push(cmd);
                    continue;
                }
                Input::Local { mut event, reply } => {
                    event.ts = Some(engine.local(engine.clock().map_or(now, |c| c.max(now))));
                    let result = engine.on_event(&event);
                    match &result {
                        Ok(ts) => {
                            stats.accepted += 1;
                            batch.event(&event)?;
                            for t in ts {
                                batch.transition(t)?;
                            }
                            out.extend(ts.iter().cloned());
                        }
                        Err(rejection) => {
                            tracing::info!(event = %event.to_json_line(), reason = %rejection, "local command refused");
                        }
                    }
                    if let Some(reply) = reply {
                        replies.push((reply, result.map_err(|e| e.to_string())));
                    }
                    continue;
                }
            };
            let (event, clamped) = clamp(engine, event);
            match engine.on_event(&event) {
                Ok(ts) => {
                    stats.accepted += 1;
                    if clamped {
                        stats.clamped += 1;
                    }
                    // Keep the line as it came when it is the event as applied.
                    match original.filter(|_| !clamped) {
                        Some(text) => batch.event_line(&event, text.trim())?,
                        None => batch.event(&event)?,
                    };
                    for t in &ts {
                        batch.transition(t)?;
                    }
                    out.extend(ts);
                }
                Err(rejection) => {
                    stats.rejected += 1;
                    let line = event.to_json_line();
                    tracing::warn!(line = %shorten(&line), reason = %rejection, "event rejected");
                    batch.rejected(now, &line, &rejection.to_string())?;
                }
            }
        }
        // Timers fire at their due times, one due time at a time, so the rules' clock
        // never runs ahead of the last thing that happened.
        while let Some(due) = engine.next_due().filter(|d| *d <= now) {
            let ts = engine.on_tick(due);
            for t in &ts {
                batch.transition(t)?;
            }
            out.extend(ts);
        }
        if let Some(settled) = settle_to {
            if engine.clock().is_none_or(|c| c < settled) {
                let ts = engine.on_tick(settled);
                for t in &ts {
                    batch.transition(t)?;
                }
                out.extend(ts);
            }
        }
        // Upstream, in the same transaction: every transition, telemetry once a minute,
        // command results. Under storage pressure the daemon itself raises a warning.
        let clock = engine.clock().unwrap_or(now);
        let tx = batch.transaction();
        let facility = self.cfg.facility.id.as_str();
        let mut pressure_seen: Option<bool> = None;
        let mut dropped = 0;
        let mut note = |e: outbox::Enqueued| {
            pressure_seen = Some(pressure_seen.unwrap_or(false) || e.pressure);
            dropped += e.telemetry_dropped;
        };
        for t in &out {
            let id = upstream::alert_message_id(t);
            let body = upstream::alert_body(t, &self.person_ids);
            note(outbox::enqueue(
                tx,
                facility,
                Kind::Alert,
                &id,
                t.ts.to_utc(),
                &body,
                &self.cap,
            )?);
        }
        let minute = |t: Dt| t.duration_trunc(chrono::Duration::minutes(1)).unwrap_or(t);
        match self.telemetry_next {
            Some(due) if clock >= due => {
                let body = upstream::telemetry_body(&self.cfg, engine, clock);
                note(outbox::enqueue_telemetry(tx, clock, &body, &self.cap)?);
                self.telemetry_next = Some(minute(clock) + chrono::Duration::minutes(1));
            }
            Some(_) => {}
            None => self.telemetry_next = Some(minute(clock) + chrono::Duration::minutes(1)),
        }
        for cmd in commands {
            // Recorded with its result, in this transaction: acted on once, and not lost.
            if !outbox::remember_command(tx, cmd.id(), clock)? {
                tracing::info!(command_id = %cmd.id().escape_debug(), "repeated command id, ignored");
                continue;
            }
            let (result, extra) = match &cmd {
                crate::uplink::Command::Snapshot { .. } => {
                    let body = upstream::telemetry_body(&self.cfg, engine, clock);
                    note(outbox::enqueue_telemetry(tx, clock, &body, &self.cap)?);
                    (Ok(()), Some(body))
                }
                crate::uplink::Command::ResendSummary { id, date } => {
                    if clock < crate::summary::summary_due(&self.cfg, *date) {
                        (Err(format!("the summary of {date} is not due yet")), None)
                    } else {
                        let extra = summary_extra(tx, *date, 0)?;
                        let body = crate::summary::daily_summary(&self.cfg, tx, *date, &extra)?;
                        let msg = format!("summary:{date}:resend:{id}");
                        note(outbox::enqueue(
                            tx,
                            facility,
                            Kind::Summary,
                            &msg,
                            clock,
                            &body,
                            &self.cap,
                        )?);
                        (Ok(()), None)
                    }
                }
            };
            let mut body = outbox::command_result_body(
                cmd.id(),
                result.as_ref().map(|_| ()).map_err(String::as_str),
            );
            if let Some(snapshot) = extra {
                body.snapshot = Some(snapshot);
            }
            let msg = format!("command:{}", cmd.id());
            note(outbox::enqueue(
                tx,
                facility,
                Kind::CommandResult,
                &msg,
                clock,
                &body,
                &self.cap,
            )?);
        }
        if dropped > 0 {
            if let Some(u) = &self.uplink {
                u.set_telemetry_dropped(u.telemetry_dropped() + dropped);
            }
        }
        if let Some(p) = pressure_seen {
            self.enqueued = true;
            if let Some(t) = pressure_transition(engine, &mut self.pressure, p, clock) {
                batch.transition(&t)?;
                let id = upstream::alert_message_id(&t);
                outbox::enqueue(
                    tx,
                    facility,
                    Kind::Alert,
                    &id,
                    clock,
                    &upstream::alert_body(&t, &self.person_ids),
                    &self.cap,
                )?;
                let v = self
                    .pressure
                    .as_ref()
                    .map(|p| serde_json::to_string(p).unwrap_or_default());
                batch.set_meta(PRESSURE_KEY, v.as_deref().unwrap_or(""))?;
                out.push(t);
            }
        }
        if let Some(r) = resume {
            batch.set_meta(&r.key, &r.value)?;
        }
        if let Some((date, index)) = simulated {
            batch.set_meta(&simulation_key(date), &index.to_string())?;
        }
        batch.alive(self.run, engine.clock().unwrap_or(now))?;
        batch.snapshot(now, &engine.snapshot())?;
        batch.commit()?;
        // Answered once the live view shows the batch (see `answer_replies`).
        self.replies.extend(replies);
        self.summarise_due_days()?;
        Ok(out)
    }

    /// Lets the daily summary count the uplink's offline time.
    pub fn set_uplink_status(&mut self, status: std::sync::Arc<crate::uplink::UplinkStatus>) {
        self.offline_mark = status.snapshot(Utc::now()).offline_total_secs;
        if let Ok(s) = outbox::stats(self.journal.connection()) {
            status.set_telemetry_dropped(s.telemetry_dropped);
        }
        self.uplink = Some(status);
    }

    /// Sends the answers to local commands (acknowledgements) of the batches committed so
    /// far. The daemon calls it once the live view shows them, so that whoever asked sees
    /// the effect of their command as soon as they have the answer.
    pub fn answer_replies(&mut self) {
        for (reply, result) in self.replies.drain(..) {
            let _ = reply.send(result);
        }
    }

    /// Whether anything went into the outbox since the last call (the uplink is woken).
    pub fn take_enqueued(&mut self) -> bool {
        std::mem::take(&mut self.enqueued)
    }

    /// Puts in the outbox the summary of every day with activity whose summary is due
    /// (`close + pickup_grace`) and not yet sent — today's on time, and those of days the
    /// agent was down for at the next start. Each day once: the `summary:DATE` meta key
    /// is set in the transaction that enqueues it.
    fn summarise_due_days(&mut self) -> Result<(), CoreError> {
        let Some(clock) = self.engine.clock() else {
            return Ok(());
        };
        if self.summary_check.is_some_and(|c| clock < c) {
            return Ok(());
        }
        let tz = self.cfg.facility.timezone;
        let days = crate::summary::days_with_activity(self.journal.connection(), tz)?;
        for date in days {
            let key = format!("summary:{date}");
            if crate::summary::summary_due(&self.cfg, date) > clock
                || self.journal.meta(&key)?.is_some()
            {
                continue;
            }
            let offline = self.uplink.as_ref().map_or(0, |u| {
                let total = u.snapshot(Utc::now()).offline_total_secs;
                total.saturating_sub(std::mem::replace(&mut self.offline_mark, total))
            });
            let conn = self.journal.connection();
            let extra = summary_extra(conn, date, offline)?;
            let body = crate::summary::daily_summary(&self.cfg, conn, date, &extra)?;
            let batch = self.journal.batch()?;
            let e = outbox::enqueue(
                batch.transaction(),
                &self.cfg.facility.id,
                Kind::Summary,
                &key,
                clock,
                &body,
                &self.cap,
            )?;
            batch.set_meta(&key, &e.seq.map(|s| s.to_string()).unwrap_or_default())?;
            batch.commit()?;
            self.enqueued = true;
            tracing::info!(%date, seq = ?e.seq, "daily summary queued for the platform");
        }
        let today = clock.with_timezone(&tz).date_naive();
        let next = [today, today.succ_opt().unwrap_or(today)]
            .into_iter()
            .map(|d| crate::summary::summary_due(&self.cfg, d))
            .find(|due| *due > clock);
        self.summary_check = next;
        Ok(())
    }

    /// When the rules next need the core, if nothing else happens first.
    pub fn next_due(&self) -> Option<Dt> {
        self.engine.next_due()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn stats(&self) -> CoreStats {
        self.stats
    }
}

/// Parses a live line; the flag says whether it had no `ts` and was stamped with `now`.
/// Meta key of the open `storage_pressure` alert.
const PRESSURE_KEY: &str = "storage_pressure";

/// Raises `storage_pressure` when the outbox is over its cap with nothing left to drop,
/// and resolves it once it is not.
fn pressure_transition(
    engine: &Engine,
    open: &mut Option<(String, Dt)>,
    pressure: bool,
    at: Dt,
) -> Option<Transition> {
    let state = match (pressure, open.is_some()) {
        (true, false) => {
            *open = Some((format!("P{}", at.format("%Y%m%dT%H%M%S%.3fZ")), at));
            AlertState::Raised
        }
        (false, true) => AlertState::Resolved,
        _ => return None,
    };
    let (id, _) = open.clone()?;
    if state == AlertState::Resolved {
        *open = None;
    }
    Some(Transition {
        ts: engine.local(at),
        alert_id: id,
        alert_type: AlertType::StoragePressure,
        severity: AlertType::StoragePressure.severity(),
        state,
        subject: "outbox".into(),
        details: serde_json::Map::new(),
    })
}

/// The summary's figures that are not in the journal: the outbox's for the day, and the
/// link's offline time since the last summary.
fn summary_extra(
    conn: &rusqlite::Connection,
    date: NaiveDate,
    offline_seconds: u64,
) -> rusqlite::Result<crate::summary::Extra> {
    let day = outbox::day_stats(conn, date)?;
    Ok(crate::summary::Extra {
        offline_seconds,
        largest_backlog: day.backlog_max,
        telemetry_dropped: day.telemetry_dropped,
    })
}

fn parse_line(engine: &Engine, text: &str, now: Dt) -> Result<(Event, bool), String> {
    if text.len() > MAX_LINE_BYTES {
        return Err(format!(
            "line is {} bytes, longer than the {MAX_LINE_BYTES}-byte limit",
            text.len()
        ));
    }
    let mut ev: Event = serde_json::from_str(text.trim())
        .map_err(|e| crate::event::ParseError::from(e).to_string())?;
    let stamped = ev.ts.is_none();
    let ts = *ev.ts.get_or_insert(engine.local(now));
    // A clock running far ahead (a terminal with a wrong RTC) must not drag the rules'
    // time with it: every timer would fire early and the day's summary go out half done.
    if ts.to_utc() > now + FUTURE_TOLERANCE {
        return Err(format!(
            "`ts` {} is {} s ahead of the agent's clock ({}); more than {} s ahead is refused",
            ts.to_rfc3339(),
            (ts.to_utc() - now).num_seconds(),
            engine.local(now).to_rfc3339(),
            FUTURE_TOLERANCE.num_seconds()
        ));
    }
    Ok((ev, stamped))
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
