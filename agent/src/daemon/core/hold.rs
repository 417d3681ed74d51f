//! Holding: what the core does while the journal cannot be written (a full disk:
//! `SQLITE_FULL`, an I/O error, a journal that could only be opened read-only).
//!
//! The agent must go on judging and alerting, and the journal must end up as if the disk
//! had never been full: the same events with the same `ts` (and raw lines), the same
//! transitions, the same outbox messages in the same order. So:
//!
//! - A batch whose transaction fails is **undone whole**: the engine is rebuilt from the
//!   snapshot of the last batch written (the engine had applied part of the batch before
//!   the write failed), and the core's own books (telemetry minute, pressure alerts, run,
//!   configuration) are put back as they were before it. The snapshot never gets ahead of
//!   the journal.
//! - The batch is then run **live only**, against a [`Journal::scratch`] in memory: the
//!   rules judge it as they would have, its transitions go to the console, the staff
//!   page, the alarm. A copy of its inputs — as they came, with their own `ts` and line,
//!   the time it was judged at, and whether it settled the clock — is **held**, in order.
//!   Every later batch goes the same way while holding, so nothing written to the real
//!   journal can get ahead of what is held.
//! - Every [`RETRY_EVERY`] the core **re-executes** the held batches against the real
//!   journal, starting from the journalled state: the engine is deterministic, so each
//!   produces the same events, transitions and messages as it did live, now written.
//!   A batch that fails again is undone and stays first in line. Once every held batch
//!   is written, the journalled state is the live state, and holding ends.
//! - At most [`MAX_HELD_INPUTS`] inputs (and [`MAX_HELD_BATCHES`] batches) are held.
//!   Beyond that, inputs are still judged live but not held: counted (`not_held`), logged,
//!   and on recovery the live state is written as the journal's snapshot, so the agent
//!   goes on from what it knows; the journal then lacks those inputs, and says how many.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{Core, CoreError, LocalResult};
use crate::alert::Transition;
use crate::input::Input;
use crate::journal::Journal;
use crate::rules::Engine;

type Dt = DateTime<Utc>;

/// How often the held batches are tried against the journal again.
pub const RETRY_EVERY: Duration = Duration::from_secs(5);
/// Most inputs held in memory (about two weeks of the demo nursery's events).
pub const MAX_HELD_INPUTS: usize = 100_000;
/// Most batches held (an idle day settles the clock once a minute: a batch each).
pub const MAX_HELD_BATCHES: usize = 50_000;
/// Batches re-executed in one go, so that the core thread comes back to live inputs.
const RETRY_CHUNK: usize = 512;

/// One batch as it came, for re-execution.
pub(super) struct Held {
    pub inputs: Vec<Input>,
    pub start: bool,
    pub now: Dt,
    pub settle_to: Option<Dt>,
}

/// What a batch changes in the core besides the engine, saved before it so that a batch
/// that could not be written is undone whole.
pub(super) struct Books {
    run: i64,
    stats: super::CoreStats,
    telemetry_next: Option<Dt>,
    pressure: Option<(String, Dt)>,
    disk: Option<super::pressure::DiskAlert>,
    summary_check: Option<Dt>,
    /// Only for a batch that reloads the configuration.
    cfg: Option<Box<(crate::config::Config, crate::outbox::Cap)>>,
}

/// The state the journal has: the engine and books as of the last batch written.
pub(super) struct Journalled {
    engine: Engine,
    books: Books,
    cfg: crate::config::Config,
    cap: crate::outbox::Cap,
    last_snap: Option<crate::rules::Snapshot>,
}

pub(super) struct Holding {
    journalled: Journalled,
    batches: VecDeque<Held>,
    /// Inputs in `batches`.
    inputs: usize,
    scratch: Journal,
    /// Live batches since the scratch journal was last emptied.
    scratch_batches: usize,
    pub since: Dt,
    pub error: String,
    next_try: Instant,
    /// The journal was opened read-only: open it properly before retrying.
    reopen: bool,
    /// [`MAX_HELD_INPUTS`], [`MAX_HELD_BATCHES`] (smaller in tests).
    max: (usize, usize),
    /// Inputs of this episode that were not held.
    overflowed: u64,
}

impl Holding {
    pub fn held(&self) -> u64 {
        self.inputs as u64
    }
}

/// Whether any input reloads the configuration (the books then keep the old one).
fn reloads(inputs: &[Input]) -> bool {
    inputs.iter().any(|i| matches!(i, Input::Reload(_)))
}

fn duplicate(inputs: &[Input]) -> Vec<Input> {
    inputs.iter().map(Input::duplicate).collect()
}

impl Core {
    pub(super) fn books(&self, with_cfg: bool) -> Books {
        Books {
            run: self.run,
            stats: self.stats,
            telemetry_next: self.telemetry_next,
            pressure: self.pressure.clone(),
            disk: self.disk.clone(),
            summary_check: self.summary_check,
            cfg: with_cfg.then(|| Box::new((self.cfg.clone(), self.cap))),
        }
    }

    /// Undoes a batch that could not be written: the books as `b` saved them, the engine
    /// rebuilt from the last snapshot written.
    pub(super) fn revert(&mut self, b: Books) -> Result<(), CoreError> {
        self.run = b.run;
        self.stats = b.stats;
        self.telemetry_next = b.telemetry_next;
        self.pressure = b.pressure;
        self.disk = b.disk;
        self.summary_check = b.summary_check;
        if let Some(c) = b.cfg {
            let (cfg, cap) = *c;
            self.person_ids = super::reload::person_ids(&cfg);
            self.cfg = cfg;
            self.cap = cap;
        }
        self.engine = match &self.last_snap {
            Some(s) => Engine::restore(&self.cfg, s),
            None => Engine::new(&self.cfg),
        }
        .map_err(CoreError::Rules)?;
        Ok(())
    }

    /// Whether the journal is failing and batches are held.
    pub fn holding(&self) -> bool {
        self.hold.is_some()
    }

    /// Inputs held for the journal.
    pub fn held(&self) -> u64 {
        self.hold.as_ref().map_or(0, |h| h.held())
    }

    /// Inputs judged while failing that did not fit in memory, since the start.
    pub fn not_held(&self) -> u64 {
        self.not_held
    }

    /// A batch failed to be written (and was reverted): from now on batches run live only
    /// and are held.
    pub(super) fn begin_holding(&mut self, e: &CoreError) -> Result<(), CoreError> {
        let engine = match &self.last_snap {
            Some(s) => Engine::restore(&self.cfg, s),
            None => Engine::new(&self.cfg),
        }
        .map_err(CoreError::Rules)?;
        let scratch = Journal::scratch()?;
        crate::outbox::migrate(scratch.connection())?;
        let reopen = self.journal.is_read_only();
        tracing::error!(
            error = %e,
            "journal write failed: holding what cannot be written in memory (up to {MAX_HELD_INPUTS} inputs) and retrying every {} s; alerts go on",
            RETRY_EVERY.as_secs()
        );
        println!(
            "journal: writes fail ({e}); alerts go on, the journal catches up when storage returns"
        );
        self.hold = Some(Box::new(Holding {
            journalled: Journalled {
                engine,
                books: self.books(false),
                cfg: self.cfg.clone(),
                cap: self.cap,
                last_snap: self.last_snap.clone(),
            },
            batches: VecDeque::new(),
            inputs: 0,
            scratch,
            scratch_batches: 0,
            since: Utc::now(),
            error: e.to_string(),
            next_try: Instant::now() + RETRY_EVERY,
            reopen,
            max: (MAX_HELD_INPUTS, MAX_HELD_BATCHES),
            overflowed: 0,
        }));
        self.publish_health();
        Ok(())
    }

    /// Runs a batch live only (against the scratch journal) and holds a copy of it.
    pub(super) fn live_only(
        &mut self,
        inputs: Vec<Input>,
        start: bool,
        now: Dt,
        settle_to: Option<Dt>,
    ) -> Result<(Vec<Transition>, Vec<LocalResult>), CoreError> {
        let Some(mut hold) = self.hold.take() else {
            return self.write_batch(inputs, start, now, settle_to);
        };
        let copy = duplicate(&inputs);
        std::mem::swap(&mut self.journal, &mut hold.scratch);
        self.scratch_mode = true;
        let result = self.write_batch(inputs, start, now, settle_to);
        self.scratch_mode = false;
        std::mem::swap(&mut self.journal, &mut hold.scratch);
        let (max_inputs, max_batches) = hold.max;
        // Once one batch is not held, none after it is: what is held stays a prefix.
        // The start batch is held whatever its size: it carries what the last stop kept
        // (see `spill`), which nothing else could bring back.
        let first_start = start && hold.batches.is_empty();
        let room = hold.overflowed == 0
            && (first_start
                || (hold.inputs + copy.len() <= max_inputs && hold.batches.len() < max_batches));
        if room {
            hold.inputs += copy.len();
            hold.batches.push_back(Held {
                inputs: copy,
                start,
                now,
                settle_to,
            });
        } else {
            // Judged, shown and sent locally, but not kept: count and say so.
            let n = copy.len().max(1) as u64;
            if hold.overflowed == 0 || (hold.overflowed + n) / 1000 > hold.overflowed / 1000 {
                tracing::error!(
                    not_held = hold.overflowed + n,
                    "journal still failing and the memory for it is full: inputs are judged but will be missing from the journal"
                );
            }
            self.not_held += n;
            hold.overflowed += n;
        }
        hold.scratch_batches += 1;
        if hold.scratch_batches >= 256 {
            // What the scratch journal kept is never read again: start it afresh.
            hold.scratch = Journal::scratch()?;
            crate::outbox::migrate(hold.scratch.connection())?;
            hold.scratch_batches = 0;
        }
        self.hold = Some(hold);
        result
    }

    /// While holding, every [`RETRY_EVERY`]: writes the held batches to the journal, in
    /// order, re-executing them from the journalled state. Returns whether holding ended.
    /// Their transitions were shown when they happened and are not returned again.
    pub fn retry_journal(&mut self) -> Result<bool, CoreError> {
        let Some(mut hold) = self.hold.take() else {
            return Ok(false);
        };
        if Instant::now() < hold.next_try {
            self.hold = Some(hold);
            return Ok(false);
        }
        hold.next_try = Instant::now() + RETRY_EVERY;
        if hold.reopen {
            match Journal::open(&self.cfg.storage.dir).map_err(CoreError::from) {
                Ok(mut j) => {
                    j.set_timezone(self.cfg.facility.timezone);
                    self.journal = j;
                    crate::outbox::migrate(self.journal.connection())?;
                    hold.reopen = false;
                }
                Err(e) => {
                    hold.error = e.to_string();
                    self.hold = Some(hold);
                    self.publish_health();
                    return Ok(false);
                }
            }
        }
        self.swap_journalled(&mut hold.journalled);
        let stats = self.stats;
        self.replaying = true;
        let mut failed = None;
        let mut written = 0;
        while written < RETRY_CHUNK {
            let Some(b) = hold.batches.pop_front() else {
                break;
            };
            let books = self.books(reloads(&b.inputs));
            let copy = duplicate(&b.inputs);
            let n = b.inputs.len();
            match self.write_batch(b.inputs, b.start, b.now, b.settle_to) {
                Ok(_) => {
                    written += 1;
                    hold.inputs -= n;
                    self.after_written();
                    if b.start {
                        // The start batch held what the last stop kept: journalled now, so
                        // a crash from here on must not take it in again.
                        if let Some(path) = self.spill_pending.take() {
                            super::spill::taken(&path);
                        }
                    }
                }
                Err(e) if e.is_storage() => {
                    self.revert(books)?;
                    hold.batches.push_front(Held { inputs: copy, ..b });
                    failed = Some(e);
                    break;
                }
                Err(e) => {
                    self.replaying = false;
                    return Err(e);
                }
            }
        }
        self.replaying = false;
        self.stats = stats;
        self.enqueued |= written > 0;
        if written > 0 {
            tracing::info!(
                batches = written,
                left = hold.batches.len(),
                "journal: held batches written"
            );
        }
        if failed.is_some() || !hold.batches.is_empty() {
            if let Some(e) = failed {
                hold.error = e.to_string();
            } else {
                // More to write: come back at once.
                hold.next_try = Instant::now();
            }
            self.swap_journalled(&mut hold.journalled);
            self.hold = Some(hold);
            self.publish_health();
            return Ok(false);
        }
        // Everything held is written: the journalled state has caught up with the live one.
        let live = &mut hold.journalled;
        if hold.overflowed > 0 {
            self.swap_journalled(live);
            let snap = self.engine.snapshot();
            let b = self.journal.batch()?;
            b.snapshot(self.engine.clock().unwrap_or_else(Utc::now), &snap)?;
            b.durable();
            b.commit()?;
            self.last_snap = Some(snap);
            tracing::error!(
                not_held = hold.overflowed,
                "journal writable again; inputs that did not fit in memory are missing from it"
            );
        } else if live.engine.snapshot() != self.engine.snapshot() {
            tracing::warn!("journal: the re-executed state differs from the live one; the journalled one is kept");
        }
        let held_for = Utc::now() - hold.since;
        tracing::info!(
            seconds = held_for.num_seconds(),
            "journal writable again: everything held is written"
        );
        println!(
            "journal: writable again after {} s; everything held is written",
            held_for.num_seconds()
        );
        if let Some(path) = self.spill_pending.take() {
            // What the last stop left behind was held again by this start: written now.
            super::spill::taken(&path);
        }
        self.publish_health();
        Ok(true)
    }

    /// The agent stops while the journal still cannot be written: writes what only a
    /// spill can bring back to the spill file (see [`super::spill`]) and says what became
    /// of everything held.
    pub fn spill_held(&self) -> super::spill::Spilled {
        use super::spill::{self, Keep, Spilled};
        let mut out = Spilled {
            path: self.cfg.storage.spill_path(),
            ..Spilled::default()
        };
        let Some(hold) = self.hold.as_ref() else {
            return out;
        };
        let mut lines = Vec::new();
        let mut at = None;
        // Lines of the events file: read again from the journal's position if the file
        // cannot be written.
        let mut from_file = 0;
        for b in &hold.batches {
            let now = self.engine.local(b.now);
            for input in &b.inputs {
                match spill::keep(input, now) {
                    Keep::Line(l, read_to) => {
                        lines.push(l);
                        from_file += usize::from(read_to.is_some());
                        at = read_to.or(at);
                    }
                    Keep::Reread => out.reread += 1,
                    Keep::Afresh => out.afresh += 1,
                    Keep::Lost => out.lost += 1,
                }
            }
        }
        let simulated = self.cfg.simulation.as_ref().is_some_and(|s| s.enabled);
        let failed = |out: &mut Spilled, why: String| {
            out.error = Some(why);
            out.lost += lines.len() - from_file;
            out.reread += from_file;
        };
        match out.path.clone() {
            _ if lines.is_empty() => {
                if let Some(path) = &out.path {
                    spill::taken(path);
                }
            }
            _ if simulated => failed(
                &mut out,
                "the simulated nursery resumes its day; its held page events are not kept".into(),
            ),
            Some(path) => match spill::write_all(&path, &lines, at.as_ref()) {
                Ok(()) => out.kept = lines.len(),
                Err(e) => failed(&mut out, format!("{}: {e}", path.display())),
            },
            None => failed(
                &mut out,
                "no [storage] spill_dir and no $RUNTIME_DIRECTORY".into(),
            ),
        }
        out
    }

    /// This start took in the spill file at `path` but holds it: delete it once written.
    pub fn spill_held_again(&mut self, path: &std::path::Path) {
        self.spill_pending = Some(path.to_path_buf());
    }

    /// As [`Core::retry_journal`], at once (the agent is stopping).
    pub fn retry_journal_now(&mut self) -> Result<bool, CoreError> {
        if let Some(h) = self.hold.as_mut() {
            h.next_try = Instant::now();
        }
        self.retry_journal()
    }

    /// Exchanges the core's engine and books with the journalled ones.
    fn swap_journalled(&mut self, j: &mut Journalled) {
        std::mem::swap(&mut self.engine, &mut j.engine);
        std::mem::swap(&mut self.cfg, &mut j.cfg);
        std::mem::swap(&mut self.cap, &mut j.cap);
        std::mem::swap(&mut self.last_snap, &mut j.last_snap);
        let mut books = self.books(false);
        std::mem::swap(&mut books, &mut j.books);
        self.run = books.run;
        self.telemetry_next = books.telemetry_next;
        self.pressure = books.pressure;
        self.disk = books.disk;
        self.summary_check = books.summary_check;
        self.person_ids = super::reload::person_ids(&self.cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use nursery_testkit::{ev as kit, Roster};

    fn config() -> (Config, tempfile::TempDir) {
        let roster = Roster::sunflower()
            .without("s-nurse")
            .children("infant", &["2025-06-15"; 4])
            .rule("ratio_grace", "60s")
            .rule("door_held_open", "60s");
        let mut cfg: Config = toml::from_str(&roster.toml()).expect("test config parses");
        let dir = tempfile::tempdir().unwrap();
        cfg.storage.dir = dir.path().to_path_buf();
        (cfg, dir)
    }

    fn at(hms: &str) -> DateTime<chrono::FixedOffset> {
        DateTime::parse_from_rfc3339(&format!("2026-03-02T{hms}+08:00")).unwrap()
    }

    /// A morning: a ratio shortfall that lasts past its grace, a forced door held open,
    /// readings, a pick-up by a stranger.
    fn morning() -> Vec<String> {
        let mut lines = vec![kit::check_in(at("07:30:00"), "s-01")];
        for (i, c) in ["c-01", "c-02", "c-03", "c-04"].iter().enumerate() {
            lines.push(kit::check_in(at(&format!("07:3{}:00", i + 1)), c));
        }
        lines.push(kit::reading(
            at("07:40:00"),
            "t-infant",
            Some(24.0),
            Some(45.0),
        ));
        lines.push(kit::door_open(at("07:41:00"), "garden"));
        lines.push(kit::reading(
            at("07:43:00"),
            "t-infant",
            Some(24.5),
            Some(45.0),
        ));
        lines.push(kit::door_closed(at("07:44:00"), "garden"));
        lines.push(kit::check_in(at("07:45:00"), "s-02"));
        lines.push(kit::pick_up(at("07:50:00"), "c-04", "g-02"));
        lines
    }

    fn feed(core: &mut Core, line: &str) -> Vec<Transition> {
        let now = crate::event::Event::parse(line).unwrap().utc().unwrap();
        let input = Input::Line {
            text: line.to_string(),
            resume: None,
        };
        core.ingest_and_settle(vec![input], now, now).unwrap()
    }

    fn start(cfg: &Config) -> Core {
        let t = at("07:00:00").to_utc();
        Core::open(cfg, |_, _| t).unwrap().core
    }

    /// Makes every write of the journal fail (`PRAGMA query_only`: `SQLITE_READONLY`, as
    /// a journal opened read-only on a full disk), or lets them through again.
    fn disk_full(core: &Core, full: bool) {
        let c = core.journal().connection();
        c.pragma_update(None, "query_only", full).unwrap();
    }

    fn outbox_bodies(core: &Core) -> Vec<String> {
        let c = core.journal().connection();
        let mut stmt = c
            .prepare("SELECT seq, payload FROM outbox ORDER BY seq")
            .unwrap();
        stmt.query_map([], |r| {
            Ok(format!(
                "{}:{}",
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    #[test]
    fn a_journal_that_cannot_be_written_holds_the_batches_and_writes_them_as_if_nothing_happened() {
        let lines = morning();
        // The reference: a journal that never fails.
        let (cfg_a, _a) = config();
        let mut reference = start(&cfg_a);
        let expected: Vec<Vec<Transition>> =
            lines.iter().map(|l| feed(&mut reference, l)).collect();
        let kinds: Vec<&str> = expected
            .iter()
            .flatten()
            .map(|t| t.alert_type.as_str())
            .collect();
        for kind in [
            "ratio_breach",
            "door_forced",
            "door_held_open",
            "unauthorized_pickup",
        ] {
            assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
        }

        let (cfg_b, _b) = config();
        let mut core = start(&cfg_b);
        let before = core.journal().event_lines().unwrap().len();
        disk_full(&core, true);
        let mut live = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            live.push(feed(&mut core, l));
            if i == 2 {
                // A retry while still full: nothing written, nothing lost.
                core.hold.as_mut().unwrap().next_try = Instant::now();
                assert!(!core.retry_journal().unwrap());
            }
        }
        assert_eq!(
            live, expected,
            "judged and alerted live as if nothing had failed"
        );
        assert!(core.holding());
        assert_eq!(core.held(), lines.len() as u64);
        assert!(core.journal_health().failing());
        assert_eq!(
            core.journal().event_lines().unwrap().len(),
            before,
            "nothing reached the journal"
        );

        disk_full(&core, false);
        core.hold.as_mut().unwrap().next_try = Instant::now();
        assert!(
            core.retry_journal().unwrap(),
            "holding ends once all is written"
        );
        assert!(!core.holding());
        assert_eq!(core.journal_health().state, "ok");
        let j = core.journal();
        let r = reference.journal();
        assert_eq!(j.event_lines().unwrap(), r.event_lines().unwrap());
        assert_eq!(j.transition_lines().unwrap(), r.transition_lines().unwrap());
        assert_eq!(outbox_bodies(&core), outbox_bodies(&reference));
        assert_eq!(core.engine.snapshot(), reference.engine.snapshot());
        assert_eq!(core.stats(), reference.stats(), "each input counted once");
        assert_eq!(
            core.journal().snapshot().unwrap(),
            reference.journal().snapshot().unwrap(),
            "the journal's snapshot is the live state, not ahead of or behind it"
        );
        // And it goes on as usual.
        let next = kit::check_out(at("08:00:00"), "c-01");
        assert_eq!(feed(&mut core, &next), feed(&mut reference, &next));
        assert_eq!(
            core.journal().event_lines().unwrap(),
            reference.journal().event_lines().unwrap()
        );
    }

    #[test]
    fn beyond_what_memory_holds_inputs_are_judged_counted_and_the_live_state_is_written() {
        let lines = morning();
        let (cfg_a, _a) = config();
        let mut reference = start(&cfg_a);
        let expected: Vec<Vec<Transition>> =
            lines.iter().map(|l| feed(&mut reference, l)).collect();
        let (cfg_b, _b) = config();
        let mut core = start(&cfg_b);
        disk_full(&core, true);
        let mut live = vec![feed(&mut core, &lines[0])];
        core.hold.as_mut().unwrap().max = (3, 100);
        live.extend(lines[1..].iter().map(|l| feed(&mut core, l)));
        assert_eq!(live, expected, "judged and alerted all the same");
        assert_eq!(core.held(), 3);
        assert_eq!(core.not_held(), lines.len() as u64 - 3);
        assert_eq!(core.journal_health().not_held, core.not_held());
        disk_full(&core, false);
        core.hold.as_mut().unwrap().next_try = Instant::now();
        assert!(core.retry_journal().unwrap());
        let events = core.journal().event_lines().unwrap();
        assert_eq!(events.len(), 1 + 3, "the start and what was held");
        assert_eq!(
            core.journal().snapshot().unwrap(),
            reference.journal().snapshot().unwrap(),
            "the journal goes on from the live state"
        );
        let next = kit::check_out(at("08:00:00"), "c-01");
        assert_eq!(feed(&mut core, &next), feed(&mut reference, &next));
    }

    #[test]
    fn a_local_command_is_answered_while_the_journal_fails() {
        let (cfg, _d) = config();
        let mut core = start(&cfg);
        for l in &morning()[..5] {
            feed(&mut core, l);
        }
        disk_full(&core, true);
        feed(&mut core, &kit::door_open(at("07:41:00"), "garden"));
        let forced = core
            .engine()
            .open_alerts()
            .into_iter()
            .find(|a| a.1 == crate::alert::AlertType::DoorForced)
            .expect("door_forced open")
            .0;
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let ack =
            crate::event::Event::parse(&kit::acknowledge(at("07:41:30"), &forced, "s-01")).unwrap();
        let now = at("07:41:30").to_utc();
        core.ingest(
            vec![Input::Local {
                event: ack,
                reply: Some(tx),
            }],
            now,
        )
        .unwrap();
        core.answer_replies();
        assert!(
            rx.try_recv().unwrap().is_ok(),
            "acknowledged, held for the journal"
        );
        assert!(core.holding());
        disk_full(&core, false);
        core.hold.as_mut().unwrap().next_try = Instant::now();
        assert!(core.retry_journal().unwrap());
        let lines = core.journal().event_lines().unwrap();
        assert!(
            lines.iter().any(|l| l.contains("acknowledge")),
            "the acknowledgement is journalled: {lines:?}"
        );
    }
}
