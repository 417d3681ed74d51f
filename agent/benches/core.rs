//! Throughput of the agent's core, against baselines measured in the same run.
//!
//! 1. parse → rules → durable journal ([`Core::ingest`], batches of `MAX_BATCH`, WAL,
//!    `synchronous = FULL`), against a plain rusqlite loop inserting the same rows into
//!    the same table with the same pragmas and batching: the cost of everything that is
//!    not SQLite.
//! 2. `replay` of a 100,000-event day (parse → rules → JSON out), in seconds.
//!
//! Run with `cargo bench -p nursery-agent --bench core`. Prints figures; asserts nothing
//! about time (the machines are shared and noisy).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use nursery_agent::config::{self, Config};
use nursery_agent::daemon::core::{Core, Input};
use nursery_agent::daemon::MAX_BATCH;
use nursery_testkit::ev;
use rusqlite::{params, Connection};

const EVENTS: usize = 100_000;
const ROUNDS: usize = 3;

fn main() {
    let cfg = bench_config();
    let lines = day(&cfg, EVENTS);
    println!("nursery-agent core benchmark: {EVENTS} events, best of {ROUNDS} rounds");

    let mut base = f64::MAX;
    let mut agent = f64::MAX;
    for _ in 0..ROUNDS {
        base = base.min(baseline(&lines));
        agent = agent.min(through_core(&cfg, &lines));
    }
    let base_rate = EVENTS as f64 / base;
    let agent_rate = EVENTS as f64 / agent;
    println!(
        "baseline  plain rusqlite insert loop : {:>10.0} rows/s   ({:.3} s)",
        base_rate, base
    );
    println!(
        "agent     parse → rules → journal    : {:>10.0} events/s ({:.3} s)",
        agent_rate, agent
    );
    println!(
        "ratio     agent / baseline           : {:>10.2}   (target ≥ 0.50, and ≥ 100000 events/s)",
        agent_rate / base_rate
    );

    let mut best = f64::MAX;
    let text = lines.join("\n");
    let mut transitions = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let mut out = Vec::with_capacity(1 << 20);
        let o = nursery_agent::replay::replay(
            &cfg,
            text.as_bytes(),
            None,
            &mut out,
            &mut std::io::sink(),
        )
        .expect("replay");
        assert_eq!(o.rejected, 0, "the benchmark day must be valid");
        transitions = o.transitions;
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "replay    {EVENTS}-event day           : {:>10.3} s  ({transitions} transitions; target < 1 s)",
        best
    );
    let _ = std::io::stdout().flush();
}

/// The demo nursery's roster when present, else a small built-in one; storage in a
/// temporary directory per run.
fn bench_config() -> Config {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/demo.toml");
    let mut cfg = config::load(&demo).unwrap_or_else(|e| panic!("{e}"));
    cfg.mqtt.enabled = false;
    cfg.simulation = None;
    cfg
}

/// A long busy day: every child and counted staff member in the roster checked in, then
/// a stream of readings, door cycles with grants, and room moves of staff, one second
/// apart. All valid; it raises a few alerts (doors forced, temperature) along the way.
/// The lines are the shared test kit's (`nursery_testkit::ev`).
fn day(cfg: &Config, n: usize) -> Vec<String> {
    let start: DateTime<FixedOffset> = "2026-03-02T06:00:00+08:00".parse().unwrap();
    let mut out = Vec::with_capacity(n);
    let mut t = start;
    let mut tick = || {
        t += Duration::seconds(1);
        t
    };
    for id in cfg
        .staff
        .iter()
        .map(|s| &s.id)
        .chain(cfg.children.iter().map(|c| &c.id))
    {
        out.push(ev::check_in(tick(), id));
    }
    let door = |k: usize| cfg.doors[k % cfg.doors.len()].id.as_str();
    let mut i = 0usize;
    while out.len() < n {
        i += 1;
        let line = match i % 8 {
            0..=3 => {
                let s = &cfg.sensors[i % cfg.sensors.len().max(1)];
                let celsius = (220 + i % 70) as f64 / 10.0;
                ev::reading(tick(), &s.id, celsius, (40 + i % 20) as f64)
            }
            4 => ev::exit_button(tick(), door(i)),
            5 => ev::door_open(tick(), door(i - 1)),
            6 => ev::door_closed(tick(), door(i - 2)),
            _ => {
                let s = &cfg.staff[i % cfg.staff.len()];
                ev::move_to(tick(), &s.id, &s.room)
            }
        };
        out.push(line);
    }
    out
}

fn pragmas(conn: &Connection) {
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
}

/// The same rows as the journal's `events` table, inserted by a bare loop.
fn baseline(lines: &[String]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("baseline.db")).unwrap();
    pragmas(&conn);
    conn.execute_batch(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, ts_ms INTEGER NOT NULL, body TEXT NOT NULL);
         CREATE INDEX events_ts ON events (ts_ms);",
    )
    .unwrap();
    // Timestamps are cut out of the lines beforehand: the baseline does no parsing.
    let rows: Vec<(&str, i64, &str)> = lines
        .iter()
        .map(|l| {
            let ts = &l[7..32];
            let ms = DateTime::parse_from_rfc3339(ts).unwrap().timestamp_millis();
            (ts, ms, l.as_str())
        })
        .collect();
    let t = Instant::now();
    for chunk in rows.chunks(MAX_BATCH) {
        let tx = conn.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO events (ts, ts_ms, body) VALUES (?1, ?2, ?3)")
                .unwrap();
            for (ts, ms, body) in chunk {
                stmt.execute(params![ts, ms, body]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    t.elapsed().as_secs_f64()
}

fn through_core(cfg: &Config, lines: &[String]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = cfg.clone();
    cfg.storage.dir = dir.path().to_path_buf();
    let first: DateTime<Utc> = "2026-03-02T06:00:00+08:00".parse().unwrap();
    let mut core = Core::open(&cfg, |_, _| first).unwrap().core;
    let inputs: Vec<Vec<Input>> = lines
        .chunks(MAX_BATCH)
        .map(|c| {
            c.iter()
                .map(|l| Input::Line {
                    text: l.clone(),
                    resume: None,
                })
                .collect()
        })
        .collect();
    let t = Instant::now();
    let mut last = first;
    for batch in inputs {
        // The core's "now" is the batch's last event, as when following a fast feed.
        if let Some(Input::Line { text, .. }) = batch.last() {
            last = DateTime::parse_from_rfc3339(&text[7..32])
                .unwrap()
                .with_timezone(&Utc);
        }
        core.ingest(batch, last).unwrap();
    }
    let elapsed = t.elapsed().as_secs_f64();
    assert_eq!(core.stats().rejected, 0, "the benchmark day must be valid");
    elapsed
}
