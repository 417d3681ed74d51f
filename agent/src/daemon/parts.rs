//! The daemon's parts around the core, each started here: the staff page, the event feeds,
//! the uplink, the local alarm and the hardware threads. Each gets the core's input
//! channel (to send to it), the live view (to watch it) and the cancellation token.

use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::Utc;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

use super::core::Core;
use super::feed::{self, SimulationStart};
use super::{RunError, RunOptions};
use crate::clock::Clock;
use crate::config::{Config, Simulation};
use crate::input::Input;
use crate::live::Live;

/// What the parts share: the configuration, the way to the core, the live view and the
/// token that stops them all.
pub struct Wiring {
    pub cfg: Arc<Config>,
    pub tx: SyncSender<Input>,
    pub live: Live,
    pub cancel: CancellationToken,
}

/// The staff page. Failing to listen is not fatal: the rules, the console and the uplink
/// matter more than the page.
pub fn staff_page(runtime: &Runtime, w: &Wiring) {
    let cfg = &w.cfg;
    match runtime.block_on(tokio::net::TcpListener::bind(&cfg.dashboard.listen)) {
        Ok(listener) => {
            if let Ok(addr) = listener.local_addr() {
                println!("staff page: http://{addr}/");
            }
            let state = crate::dashboard::DashboardState {
                cfg: cfg.clone(),
                live: w.live.clone(),
                inputs: w.tx.clone(),
            };
            let cancel = w.cancel.clone();
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
}

/// The feeds: `--events PATH` (resumed at `resume`, after what the start took in) and the simulated
/// nursery, each on its own thread.
pub fn feeds(
    w: &Wiring,
    opts: &RunOptions,
    resume: Option<String>,
    simulation: Option<(Simulation, SimulationStart)>,
    clock: Clock,
) -> Result<Vec<JoinHandle<()>>, RunError> {
    let mut feeds = Vec::new();
    if let Some(path) = opts.events.clone() {
        let (tx, cancel) = (w.tx.clone(), w.cancel.clone());
        feeds.push(start_thread("events", move || {
            feed::follow_events(path, resume, tx, cancel)
        })?);
    }
    if let Some((sim, start)) = simulation {
        let (tx, cancel, cfg) = (w.tx.clone(), w.cancel.clone(), w.cfg.clone());
        feeds.push(start_thread("simulation", move || {
            feed::simulate(&cfg, sim.seed, clock, start, tx, cancel)
        })?);
    }
    Ok(feeds)
}

/// The uplink task, if `[mqtt]` is enabled.
pub type UplinkTask = tokio::task::JoinHandle<Result<(), crate::uplink::UplinkError>>;

/// The uplink: store-and-forward from the outbox to the regulator's broker, woken by
/// `wake`; the platform's commands go to the core like any other input.
pub fn uplink(
    runtime: &Runtime,
    w: &Wiring,
    core: &mut Core,
    wake: Arc<tokio::sync::Notify>,
) -> Result<Option<UplinkTask>, RunError> {
    let cfg = &w.cfg;
    if !cfg.mqtt.enabled {
        println!("uplink: off ([mqtt] enabled = false); messages wait in the outbox");
        return Ok(None);
    }
    let settings = crate::uplink::UplinkSettings::from_config(cfg).map_err(RunError::Uplink)?;
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
    let stop = w.cancel.clone();
    let link = crate::uplink::run(settings, db, wake, cmd_tx, status, w.cancel.clone());
    let task = runtime.spawn(async move {
        let result = link.await;
        if let Err(e) = &result {
            // Network trouble is retried inside; an error here is not (the outbox cannot be
            // read): stop, and let the supervisor restart the agent.
            tracing::error!(error = %e, "uplink failed; stopping");
            stop.cancel();
        }
        result
    });
    let inputs = w.tx.clone();
    runtime.spawn(async move {
        while let Some(cmd) = cmd_rx.recv().await {
            let inputs = inputs.clone();
            let sent = tokio::task::spawn_blocking(move || inputs.send(Input::Command(cmd)));
            if !matches!(sent.await, Ok(Ok(()))) {
                break;
            }
        }
    });
    Ok(Some(task))
}

/// The local alarm: while a critical alert is open and unacknowledged. Logged always; on
/// the buzzer and light too where `[outputs]` names them, with the same pattern.
pub fn alarm(runtime: &Runtime, w: &Wiring) -> Result<tokio::task::JoinHandle<()>, RunError> {
    let lines = crate::hw::alarm_lines(&w.cfg)?;
    Ok(runtime.spawn(crate::alarm::run(lines, w.live.clone(), w.cancel.clone())))
}

/// Sensors, doors and readers on the board.
pub fn hardware(w: &Wiring) -> Result<Vec<JoinHandle<()>>, RunError> {
    let tests = w.live.test_presses().clone();
    Ok(crate::hw::spawn(
        &w.cfg,
        w.tx.clone(),
        tests,
        w.cancel.clone(),
    )?)
}

/// Starts a named thread.
pub fn start_thread(
    name: &str,
    body: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, RunError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map_err(|source| RunError::Thread {
            name: name.into(),
            source,
        })
}

/// Reload on SIGHUP: the configuration file is re-read and validated off the runtime, and
/// what it gave (to apply, or refused with every problem) goes to the core in order with
/// the other inputs.
pub fn reload(
    runtime: &Runtime,
    w: &Wiring,
    path: std::path::PathBuf,
    mut hangup: tokio::signal::unix::Signal,
) {
    let (tx, cancel) = (w.tx.clone(), w.cancel.clone());
    runtime.spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                got = hangup.recv() => if got.is_none() { break },
            }
            tracing::info!(path = %path.display(), "SIGHUP: reloading the configuration");
            let (path, tx) = (path.clone(), tx.clone());
            let sent = tokio::task::spawn_blocking(move || tx.send(Input::Reload(read(&path))));
            if !matches!(sent.await, Ok(Ok(()))) {
                break;
            }
        }
    });
}

/// Reads and validates the configuration at `path`.
fn read(path: &std::path::Path) -> crate::input::Reload {
    use crate::input::Reload;
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Reload::Refused {
                problems: vec![format!("{}: {e}", path.display())],
            }
        }
    };
    match crate::config::load(path) {
        Ok(cfg) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Reload::Apply {
                cfg: Box::new(cfg),
                hash: crate::config::content_hash(&text),
                text,
            }
        }
        Err(errors) => Reload::Refused {
            problems: errors.problems.iter().map(ToString::to_string).collect(),
        },
    }
}
