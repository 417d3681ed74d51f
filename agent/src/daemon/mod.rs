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

pub mod core;
pub mod feed;

pub mod upstream;

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

use self::core::{Core, CoreError};
use self::feed::SimulationStart;
use crate::alert::Transition;
use crate::clock::Clock;
use crate::config::Config;
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
    #[error("cannot start: {0}")]
    Start(std::io::Error),
    #[error("the core thread stopped unexpectedly")]
    CorePanicked,
    #[error("uplink: {0}")]
    Uplink(crate::uplink::UplinkError),
    #[error("hardware devices missing:\n{0}")]
    Devices(String),
    #[error("hardware: {0}")]
    Hardware(#[from] crate::hw::HwError),
}

/// Something that wants to hear about transitions once they are journalled.
pub type Listener = Box<dyn FnMut(&Transition) + Send>;

/// Runs the daemon until SIGTERM or SIGINT (Ok) or a fatal error (Err).
pub fn run(cfg: Config, opts: RunOptions) -> Result<(), RunError> {
    let cfg = Arc::new(cfg);
    let dir = cfg.storage.dir.clone();
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Storage {
        path: dir.clone(),
        source,
    })?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = File::create(&lock_path).map_err(|source| RunError::Storage {
        path: lock_path.clone(),
        source,
    })?;
    if lock.try_lock().is_err() {
        return Err(RunError::Locked(dir));
    }

    let missing = crate::hw::device_problems(&cfg, &opts.config_path);
    if !missing.is_empty() {
        let lines: Vec<String> = missing.iter().map(ToString::to_string).collect();
        return Err(RunError::Devices(lines.join("\n")));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(RunError::Start)?;
    let cancel = CancellationToken::new();
    runtime.spawn(stop_on_signal(&runtime, cancel.clone()).map_err(RunError::Start)?);

    // Open the core, deciding the clock from what the journal remembers.
    let simulation = cfg.simulation.clone().filter(|s| s.enabled);
    let mut sim_plan: Option<(Clock, SimulationStart)> = None;
    let opened = Core::open(&cfg, |journal, restored| match &simulation {
        None => Utc::now(),
        Some(sim) => {
            let (start, origin) = simulation_start(&cfg, sim, journal, restored);
            let clock = Clock::simulated(origin, sim.speed);
            sim_plan = Some((clock, start));
            origin
        }
    })?;
    let clock = sim_plan.map_or(Clock::Wall, |(c, _)| c);
    let console = Console::new(&cfg);
    let mut core = opened.core;
    print_banner(&cfg, &core, opened.restored, &sim_plan, &opts);
    for t in &opened.transitions {
        println!("{}", console.line(t));
    }

    let (mut publisher, live) = live::channel(core.engine_mut());
    let (tx, rx) = mpsc::sync_channel::<Input>(CHANNEL_CAPACITY);

    // The staff page. Failing to listen is not fatal: the rules, the console and the
    // uplink matter more than the page.
    match runtime.block_on(tokio::net::TcpListener::bind(&cfg.dashboard.listen)) {
        Ok(listener) => {
            if let Ok(addr) = listener.local_addr() {
                println!("staff page: http://{addr}/");
            }
            let state = crate::dashboard::DashboardState {
                cfg: cfg.clone(),
                live: live.clone(),
                inputs: tx.clone(),
            };
            let cancel = cancel.clone();
            runtime.spawn(async move {
                if let Err(e) = crate::dashboard::serve(listener, state, cancel).await {
                    tracing::error!(error = %e, "staff page stopped");
                }
            });
        }
        Err(e) => tracing::error!(
            listen = %cfg.dashboard.listen,
            error = %e,
            "staff page: cannot listen; running without it"
        ),
    }
    let mut feeds = Vec::new();
    if let Some(path) = opts.events.clone() {
        let resume = core
            .journal()
            .meta(&feed::events_key(&path))
            .map_err(CoreError::from)?;
        let (tx, cancel) = (tx.clone(), cancel.clone());
        feeds.push(
            std::thread::Builder::new()
                .name("events".into())
                .spawn(move || feed::follow_events(path, resume, tx, cancel))
                .map_err(RunError::Start)?,
        );
    }
    if let (Some(sim), Some((clock, start))) = (simulation, sim_plan) {
        let (tx, cancel, cfg) = (tx.clone(), cancel.clone(), cfg.clone());
        feeds.push(
            std::thread::Builder::new()
                .name("simulation".into())
                .spawn(move || feed::simulate(&cfg, sim.seed, clock, start, tx, cancel))
                .map_err(RunError::Start)?,
        );
    }

    // The uplink: store-and-forward from the outbox to the regulator's broker.
    let wake = Arc::new(tokio::sync::Notify::new());
    let mut uplink_task = None;
    if cfg.mqtt.enabled {
        let settings =
            crate::uplink::UplinkSettings::from_config(&cfg).map_err(RunError::Uplink)?;
        let status = crate::uplink::UplinkStatus::new(Utc::now());
        core.set_uplink_status(status.clone());
        let (cmd_tx, mut cmd_rx) = tokio::sync::mpsc::channel::<crate::uplink::Command>(16);
        println!(
            "uplink: mqtt{}://{}:{} as {}",
            if cfg.mqtt.tls.is_some() { "s" } else { "" },
            cfg.mqtt.host,
            cfg.mqtt.port,
            cfg.mqtt.client_id.as_deref().unwrap_or(&cfg.facility.id)
        );
        let db = core.journal().path().to_path_buf();
        let stop = cancel.clone();
        let link = crate::uplink::run(settings, db, wake.clone(), cmd_tx, status, cancel.clone());
        uplink_task = Some(runtime.spawn(async move {
            let result = link.await;
            if let Err(e) = &result {
                // Network trouble is retried inside; an error here is not (the outbox
                // cannot be read): stop, and let the supervisor restart the agent.
                tracing::error!(error = %e, "uplink failed; stopping");
                stop.cancel();
            }
            result
        }));
        // Commands from the platform go to the core like any other input.
        let inputs = tx.clone();
        runtime.spawn(async move {
            while let Some(cmd) = cmd_rx.recv().await {
                let inputs = inputs.clone();
                let sent = tokio::task::spawn_blocking(move || inputs.send(Input::Command(cmd)));
                if !matches!(sent.await, Ok(Ok(()))) {
                    break;
                }
            }
        });
    } else {
        println!("uplink: off ([mqtt] enabled = false); messages wait in the outbox");
    }
    // The local alarm: while a critical alert is open and unacknowledged. Logged always;
    // on the buzzer and light too where `[outputs]` names them.
    runtime.spawn(crate::alarm::run(live.clone(), cancel.clone()));
    let mut hw_threads = Vec::new();
    if let Some((handle, thread)) = crate::hw::gpio::spawn_outputs(&cfg, cancel.clone())? {
        hw_threads.push(thread);
        let mut watch = live.watch();
        let stop = cancel.clone();
        runtime.spawn(async move {
            let mut sounding = false;
            loop {
                let on =
                    !crate::alarm::unacknowledged_critical(&watch.borrow_and_update()).is_empty();
                if on != sounding {
                    use crate::hw::gpio::Severity;
                    handle.set(if on {
                        Severity::Critical
                    } else {
                        Severity::Off
                    });
                    sounding = on;
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    changed = watch.changed() => if changed.is_err() { break },
                }
            }
        });
    }
    // Sensors, doors and readers on the board.
    hw_threads.extend(crate::hw::spawn(&cfg, tx.clone(), cancel.clone())?);

    // Wake the uplink after every commit that put something in the outbox.
    let after_commit: Box<dyn FnMut(&mut Core) + Send> = {
        let wake = wake.clone();
        Box::new(move |core: &mut Core| {
            if core.take_enqueued() {
                wake.notify_one();
            }
        })
    };

    let mut listeners: Vec<Listener> = vec![Box::new(move |t| println!("{}", console.line(t)))];
    let core_cancel = cancel.clone();
    let core_thread = std::thread::Builder::new()
        .name("core".into())
        .spawn(move || {
            // Held so that the channel never reports "disconnected" while feeds come and go.
            let _keep_open = tx;
            drive(
                &mut core,
                &rx,
                clock,
                &core_cancel,
                &mut listeners,
                &mut publisher,
                after_commit,
            )
        })
        .map_err(RunError::Start)?;
    crate::hw::systemd::notify_ready();
    let mut result = core_thread.join().unwrap_or(Err(RunError::CorePanicked));
    crate::hw::systemd::notify_stopping();
    cancel.cancel();
    for t in hw_threads {
        let _ = t.join();
    }
    if let Some(task) = uplink_task {
        // A clean shutdown publishes `offline` and disconnects; give it a moment.
        match runtime.block_on(async { tokio::time::timeout(Duration::from_secs(3), task).await }) {
            Ok(Ok(Err(e))) if result.is_ok() => result = Err(RunError::Uplink(e)),
            _ => {}
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(lock);
    result
}

/// The core loop: wait for inputs or the next timer, take in a batch, let its effects out.
fn drive(
    core: &mut Core,
    rx: &mpsc::Receiver<Input>,
    clock: Clock,
    cancel: &CancellationToken,
    listeners: &mut [Listener],
    publisher: &mut live::Publisher,
    mut after_commit: Box<dyn FnMut(&mut Core) + Send>,
) -> Result<(), RunError> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Under simulation the rules' time is the feed's: the latest simulated time received.
    let simulated = matches!(clock, Clock::Simulated { .. });
    let mut feed_now = core.engine().clock();
    let watchdog = crate::hw::systemd::watchdog_interval();
    let mut last_watchdog = std::time::Instant::now();
    loop {
        if watchdog.is_some_and(|every| last_watchdog.elapsed() >= every) {
            crate::hw::systemd::notify_watchdog();
            last_watchdog = std::time::Instant::now();
        }
        let stopping = cancel.is_cancelled();
        let wait = core
            .next_due()
            .map_or(MAX_SLEEP, |due| clock.real_until(due).min(MAX_SLEEP));
        if !stopping {
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
        let now = if simulated {
            for input in &batch {
                let t = match input {
                    Input::Time(t) => Some(*t),
                    Input::Simulated { event, .. } => event.utc(),
                    Input::Line { .. } | Input::Local { .. } | Input::Command(_) => None,
                };
                feed_now = feed_now.max(t);
            }
            feed_now.unwrap_or_else(|| clock.now())
        } else {
            clock.now()
        };
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
            let transitions = if settle {
                core.ingest_and_settle(inputs, now, settled)?
            } else {
                core.ingest(inputs, now)?
            };
            for t in &transitions {
                for l in listeners.iter_mut() {
                    l(t);
                }
            }
            after_commit(core);
            publisher.publish(core.engine_mut(), &transitions);
            core.answer_replies();
        }
        if stopping {
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

/// Which simulated day to feed, from which event, and where the simulated clock starts:
/// where the journal left off, or the configured (else today's) date before opening.
fn simulation_start(
    cfg: &Config,
    sim: &crate::config::Simulation,
    journal: &crate::journal::Journal,
    restored: Option<DateTime<Utc>>,
) -> (SimulationStart, DateTime<Utc>) {
    let tz = cfg.facility.timezone;
    let latest: Option<(NaiveDate, u64)> = journal
        .meta_with_prefix("simulation:")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| {
            let date = k.strip_prefix("simulation:")?.parse().ok()?;
            Some((date, v.parse().ok()?))
        })
        .max();
    let day_start = |date: NaiveDate| {
        let at = sim
            .start
            .map(|t| t.0)
            .unwrap_or_else(|| cfg.facility.open.0 - ChronoDuration::minutes(30));
        tz.from_local_datetime(&date.and_time(at))
            .earliest()
            .map_or_else(|| date.and_time(at).and_utc(), |t| t.with_timezone(&Utc))
    };
    match (latest, restored) {
        (Some((date, taken)), Some(clock)) => (
            SimulationStart {
                date,
                taken,
                origin: clock,
            },
            clock,
        ),
        (_, Some(clock)) => {
            // A journal from a run without simulation: simulate from its clock's day.
            let date = clock.with_timezone(&tz).date_naive();
            let origin = day_start(date).max(clock);
            (
                SimulationStart {
                    date,
                    taken: 0,
                    origin,
                },
                origin,
            )
        }
        (_, None) => {
            let date = sim
                .date
                .unwrap_or_else(|| Utc::now().with_timezone(&tz).date_naive());
            let origin = day_start(date);
            (
                SimulationStart {
                    date,
                    taken: 0,
                    origin,
                },
                origin,
            )
        }
    }
}

fn print_banner(
    cfg: &Config,
    core: &Core,
    restored: bool,
    sim: &Option<(Clock, SimulationStart)>,
    opts: &RunOptions,
) {
    let f = &cfg.facility;
    println!(
        "nursery-agent {} — {} ({}), preset {}, journal {}",
        env!("CARGO_PKG_VERSION"),
        f.name,
        f.id,
        f.ratio_preset.name(),
        core.journal().path().display()
    );
    if let Some((clock, start)) = sim {
        let speed = match clock {
            Clock::Simulated { speed, .. } => *speed,
            Clock::Wall => 1.0,
        };
        println!(
            "simulated nursery: day {} from {}, {speed}× real time",
            start.date,
            core.engine().local(clock.now()).format("%H:%M:%S")
        );
    }
    if let Some(p) = &opts.events {
        println!("events from {}", p.display());
    }
    let occupancy = core.engine().occupancy();
    let open = core.engine().open_alerts();
    if restored {
        println!(
            "restored from the journal: {} people checked in, {} open alerts",
            occupancy.len(),
            open.len()
        );
    }
    for (id, kind, subject, since) in &open {
        println!(
            "  open: {id} {} {subject} since {}",
            kind.as_str(),
            core.engine().local(*since).format("%H:%M:%S")
        );
    }
}
