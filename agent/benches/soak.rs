//! Soak (issue 10.6): simulated nursery days, one after the other, as fast as the machine
//! goes, through the real core, journal, outbox and retention, printing per day the
//! resident memory, the storage directory's bytes, the bytes written and the days
//! archived; memory must be flat after day 2 and storage bounded by `max_bytes`.
//!
//! `cargo bench -p nursery-agent --bench soak`. Environment: `SOAK_DAYS` (default 60),
//! `SOAK_KEEP_DAYS` (default 7), `SOAK_MAX_BYTES` (default the configuration's),
//! `NURSERY_BENCH_DIR` (a real file system; default the target directory).
//!
//! Pace: the events of each minute go in one batch and the emulated writeback runs every
//! 10 minutes of the rules' time (the `sd_budget` bench measures the one-event-per-batch,
//! 30 s writeback case); retention and the storage budget run after each day, as the
//! daemon would at midnight.

#[path = "support/day.rs"]
mod day;

use chrono::{Duration, NaiveDate};
use nursery_agent::journal::budget::StorageBudget;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a whole number")),
        Err(_) => default,
    }
}

fn main() {
    let days = env_u64("SOAK_DAYS", 60);
    let keep = env_u64("SOAK_KEEP_DAYS", 7) as u32;
    let dir = day::bench_dir("soak-");
    let mut cfg = day::demo_config(dir.path());
    cfg.storage.keep_days = keep;
    cfg.storage.max_bytes = env_u64("SOAK_MAX_BYTES", cfg.storage.max_bytes);
    let tz = cfg.facility.timezone;
    let first: NaiveDate = "2026-03-02".parse().unwrap();
    let (start, _) = nursery_agent::localtime::day_bounds(tz, first);
    let mut d = day::Driver::open(&cfg, start);
    d.per_minute = true;
    d.writeback_every = Duration::minutes(10);
    let budget = StorageBudget::from_config(&cfg);
    let archive = cfg.storage.archive_path();
    println!(
        "nursery-agent soak: {days} days from {first}, keep_days {keep}, max_bytes {}, in {}",
        cfg.storage.max_bytes,
        dir.path().display()
    );
    let t = std::time::Instant::now();
    let (mut peak_rss, mut day2_rss, mut peak_storage, mut written) = (0, 0, 0, 0u64);
    let mut archived = 0usize;
    for n in 0..days {
        let date = first + Duration::days(n as i64);
        let f = d.day(date);
        let before = day::write_bytes();
        let frames_before = d.tally_now();
        let today = date.succ_opt().expect("a next day");
        let kept = d
            .core
            .journal_mut()
            .retain(tz, today, keep, &archive)
            .expect("retention");
        archived += kept.archived.len();
        let now = d.clock();
        let (reading, relieved) = budget
            .relieve(d.core.journal_mut(), now)
            .expect("storage budget");
        d.writeback();
        let retention_frames = d.tally_now() - frames_before;
        let day_written = f.written + (day::write_bytes() - before);
        written += day_written;
        let rss = day::rss_kib();
        peak_rss = peak_rss.max(rss);
        if n == 1 {
            day2_rss = rss;
        }
        peak_storage = peak_storage.max(reading.used);
        if let Some(mut t) = d.pages.take() {
            // SD_PAGES=1: where the day's WAL frames went.
            let total: u64 = t.frames.values().sum();
            let top: Vec<String> = t
                .by_table(d.uplink())
                .into_iter()
                .take(7)
                .map(|(name, n)| format!("{name} {n}"))
                .collect();
            // The checkpoints write each page once into the database file, whose page
            // cache (and card) works in 4 KiB pages: scattered pages cost a 4 KiB each.
            let page_size = d
                .uplink()
                .query_row("PRAGMA page_size", [], |r| r.get::<_, u64>(0))
                .unwrap_or(4096);
            let os_pages: std::collections::BTreeSet<u64> = t
                .frames
                .keys()
                .map(|&p| (u64::from(p) - 1) * page_size / 4096)
                .collect();
            println!(
                "  WAL frames: {total} ({retention_frames} by retention), {} commits, {} pages in {} 4 KiB file pages: {}",
                t.commits,
                t.frames.len(),
                os_pages.len(),
                top.join(", ")
            );
            t.frames.clear();
            t.commits = 0;
            d.pages = Some(t);
        }
        println!(
            "day {:>3} {date}: rss {rss:>6} KiB, storage {:>10} bytes ({:?}), written {:>10} bytes \
             (commits {}, acks {}, db writeback {}, wal writeback {}, retention {:>8}), {} events, \
             archived days {archived}, free pages kept {}{}",
            n + 1,
            reading.used,
            reading.level,
            day_written,
            f.in_commits,
            f.in_acks,
            f.writeback_db,
            f.writeback_wal,
            day_written - f.written,
            f.events,
            kept.reserve_pages,
            if relieved.archives_deleted.is_empty() && relieved.telemetry_dropped == 0 {
                String::new()
            } else {
                format!(", relieved {relieved:?}")
            }
        );
    }
    eprintln!("({:.1} s)", t.elapsed().as_secs_f64());
    println!(
        "soak: {days} days, peak RSS {peak_rss} KiB (day 2: {day2_rss} KiB), storage {peak_storage} bytes (max_bytes {}), written {} bytes/day, archived days {archived}",
        cfg.storage.max_bytes,
        written / days.max(1)
    );
}
