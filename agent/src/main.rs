//! The `nursery-agent` binary: parses the command line and hands over to the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, FixedOffset, Utc};
use clap::{Parser, Subcommand};

use nursery_agent::config;

#[derive(Parser)]
#[command(
    name = "nursery-agent",
    version,
    about = "Nursery safety agent: sensors, rules, alerts, regulator uplink"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: sensors in, rules, local alerts, store-and-forward to MQTT.
    Run {
        #[arg(long)]
        config: PathBuf,
        /// Also take events (JSON Lines) from this file, FIFO, or `-` for stdin.
        #[arg(long)]
        events: Option<PathBuf>,
    },
    /// Validate the configuration (roster included) and print a one-line summary.
    CheckConfig {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the rules over a recorded event log and print every alert transition.
    Replay {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        events: PathBuf,
        /// Fire timers up to this time (RFC 3339) and ignore later events.
        #[arg(long)]
        until: Option<DateTime<FixedOffset>>,
    },
    /// Print what the agent's journal holds now: clock, occupancy, open alerts (JSON).
    Status {
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the journal's events (an event log `replay` accepts), or its alert transitions.
    Export {
        #[arg(long)]
        config: PathBuf,
        /// Print the alert transitions instead of the events.
        #[arg(long)]
        transitions: bool,
    },
    /// Print a simulated nursery day as an event log that `replay` accepts.
    Simulate {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, default_value_t = 2019)]
        seed: u64,
        /// The day to simulate (YYYY-MM-DD); default: today in the facility's time zone.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// Print the daily ledger (台账) of one local date: arrivals and pick-ups, health
    /// checks, absences, staff on duty, naps and sleep checks, alerts and what was done
    /// about them. It names people: it is for the device's own printer, not for upstream.
    Report {
        #[arg(long)]
        config: PathBuf,
        /// The local date (YYYY-MM-DD) in the facility's time zone.
        #[arg(long)]
        date: chrono::NaiveDate,
        #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
        format: ReportFormat,
    },
    /// Read a staff PIN from stdin and print its argon2 hash (PHC string) for the roster's
    /// `pin_hash`.
    HashPin,
}

/// What `report` prints.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    /// One self-contained page that prints to A4.
    Html,
    /// UTF-8 with a byte-order mark and CRLF, for Excel and WPS.
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => check_config(&config),
        Command::Replay {
            config,
            events,
            until,
        } => replay(&config, &events, until.map(|u| u.with_timezone(&Utc))),
        Command::Simulate { config, seed, date } => simulate(&config, seed, date),
        Command::Run { config, events } => run(&config, events),
        Command::Status { config } => status(&config),
        Command::Export {
            config,
            transitions,
        } => export(&config, transitions),
        Command::Report {
            config,
            date,
            format,
        } => report(&config, date, format),
        Command::HashPin => hash_pin(),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NURSERY_AGENT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn run(config: &std::path::Path, events: Option<PathBuf>) -> ExitCode {
    init_logging();
    let cfg = match load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let opts = nursery_agent::daemon::RunOptions {
        events,
        config_path: config.to_path_buf(),
    };
    match nursery_agent::daemon::run(cfg, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("nursery-agent: {e}");
            ExitCode::from(1)
        }
    }
}

/// Prints what the journal in the configured storage directory holds now, as one JSON
/// object: the rules' clock, who is checked in where, and the open alerts. Read-only; safe
/// while the daemon runs.
fn status(config: &std::path::Path) -> ExitCode {
    let cfg = match load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match nursery_agent::status::read(&cfg) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nursery-agent: {e}");
            ExitCode::from(1)
        }
    }
}

fn load_or_report(path: &std::path::Path) -> Result<config::Config, ExitCode> {
    config::load(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match load_or_report(path) {
        Ok(cfg) => {
            println!(
                "{}: ok — facility {} ({}), {} rooms, {} staff, {} children",
                path.display(),
                cfg.facility.id,
                cfg.facility.ratio_preset.name(),
                cfg.rooms.len(),
                cfg.staff.len(),
                cfg.children.len()
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn replay(
    config: &std::path::Path,
    events: &std::path::Path,
    until: Option<DateTime<Utc>>,
) -> ExitCode {
    let cfg = match load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // An archived day (`.gz`) replays as it is.
    let file = match nursery_agent::journal::retention::open_event_log(events) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}: {e}", events.display());
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let result = nursery_agent::replay::replay(&cfg, file, until, &mut out, &mut err);
    let _ = out.flush();
    match result {
        Ok(o) if o.rejected == 0 => ExitCode::SUCCESS,
        Ok(o) => {
            let _ = writeln!(
                err,
                "{}: {} of {} lines rejected",
                events.display(),
                o.rejected,
                o.rejected + o.accepted
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{}: {e}", events.display());
            ExitCode::from(2)
        }
    }
}

fn simulate(config: &std::path::Path, seed: u64, date: Option<chrono::NaiveDate>) -> ExitCode {
    let cfg = match load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let date = date
        .or(cfg.simulation.as_ref().and_then(|s| s.date))
        .unwrap_or_else(|| {
            Utc::now()
                .with_timezone(&cfg.facility.timezone)
                .date_naive()
        });
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for ev in nursery_agent::simulate::simulate_day(&cfg, seed, date) {
        if writeln!(out, "{}", ev.to_json_line()).is_err() {
            return ExitCode::from(1);
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}

fn export(config: &std::path::Path, transitions: bool) -> ExitCode {
    let cfg = match load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = nursery_agent::status::export(&cfg, transitions, &mut out);
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nursery-agent: {e}");
            ExitCode::from(1)
        }
    }
}

/// Prints the ledger of `date` from the journal (read-only; safe while the daemon runs).
/// No journal, or nothing in it on that date: a message and status 1.
fn report(config: &std::path::Path, date: chrono::NaiveDate, format: ReportFormat) -> ExitCode {
    let cfg = match load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let ledger = match nursery_agent::ledger::from_storage(&cfg, date) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("nursery-agent: report for {date}: {e}");
            return ExitCode::from(1);
        }
    };
    let text = match format {
        ReportFormat::Html => nursery_agent::ledger::html::render(&ledger, ""),
        ReportFormat::Csv => nursery_agent::ledger::csv::render(&ledger),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nursery-agent: report: cannot write: {e}");
            ExitCode::from(1)
        }
    }
}

fn hash_pin() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("nursery-agent: cannot read the PIN from stdin: {e}");
        return ExitCode::from(2);
    }
    match nursery_agent::dashboard::auth::hash_pin(line.trim_end_matches(['\r', '\n'])) {
        Ok(phc) => {
            println!("{phc}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nursery-agent: {e}");
            ExitCode::from(2)
        }
    }
}
