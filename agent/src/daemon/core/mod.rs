//! The core: the one owner of the journal and the rules engine.
//!
//! Everything that changes the agent's state passes through [`Core::process`]: a batch of
//! inputs is parsed, applied to the engine, and written to the journal — events, alert
//! transitions, rejected lines, input positions and the engine snapshot — in **one**
//! transaction. By concern: [`intake`] takes the inputs in, [`record`] writes each
//! transition (the one loop that does), [`outbound`] fills the outbox, [`commands`]
//! carries out the platform's commands, [`pressure`] raises the daemon's own
//! `storage_pressure` alerts (the outbox's cap, the storage's headroom, polled by
//! [`storage`]) and [`summaries`] queues the daily summaries. Only after that transaction
//! has committed are the transitions handed back to the caller to be shown, sounded or
//! sent. So whatever the agent has said, it has recorded; and whatever it has recorded, it
//! will remember after a crash.
//!
//! One exception, on purpose: when the journal cannot be written (a full disk), the staff
//! must still be alerted. The batch is then undone, judged live only and **held** in
//! memory ([`hold`]) until it can be written, in order, exactly as it would have been;
//! meanwhile `storage_pressure` (critical) and the journal's health say that what is shown
//! is not yet recorded, and a stop or crash in that span loses what is held.
//!
//! The core is synchronous and owns no thread of its own: the daemon drives it from one
//! thread, the benchmark drives it directly.

mod commands;
pub mod hold;
pub mod in_force;
mod intake;
mod operations;
mod outbound;
mod pressure;
mod record;
mod reload;
pub mod spill;
mod storage;
mod summaries;

use chrono::{DateTime, NaiveDate, Utc};

use self::outbound::Outbound;
use self::record::Recorder;
use super::upstream;
use crate::alert::Transition;
use crate::config::Config;
use crate::event::{Event, EventKind};
pub use crate::input::{Input, Reply, Resume};
use crate::journal::{Journal, JournalError, MetaKey};
use crate::outbox;
use crate::rules::{Engine, Rejection};
pub use intake::{parse_line, LineRejected};
pub use reload::RELOAD_KEY;

type Dt = DateTime<Utc>;

/// Lines longer than this are rejected unread: no real event comes near it.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How far ahead of the agent's clock a live event's own `ts` may be (clock skew between
/// a terminal and the board); further ahead, it is rejected.
pub const FUTURE_TOLERANCE: chrono::Duration = chrono::Duration::seconds(60);

/// The outcome of one local command (an acknowledgement from the staff page).
pub type LocalResult = Result<Vec<Transition>, String>;

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
    #[error("configuration cannot drive the rules: {0}")]
    Start(Rejection),
    #[error(transparent)]
    Summary(#[from] crate::summary::SummaryError),
}

impl CoreError {
    /// A failure of the storage rather than of the agent: no space (`SQLITE_FULL`,
    /// `ENOSPC`), an I/O error, a journal that could only be opened read-only. The core
    /// holds what it could not write and retries (see [`hold`]); anything else is fatal.
    pub fn is_storage(&self) -> bool {
        match self {
            CoreError::Journal(e) => journal_storage(e),
            CoreError::Sqlite(e) => sqlite_storage(e),
            CoreError::Outbox(outbox::OutboxError::Sql(e)) => sqlite_storage(e),
            CoreError::Summary(crate::summary::SummaryError::Journal(e)) => sqlite_storage(e),
            _ => false,
        }
    }
}

fn journal_storage(e: &JournalError) -> bool {
    match e {
        JournalError::Sqlite { source, .. } | JournalError::Write { source, .. } => {
            sqlite_storage(source)
        }
        JournalError::Sync { source, .. }
        | JournalError::Archive { source, .. }
        | JournalError::Dir { source, .. } => io_storage(source),
        _ => false,
    }
}

fn sqlite_storage(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(
        e.sqlite_error_code(),
        Some(C::DiskFull | C::SystemIoFailure | C::ReadOnly | C::CannotOpen)
    )
}

fn io_storage(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::StorageFull | K::QuotaExceeded | K::ReadOnlyFilesystem
    ) || e.raw_os_error() == Some(5) // EIO
}

/// Meta key holding how many events of a simulated day have been taken in.
pub fn simulation_key(date: NaiveDate) -> MetaKey {
    MetaKey::Simulation(date)
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
    /// The open `storage_pressure` alert of the outbox's cap, if any.
    pressure: Option<(String, Dt)>,
    /// The open `storage_pressure` alert of the storage itself (free space, `max_bytes`).
    disk: Option<pressure::DiskAlert>,
    /// The engine snapshot of the last batch written to the journal: what a batch that
    /// could not be written is undone to.
    last_snap: Option<crate::rules::Snapshot>,
    /// While the journal cannot be written: what is held for it (see [`hold`]).
    hold: Option<Box<hold::Holding>>,
    /// The batch runs against the scratch journal (live only, while holding).
    scratch_mode: bool,
    /// The batch is a held one, re-executed against the journal: its effects were shown.
    replaying: bool,
    /// Inputs judged while holding that did not fit in memory.
    not_held: u64,
    /// The storage budget, polled by the core loop (see [`storage`]).
    budget: storage::Watch,
    /// What the journal's health record last said (written on change).
    health_written: Option<((String, u64, u64), std::time::Instant)>,
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
    replies: Vec<(Reply, LocalResult)>,
    /// The configuration in force, as the journal's meta table keeps it across restarts
    /// (see [`in_force`]); `None` when the core was opened without its file.
    in_force: Option<in_force::InForce>,
    /// The last reload, when it was refused: when, and every problem.
    refused: Option<(Dt, Vec<String>)>,
    /// The spill file of the last stop, when this start took it in but could not journal
    /// it: deleted once the held batches are written (see [`spill`]).
    spill_pending: Option<std::path::PathBuf>,
}

/// What opening the core found and did.
pub struct Opened {
    pub core: Core,
    /// True when the state was rebuilt from a journal written by an earlier run.
    pub restored: bool,
    /// Transitions of timers that fell due while the agent was down, and of the start.
    pub transitions: Vec<Transition>,
}

/// Opens the journal for writing or, when the storage cannot take even that (a full
/// disk), read-only: the core then starts holding at once and runs degraded rather than
/// exit (and be restarted into the same full disk, again and again).
fn open_journal(cfg: &Config) -> Result<Journal, CoreError> {
    let open = Journal::open(&cfg.storage.dir)
        .map_err(CoreError::from)
        .and_then(|j| {
            outbox::migrate(j.connection())?;
            Ok(j)
        });
    match open {
        Ok(j) => Ok(j),
        Err(e) if e.is_storage() => {
            tracing::error!(error = %e, "journal cannot be opened for writing; reading it, and holding what cannot be written");
            let dir = &cfg.storage.dir;
            let stand_in = || {
                tracing::error!(dir = %dir.display(), "no journal could be created: starting on an empty one in memory until the storage takes one");
                let j = Journal::scratch()?;
                outbox::migrate(j.connection())?;
                Ok::<_, CoreError>(j.into_stand_in(dir)?)
            };
            match Journal::open_read_only(dir) {
                // Created, but nothing was ever committed to it (the first start): an
                // empty file and no write-ahead log. (A young journal whose history is
                // still all in its WAL also reads as version 0 read-only; it is not
                // empty, and an empty stand-in would replay over it.)
                Ok(j) if j.schema_version()? == 0 => {
                    if never_written(j.path()) {
                        Ok(stand_in()?)
                    } else {
                        Err(e)
                    }
                }
                Ok(j) => Ok(j),
                Err(JournalError::Missing { .. }) => Ok(stand_in()?),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e),
    }
}

/// Whether the database file at `db` holds nothing and has no write-ahead log with
/// anything in it.
fn never_written(db: &std::path::Path) -> bool {
    let len = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = db.as_os_str().to_os_string();
    wal.push("-wal");
    len(db) == 0 && len(std::path::Path::new(&wal)) == 0
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
        Core::open_with_backlog(cfg, now, |_| Vec::new())
    }

    /// As [`Core::open`], taking in first what `backlog` reads (shown the journal): the
    /// lines written while the agent was down, journalled before the start marker so that
    /// they keep their own `ts` (the marker would otherwise move the rules' clock past
    /// them, and they would be applied at the clock instead).
    pub fn open_with_backlog(
        cfg: &Config,
        now: impl FnOnce(&Journal, Option<Dt>) -> Dt,
        backlog: impl FnOnce(&Journal) -> Vec<Input>,
    ) -> Result<Opened, CoreError> {
        Core::open_inner(cfg, None, now, backlog)
    }

    /// As [`Core::open_with_backlog`], knowing the configuration file: the rules go on
    /// under the configuration in force at the last run (with the people a reload kept
    /// until checked out), and a file that differs from it is applied as a reload would
    /// apply it — journalled as `config_loaded` at the journal's clock, before anything
    /// else of this start — so that `replay` judges what follows under it.
    pub fn open_with_file(
        file: in_force::ConfigFile,
        now: impl FnOnce(&Journal, Option<Dt>) -> Dt,
        backlog: impl FnOnce(&Journal) -> Vec<Input>,
    ) -> Result<Opened, CoreError> {
        let cfg = file.cfg.clone();
        Core::open_inner(&cfg, Some(file), now, backlog)
    }

    fn open_inner(
        file_cfg: &Config,
        file: Option<in_force::ConfigFile>,
        now: impl FnOnce(&Journal, Option<Dt>) -> Dt,
        backlog: impl FnOnce(&Journal) -> Vec<Input>,
    ) -> Result<Opened, CoreError> {
        let mut journal = open_journal(file_cfg)?;
        journal.set_timezone(file_cfg.facility.timezone);
        let snapshot = journal.snapshot()?;
        let pressure = pressure::restore(journal.meta(&pressure::PRESSURE_KEY)?);
        let disk = pressure::restore_disk(journal.meta(&pressure::DISK_KEY)?);
        let restored = snapshot.is_some();
        let stored = in_force::InForce::parse(journal.meta(&in_force::IN_FORCE_KEY)?.as_deref());
        let start = file.as_ref().map(|f| in_force::start(f, stored, restored));
        let cfg = start
            .as_ref()
            .and_then(|s| s.judged_under.clone())
            .unwrap_or_else(|| file_cfg.clone());
        let cfg = &cfg;
        let engine = match &snapshot {
            Some(snap) => Engine::restore(cfg, snap),
            None => Engine::new(cfg),
        }
        .map_err(CoreError::Rules)?;
        let (in_force, change) = match start {
            Some(s) => (Some(s.in_force), s.change),
            None => (None, None),
        };
        let mut core = Core {
            journal,
            engine,
            stats: CoreStats::default(),
            run: 0,
            cfg: cfg.clone(),
            cap: outbox::Cap::from_config(cfg),
            telemetry_next: None,
            pressure,
            disk,
            last_snap: snapshot.clone(),
            hold: None,
            scratch_mode: false,
            replaying: false,
            not_held: 0,
            budget: storage::Watch::new(cfg),
            health_written: None,
            enqueued: false,
            uplink: None,
            offline_mark: 0,
            summary_check: None,
            replies: Vec::new(),
            person_ids: reload::person_ids(cfg),
            in_force,
            refused: None,
            spill_pending: None,
        };
        let clock = core.engine.clock();
        // The file changed while the agent was down: applied at the journal's clock, as
        // a reload then would have been, before the backlog and the start marker.
        let mut transitions = match (change, clock) {
            (Some(change), Some(at)) => {
                core.process(vec![Input::Reload(change)], false, at, None)?
            }
            _ => Vec::new(),
        };
        let now = now(&core.journal, clock);
        // A wall clock earlier than the journal's (set back while the agent was down, or a
        // board that booted at 1970) is a jump back, not time running backwards: without
        // it, everything taken in would be re-stamped to the journal's clock.
        let back = clock.filter(|c| *c - now > FUTURE_TOLERANCE);
        let mut inputs: Vec<Input> = back
            .map(|from| Input::ClockJump(crate::wallclock::Jump { from, to: now }))
            .into_iter()
            .collect();
        inputs.extend(backlog(&core.journal));
        let at = match back {
            Some(_) => now,
            None => clock.map_or(now, |c| c.max(now)),
        };
        transitions.extend(core.process(inputs, true, at, None)?);
        Ok(Opened {
            core,
            restored,
            transitions,
        })
    }

    /// Takes in a batch: every input is applied in order, timers fire up to `now`, and
    /// everything is committed in one transaction before the transitions are returned.
    pub fn ingest(&mut self, inputs: Vec<Input>, now: Dt) -> Result<Vec<Transition>, CoreError> {
        self.process(inputs, false, now, None)
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
        self.process(inputs, false, now, Some(settled.min(now)))
    }

    /// One batch: written to the journal in one transaction, then its transitions handed
    /// back — or, when the journal cannot be written, undone, judged live only and held
    /// for the journal (see [`hold`]). Either way the rules see every input once.
    fn process(
        &mut self,
        mut inputs: Vec<Input>,
        start: bool,
        now: Dt,
        settle_to: Option<Dt>,
    ) -> Result<Vec<Transition>, CoreError> {
        // The answers to local commands stay with the core; the inputs can then be copied.
        let replies: Vec<Option<Reply>> = inputs
            .iter_mut()
            .filter(|i| matches!(i, Input::Local { .. }))
            .map(Input::take_reply)
            .collect();
        let (out, results) = if self.hold.is_some() {
            self.live_only(inputs, start, now, settle_to)?
        } else {
            let copy: Vec<Input> = inputs.iter().map(Input::duplicate).collect();
            let books = self.books(copy.iter().any(|i| matches!(i, Input::Reload(_))));
            match self.write_batch(inputs, start, now, settle_to) {
                Ok(r) => {
                    self.after_written();
                    r
                }
                Err(e) if e.is_storage() => {
                    self.revert(books)?;
                    self.begin_holding(&e)?;
                    self.live_only(copy, start, now, settle_to)?
                }
                Err(e) => return Err(e),
            }
        };
        // Answered once the live view shows the batch (see `answer_replies`).
        for (reply, result) in replies.into_iter().zip(results) {
            if let Some(reply) = reply {
                self.replies.push((reply, result));
            }
        }
        self.publish_health();
        Ok(out)
    }

    /// After a batch written to the journal: the daily summaries it made due. A summary
    /// that cannot be written is tried again a minute later (the batch itself is in).
    fn after_written(&mut self) {
        if let Err(e) = self.summarise_due_days() {
            tracing::warn!(error = %e, "daily summary not queued yet; trying again in a minute");
            self.summary_check = self
                .engine
                .clock()
                .map(|c| c + chrono::Duration::minutes(1));
        }
    }

    /// One batch, one transaction: the inputs, the start marker (on open, after the
    /// backlog), the timers, then what goes upstream and the batch's bookkeeping;
    /// committed before the transitions are handed back.
    fn write_batch(
        &mut self,
        inputs: Vec<Input>,
        start: bool,
        now: Dt,
        settle_to: Option<Dt>,
    ) -> Result<(Vec<Transition>, Vec<LocalResult>), CoreError> {
        let batch = self.journal.batch()?;
        let mut rec = Recorder::new(&batch);
        let engine = &mut self.engine;
        if start {
            self.run = batch.run_started(now)?;
        }
        let mut taken = intake::take_in(engine, &self.cfg, &mut self.stats, &mut rec, inputs, now)?;
        if start {
            // At `now`, or at the clock if a backlog line moved it later.
            let at = engine.clock().map_or(now, |c| c.max(now));
            let ev = Event::at(engine.local(at), EventKind::AgentStarted);
            let ts = engine.on_event(&ev).map_err(CoreError::Start)?;
            batch.event(&ev)?;
            rec.record(ts)?;
        }
        match &taken.reload {
            Some(crate::input::Reload::Refused { problems }) => {
                self.refused = Some((now, problems.clone()));
            }
            Some(crate::input::Reload::Apply { .. }) => self.refused = None,
            None => {}
        }
        let reloaded = match taken.reload.take() {
            Some(reload) => Some(reload::follow(
                reload,
                &mut self.cfg,
                &mut self.cap,
                &mut self.person_ids,
                &mut self.in_force,
                &batch,
                now,
            )?),
            None => None,
        };
        rec.fire_timers(engine, now, settle_to)?;
        // Upstream, in the same transaction: every transition, telemetry once a minute,
        // command results. Under storage pressure the daemon itself raises a warning.
        let clock = engine.clock().unwrap_or(now);
        let mut up = Outbound::new(batch.transaction(), &self.cfg, &self.cap, &self.person_ids);
        for t in rec.transitions() {
            up.alert(t, true)?;
        }
        up.telemetry_if_due(engine, clock, &mut self.telemetry_next)?;
        commands::carry_out(&mut up, engine, clock, taken.commands)?;
        if up.dropped > 0 && !self.scratch_mode {
            if let Some(u) = &self.uplink {
                u.set_telemetry_dropped(u.telemetry_dropped() + up.dropped);
            }
        }
        if let Some(p) = up.pressure_seen.filter(|_| !self.scratch_mode) {
            self.enqueued = true;
            pressure::check(engine, &mut self.pressure, p, clock, &mut rec, &mut up)?;
        }
        if let Some(note) = &taken.storage {
            self.enqueued = true;
            pressure::disk(engine, &mut self.disk, note, clock, &mut rec, &mut up)?;
        }
        if let Some(r) = taken.resume {
            batch.set_meta(&r.key, &r.value)?;
        }
        if let Some(f) = self.in_force.as_ref().filter(|_| start) {
            batch.set_meta(&in_force::IN_FORCE_KEY, &f.to_json())?;
        }
        if let Some((date, index)) = taken.simulated {
            batch.set_meta(&simulation_key(date), &index.to_string())?;
        }
        batch.alive(self.run, engine.clock().unwrap_or(now))?;
        let snap = engine.snapshot();
        batch.snapshot(now, &snap)?;
        let out = rec.into_transitions();
        match batch.commit() {
            Ok(()) => {}
            // Committed; only the sync to the card failed. Holding it would write it twice.
            Err(JournalError::Sync { path, source }) => tracing::warn!(
                path = %path.display(),
                error = %source,
                "journal: committed but not synced to storage"
            ),
            Err(e) => return Err(e.into()),
        }
        if !self.scratch_mode {
            self.last_snap = Some(snap);
        }
        if let Some(line) = reloaded.filter(|_| !self.replaying) {
            println!("{line}");
        }
        Ok((out, taken.local_results))
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

    /// The journal, to change how it writes (the SD budget benchmark) or run retention.
    pub fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }

    pub fn stats(&self) -> CoreStats {
        self.stats
    }
}
