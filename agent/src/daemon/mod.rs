//! `run`: the daemon.
//!
//! ```text
//!  --events PATH ─┐                        ┌─► console (human-readable, locale)
//!  simulator ─────┼─► bounded channel ─► core thread ─┤
//!  (hardware) ────┘      (Input)     journal + rules  └─► listeners (uplink, staff page)
//!                                     one transaction
//!                                     per batch, then
//!                                     effects
//! ```
//!
//! One thread — the core — owns the journal and the rules engine. It sleeps until an
//! input arrives or the rules' next timer falls due, takes in everything waiting (up to
//! [`MAX_BATCH`]) as one batch, commits it, and only then lets the transitions out.
//!
//! | file | what it does |
//! |------|--------------|
//! | `start.rs` | the storage lock; the core opened on its clock, with the backlog of `--events` |
//! | `parts.rs` | the parts around the core: staff page, feeds, uplink, alarm, hardware, SIGHUP reload |
//! | `drive.rs` | the core loop: gather a batch, commit it, let it out; systemd's watchdog |
//! | [`core`] | the batch itself: intake, transitions, outbox, commands, pressure, summaries, reload |
//! | [`feed`] | `--events` (file, FIFO, stdin) and the simulated nursery |
//! | [`upstream`] | what the platform receives, personal data masked |
//!
//! What flows into the core is [`crate::input::Input`], a leaf module the parts share.

pub mod core;
mod drive;
pub mod feed;
mod parts;
mod start;
pub mod upstream;

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use tokio_util::sync::CancellationToken;

use self::core::{Core, CoreError};
use crate::alert::Transition;
use crate::config::{Config, Problem};
use crate::console::Console;
use crate::input::Input;
use crate::live;

/// At most this many inputs go into one journal transaction.
pub const MAX_BATCH: usize = 4096;
/// Inputs waiting for the core beyond this make the feeds wait.
const CHANNEL_CAPACITY: usize = 16 * 1024;
/// The core looks at the clock at least this often.
const MAX_SLEEP: Duration = Duration::from_millis(200);
/// The rules' clock is moved on, and the journal's snapshot written, at least this often
/// (in the rules' time) on an idle day.
const SETTLE_EVERY: ChronoDuration = ChronoDuration::seconds(60);
/// On the wall clock, how far behind now the idle clock stays (see `drive`).
const SETTLE_LAG: ChronoDuration = ChronoDuration::seconds(2);
/// Lock file in the storage directory: one agent per journal.
pub const LOCK_FILE: &str = "nursery-agent.lock";

#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// `--events PATH`.
    pub events: Option<PathBuf>,
    /// The configuration file, to name it in problems with hardware devices.
    pub config_path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("storage directory {path}: {source}")]
    Storage {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another nursery-agent is already running on {0}")]
    Locked(PathBuf),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("cannot start: the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot start: the signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    #[error("cannot start: the {name} thread: {source}")]
    Thread {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the core thread stopped unexpectedly")]
    CorePanicked,
    #[error("uplink: {0}")]
    Uplink(crate::uplink::UplinkError),
    #[error("hardware devices missing:\n{}", lines(.0))]
    Devices(Vec<Problem>),
    #[error("hardware: {0}")]
    Hardware(#[from] crate::hw::HwError),
}

/// One problem a line, as `check-config` prints them.
fn lines(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// Something that wants to hear about transitions once they are journalled.
pub type Listener = Box<dyn FnMut(&Transition) + Send>;

/// Runs the daemon until SIGTERM or SIGINT (Ok) or a fatal error (Err).
pub fn run(cfg: Config, opts: RunOptions) -> Result<(), RunError> {
    let cfg = Arc::new(cfg);
    let lock = start::lock(&cfg.storage.dir)?;
    let missing = crate::hw::device_problems(&cfg, &opts.config_path);
    if !missing.is_empty() {
        return Err(RunError::Devices(missing));
    }
    let (runtime, cancel, hangup) = runtime()?;

    let started = start::open_core(&cfg, &opts)?;
    let console = Console::new(&cfg);
    start::print_banner(&cfg, &started, &opts);
    let start::Started {
        opened,
        clock,
        simulation,
        events_resume,
    } = started;
    for t in &opened.transitions {
        println!("{}", console.line(t));
    }
    let mut core = opened.core;
    let (mut publisher, live) = live::channel(core.engine_mut());
    publisher.set_operations(core.operations());
    publisher.set_daemon_alerts(core.daemon_alerts());
    publisher.publish(core.engine_mut(), &[]);
    let (tx, rx) = mpsc::sync_channel::<Input>(CHANNEL_CAPACITY);
    let wiring = parts::Wiring {
        cfg: cfg.clone(),
        tx,
        live,
        cancel: cancel.clone(),
    };
    parts::staff_page(&runtime, &wiring);
    parts::reload(&runtime, &wiring, opts.config_path.clone(), hangup);
    let _feeds = parts::feeds(&wiring, &opts, events_resume, simulation, clock)?;
    let wake = Arc::new(tokio::sync::Notify::new());
    let uplink_task = parts::uplink(&runtime, &wiring, &mut core, wake.clone())?;
    let alarm_task = parts::alarm(&runtime, &wiring)?;
    let hw_threads = parts::hardware(&wiring)?;

    // Wake the uplink after every commit that put something in the outbox.
    let after_commit: drive::AfterCommit = Box::new(move |core: &mut Core| {
        if core.take_enqueued() {
            wake.notify_one();
        }
    });
    let outlets = drive::Outlets {
        listeners: vec![Box::new(move |t| println!("{}", console.line(t)))],
        publisher,
        after_commit,
    };
    // The core holds a sender so that the channel never reports "disconnected" while
    // feeds come and go.
    let core_thread = drive::spawn(core, rx, wiring.tx.clone(), clock, &cancel, outlets)?;
    crate::hw::systemd::notify_ready();
    let result = core_thread.join().unwrap_or(Err(RunError::CorePanicked));
    crate::hw::systemd::notify_stopping();
    let result = stop(
        runtime,
        &cancel,
        hw_threads,
        alarm_task,
        uplink_task,
        result,
    );
    drop(lock);
    result
}

/// The async runtime, the token that stops everything (cancelled on SIGTERM/SIGINT), and
/// the SIGHUP stream — installed now, so that a SIGHUP during start-up does not end the
/// process.
fn runtime() -> Result<
    (
        tokio::runtime::Runtime,
        CancellationToken,
        tokio::signal::unix::Signal,
    ),
    RunError,
> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let cancel = CancellationToken::new();
    runtime.spawn(stop_on_signal(&runtime, cancel.clone()).map_err(RunError::Signals)?);
    let hangup = {
        let _guard = runtime.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(RunError::Signals)?
    };
    Ok((runtime, cancel, hangup))
}

/// Stops the parts once the core has returned: hardware threads joined, the alarm
/// silenced, the uplink given a moment to publish `offline` and disconnect.
fn stop(
    runtime: tokio::runtime::Runtime,
    cancel: &CancellationToken,
    hw_threads: Vec<std::thread::JoinHandle<()>>,
    alarm_task: tokio::task::JoinHandle<()>,
    uplink_task: Option<parts::UplinkTask>,
    mut result: Result<(), RunError>,
) -> Result<(), RunError> {
    cancel.cancel();
    for t in hw_threads {
        let _ = t.join();
    }
    let _ =
        runtime.block_on(async { tokio::time::timeout(Duration::from_secs(1), alarm_task).await });
    if let Some(task) = uplink_task {
        match runtime.block_on(async { tokio::time::timeout(Duration::from_secs(3), task).await }) {
            Ok(Ok(Err(e))) if result.is_ok() => result = Err(RunError::Uplink(e)),
            _ => {}
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// Installs the SIGTERM/SIGINT handlers now (so that a signal arriving a moment after
/// start is already a clean shutdown), and returns the task that waits for them.
fn stop_on_signal(
    runtime: &tokio::runtime::Runtime,
    cancel: CancellationToken,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let _guard = runtime.enter();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
        }
        cancel.cancel();
    })
}
