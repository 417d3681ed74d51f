//! Starting the daemon: the storage directory's lock, and the core opened on the clock
//! the journal implies (the wall clock, or the simulated clock where it left off).

use std::fs::File;
use std::path::Path;

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, TimeZone, Utc};

use super::core::{spill, Core, Opened};
use super::feed::{self, SimulationStart};
use super::{RunError, RunOptions, LOCK_FILE};
use crate::clock::Clock;
use crate::config::Config;
use crate::input::Input;

/// Creates the storage directory and takes its lock: one agent per journal. The lock is
/// held while the file is open. When the storage cannot take even the lock file (a full
/// disk, an SD card the kernel made read-only), the agent runs without it, degraded, rather
/// than exit into a restart loop with no alarm: `None`, and an error logged.
pub fn lock(dir: &Path) -> Result<Option<File>, RunError> {
    let storage = |path: &Path, source: std::io::Error| RunError::Storage {
        path: path.to_path_buf(),
        source,
    };
    let lock_path = dir.join(LOCK_FILE);
    let created = std::fs::create_dir_all(dir)
        .map_err(|e| storage(dir, e))
        .and_then(|()| File::create(&lock_path).map_err(|e| storage(&lock_path, e)));
    let lock = match created {
        Ok(lock) => lock,
        Err(RunError::Storage { path, source }) if full_or_read_only(&source) => {
            // A read-only file system still lets an existing lock file be locked.
            match File::open(&lock_path) {
                Ok(lock) => lock,
                Err(_) => {
                    tracing::error!(path = %path.display(), error = %source, "the storage cannot take the lock file: running without it (start one agent only on this storage)");
                    return Ok(None);
                }
            }
        }
        Err(e) => return Err(e),
    };
    if lock.try_lock().is_err() {
        return Err(RunError::Locked(dir.to_path_buf()));
    }
    Ok(Some(lock))
}

/// A file system that is full, over quota or read-only: what the journal survives.
fn full_or_read_only(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::StorageFull | K::QuotaExceeded | K::ReadOnlyFilesystem
    )
}

/// The core opened, with the clock the daemon runs on and, under simulation, where the
/// simulated nursery starts.
pub struct Started {
    pub opened: Opened,
    pub clock: Clock,
    pub simulation: Option<(crate::config::Simulation, SimulationStart)>,
    /// Where the `--events` feed reads on from: after the last line the start took in
    /// (the journal's position, unless the journal could not take that start in).
    pub events_resume: Option<String>,
}

/// Opens the core, deciding the clock from what the journal remembers.
/// Lines an `--events` file gained while the agent was down are taken in before the
/// start marker (see [`Core::open_with_backlog`]).
pub fn open_core(cfg: &Config, opts: &RunOptions) -> Result<Started, RunError> {
    let simulation = cfg.simulation.clone().filter(|s| s.enabled);
    let mut sim_plan: Option<(Clock, SimulationStart)> = None;
    let now = |journal: &crate::journal::Journal, restored| match &simulation {
        None => Utc::now(),
        Some(sim) => {
            let (start, origin) = simulation_start(cfg, sim, journal, restored);
            sim_plan = Some((Clock::simulated(origin, sim.speed), start));
            origin
        }
    };
    // What a stop while the journal failed left behind comes first: it happened before
    // anything the events file gained since, which is read on from where the held lines
    // end.
    let spill = cfg.storage.spill_path();
    let (held, held_to) = spill.as_deref().map(spill::read).unwrap_or_default();
    let spilled = held.len();
    // Where the events feed goes on from: after the last line this start takes in.
    let mut events_resume = None;
    let backlog = |journal: &crate::journal::Journal| {
        let mut inputs = held;
        if let Some(path) = &opts.events {
            let held_to = held_to.filter(|at| at.events == *path);
            let resume = match held_to {
                Some(at) => Some(at.position),
                None => journal.meta(&feed::events_key(path)).ok().flatten(),
            };
            inputs.extend(feed::backlog(path, resume.as_deref(), super::MAX_BATCH));
            let key = feed::events_key(path);
            events_resume = inputs
                .iter()
                .rev()
                .find_map(|i| match i {
                    Input::Line {
                        resume: Some(r), ..
                    }
                    | Input::BadLine {
                        resume: Some(r), ..
                    } if r.key == key => Some(r.value.clone()),
                    _ => None,
                })
                .or(resume);
        }
        inputs
    };
    // The file as it is now, to compare with the one in force at the last run.
    let file = (!opts.config_path.as_os_str().is_empty())
        .then(|| super::core::in_force::ConfigFile::read(cfg, &opts.config_path))
        .flatten();
    let mut opened = match file {
        Some(file) => Core::open_with_file(file, now, backlog)?,
        None => Core::open_with_backlog(cfg, now, backlog)?,
    };
    if let Some(path) = spill.as_deref().filter(|_| spilled > 0) {
        if opened.core.holding() {
            tracing::warn!(path = %path.display(), events = spilled, "held events from the last stop are held again: the journal still cannot be written");
            println!(
                "journal: {spilled} events held at the last stop are held again (writes still fail)"
            );
            opened.core.spill_held_again(path);
        } else {
            println!(
                "journal: {spilled} events held at the last stop are journalled (from {})",
                path.display()
            );
            spill::taken(path);
        }
    }
    let clock = sim_plan.map_or(Clock::Wall, |(c, _)| c);
    let simulation = simulation.zip(sim_plan.map(|(_, start)| start));
    Ok(Started {
        opened,
        clock,
        simulation,
        events_resume,
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
        .simulation_progress()
        .unwrap_or_default()
        .into_iter()
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

/// What the agent is, where its journal is, and what it restored.
pub fn print_banner(cfg: &Config, started: &Started, opts: &RunOptions) {
    let core = &started.opened.core;
    let restored = started.opened.restored;
    let sim = started
        .simulation
        .as_ref()
        .map(|(_, start)| (started.clock, start));
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
            Clock::Simulated { speed, .. } => speed,
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
