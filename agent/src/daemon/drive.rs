//! The core loop: wait for inputs or the next timer, take in a batch, let its effects out.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::core::Core;
use super::{Listener, RunError, MAX_BATCH, MAX_SLEEP, SETTLE_EVERY, SETTLE_LAG};
use crate::clock::Clock;
use crate::input::Input;
use crate::live;
use crate::wallclock::JumpWatch;

type Dt = DateTime<Utc>;

/// What happens after every committed batch, besides the listeners and the live view.
pub type AfterCommit = Box<dyn FnMut(&mut Core) + Send>;

/// Everything the core loop lets the batches' effects out to.
pub struct Outlets {
    pub listeners: Vec<Listener>,
    pub publisher: live::Publisher,
    pub after_commit: AfterCommit,
}

/// Starts the core thread, which runs [`drive`] holding `keep_open`.
pub fn spawn(
    mut core: Core,
    rx: mpsc::Receiver<Input>,
    keep_open: mpsc::SyncSender<Input>,
    clock: Clock,
    cancel: &CancellationToken,
    mut outlets: Outlets,
) -> Result<std::thread::JoinHandle<Result<(), RunError>>, RunError> {
    let cancel = cancel.clone();
    std::thread::Builder::new()
        .name("core".into())
        .spawn(move || {
            let _keep_open = keep_open;
            drive(&mut core, &rx, clock, &cancel, &mut outlets)
        })
        .map_err(|source| RunError::Thread {
            name: "core".into(),
            source,
        })
}

/// Runs the core until `cancel`, then takes in what is waiting and returns.
pub fn drive(
    core: &mut Core,
    rx: &mpsc::Receiver<Input>,
    clock: Clock,
    cancel: &CancellationToken,
    outlets: &mut Outlets,
) -> Result<(), RunError> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Under simulation the rules' time is the feed's: the latest simulated time received.
    let simulated = matches!(clock, Clock::Simulated { .. });
    let mut feed_now = core.engine().clock();
    let mut watchdog = Watchdog::new();
    let mut jumps = (!simulated).then(|| JumpWatch::new(Instant::now(), clock.now()));
    loop {
        watchdog.pet();
        let stopping = cancel.is_cancelled();
        let wait = core
            .next_due()
            .map_or(MAX_SLEEP, |due| clock.real_until(due).min(MAX_SLEEP));
        gather(rx, wait, !stopping, &mut batch);
        let now = if simulated {
            feed_now = feed_now.max(latest_simulated(&batch));
            feed_now.unwrap_or_else(|| clock.now())
        } else {
            clock.now()
        };
        // A step of the wall clock goes first: lines without `ts` in this batch are
        // stamped with the clock after it.
        if let Some(jump) = jumps.as_mut().and_then(|w| w.check(Instant::now(), now)) {
            batch.insert(0, Input::ClockJump(jump));
        }
        // The storage, every few seconds: relieved as its level calls for, and its
        // alert raised or resolved in order with the rest of the batch.
        if let Some(note) = core.watch_storage(clock.now()) {
            batch.push(note);
        }
        let due = core.next_due().is_some_and(|d| d <= now);
        // The rules' clock moves on by itself at least every SETTLE_EVERY, so that the
        // journal (and `status`) keep up with an idle day. Under simulation the feed's time
        // is exact; on the wall clock it stays a little behind, so that an event stamped a
        // moment ago by a feed with its own clock is still in order.
        let settled = if simulated { now } else { now - SETTLE_LAG };
        let settle = core
            .engine()
            .clock()
            .is_none_or(|c| settled - c >= SETTLE_EVERY);
        if !due && !settle && batch.iter().all(|i| matches!(i, Input::Time(_))) {
            // Only the passing of time, and nothing to record yet.
            batch.clear();
        }
        if !batch.is_empty() || due || settle {
            let inputs = std::mem::take(&mut batch);
            commit(core, inputs, now, settle.then_some(settled), outlets)?;
        }
        // While the journal cannot be written: write what is held, when it can be.
        if core.retry_journal()? {
            (outlets.after_commit)(core);
        }
        if stopping {
            // One last try, and more while it gets on with the held batches.
            while core.holding() {
                let before = core.held();
                core.retry_journal_now()?;
                if core.holding() && core.held() == before {
                    break;
                }
            }
            if core.holding() {
                let s = core.spill_held();
                let path = s.path.as_ref().map(|p| p.display().to_string());
                let path = path.as_deref().unwrap_or("(nowhere)");
                let why = s
                    .error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                let said = if s.lost > 0 {
                    format!(
                        "{} held events kept in {path}, {} lost{why}",
                        s.kept, s.lost
                    )
                } else if s.kept > 0 {
                    format!("{} held events kept in {path} for the next start", s.kept)
                } else {
                    "nothing held needs keeping".to_string()
                };
                if s.lost > 0 {
                    tracing::error!(
                        held = core.held(),
                        "stopping while the journal cannot be written: {said}"
                    );
                } else {
                    tracing::warn!(
                        held = core.held(),
                        "stopping while the journal cannot be written: {said}"
                    );
                }
                println!("journal: stopping while writes fail; {said}");
            }
            let s = core.stats();
            tracing::info!(
                accepted = s.accepted,
                rejected = s.rejected,
                clamped = s.clamped,
                "stopped cleanly"
            );
            return Ok(());
        }
    }
}

/// Waits up to `wait` for a first input (when `block`), then takes whatever else is
/// waiting, up to [`MAX_BATCH`].
fn gather(
    rx: &mpsc::Receiver<Input>,
    wait: std::time::Duration,
    block: bool,
    batch: &mut Vec<Input>,
) {
    if block {
        match rx.recv_timeout(wait) {
            Ok(input) => batch.push(input),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
        }
    }
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(input) => batch.push(input),
            Err(_) => break,
        }
    }
}

/// The latest simulated time in a batch: of its time marks and simulated events.
fn latest_simulated(batch: &[Input]) -> Option<Dt> {
    batch
        .iter()
        .filter_map(|input| match input {
            Input::Time(t) => Some(*t),
            Input::Simulated { event, .. } => event.utc(),
            _ => None,
        })
        .max()
}

/// Takes in one batch and, once it is committed (or, while the journal fails, held), lets
/// its transitions out.
fn commit(
    core: &mut Core,
    inputs: Vec<Input>,
    now: Dt,
    settled: Option<Dt>,
    outlets: &mut Outlets,
) -> Result<(), RunError> {
    let transitions = match settled {
        Some(settled) => core.ingest_and_settle(inputs, now, settled)?,
        None => core.ingest(inputs, now)?,
    };
    for t in &transitions {
        for l in outlets.listeners.iter_mut() {
            l(t);
        }
    }
    (outlets.after_commit)(core);
    outlets.publisher.set_operations(core.operations());
    outlets.publisher.set_daemon_alerts(core.daemon_alerts());
    outlets.publisher.publish(core.engine_mut(), &transitions);
    core.answer_replies();
    Ok(())
}

/// systemd's watchdog, petted from the core loop so that a wedged core is restarted.
struct Watchdog {
    every: Option<std::time::Duration>,
    last: Instant,
}

impl Watchdog {
    fn new() -> Self {
        Watchdog {
            every: crate::hw::systemd::watchdog_interval(),
            last: Instant::now(),
        }
    }

    fn pet(&mut self) {
        if self.every.is_some_and(|every| self.last.elapsed() >= every) {
            crate::hw::systemd::notify_watchdog();
            self.last = Instant::now();
        }
    }
}
