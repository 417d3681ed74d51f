//! The SD budget (issue 10.3): bytes one simulated demo day sends to the storage, through
//! the real journal and outbox write path, before and after, in the same run.
//!
//! - `legacy`: the journal as it was (every batch committed `synchronous = FULL`, the
//!   snapshot rewritten each batch, telemetry written at once);
//! - `budget`: the default (see `journal` module docs).
//!
//! Each mode runs the same day in a fresh directory under `$NURSERY_BENCH_DIR` (default:
//! the target directory; it must be a real file system, tmpfs counts nothing). Figures:
//! `/proc/self/io` `write_bytes` with the kernel's 30 s writeback emulated (see
//! `support/day.rs`), the WAL's peak size, and checks that what the day raised is durable:
//! every transition journalled (the budget mode syncs the WAL of each alert-bearing batch
//! before its commit returns).
//!
//! `cargo bench -p nursery-agent --bench sd_budget`; `SD_MODE=legacy|budget` runs one.
//! Target: ≤ 10 MB per day.

#[path = "support/day.rs"]
mod day;

use chrono::NaiveDate;
use nursery_agent::journal::WriteMode;

fn main() {
    let date: NaiveDate = "2026-03-02".parse().unwrap();
    let modes: Vec<WriteMode> = match std::env::var("SD_MODE").as_deref() {
        Ok("legacy") => vec![WriteMode::Legacy],
        Ok("budget") => vec![WriteMode::Budget],
        _ => vec![WriteMode::Legacy, WriteMode::Budget],
    };
    println!(
        "nursery-agent SD budget: the demo day {date}, one batch per event, writeback every 30 s"
    );
    for mode in modes {
        let dir = day::bench_dir("sd-budget-");
        let cfg = day::demo_config(dir.path());
        let tz = cfg.facility.timezone;
        let (start, _) = nursery_agent::localtime::day_bounds(tz, date);
        if mode == WriteMode::Legacy {
            // main's file: SQLite's default 4 KiB pages (a new journal takes 1 KiB pages
            // only when it creates the file itself).
            let db = dir.path().join(nursery_agent::journal::DB_FILE);
            let c = rusqlite::Connection::open(db).expect("legacy file");
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
        }
        if let Ok(size) = std::env::var("SD_PAGE") {
            // Experiments: another page size (fixed once the file is in WAL mode).
            let db = dir.path().join(nursery_agent::journal::DB_FILE);
            let c = rusqlite::Connection::open(db).expect("journal file");
            c.pragma_update(None, "page_size", size.parse::<u32>().expect("SD_PAGE"))
                .unwrap();
            c.pragma_update(None, "auto_vacuum", "INCREMENTAL").unwrap();
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
        }
        let mut d = day::Driver::open(&cfg, start);
        d.core.journal_mut().set_mode(mode).expect("write mode");
        // Experiments (the lever table in the README): SD_WINDOW=M the routine group's
        // window in minutes, SD_CKPT=N wal_autocheckpoint (both connections), SD_PAGE=B the
        // page size of the new file, SD_SQL statements run on the journal before the day.
        if let Ok(m) = std::env::var("SD_WINDOW") {
            let m: i64 = m.parse().expect("SD_WINDOW (minutes)");
            d.core
                .journal_mut()
                .set_group_window(chrono::Duration::minutes(m));
        }
        if mode == WriteMode::Legacy {
            d.uplink_checkpoint(1000);
        }
        let c = d.core.journal().connection();
        if let Ok(n) = std::env::var("SD_CKPT") {
            let n = n.parse::<u32>().expect("SD_CKPT");
            c.pragma_update(None, "wal_autocheckpoint", n).unwrap();
            d.uplink_checkpoint(n);
        }
        if let Ok(sql) = std::env::var("SD_SQL") {
            c.execute_batch(&sql).expect("SD_SQL");
        }
        let t = std::time::Instant::now();
        let f = d.day(date);
        let journalled = d
            .core
            .journal()
            .transition_lines()
            .expect("read back")
            .len();
        let mb = f.written as f64 / 1e6;
        println!(
            "{:<7} written {:>11} bytes/day ({mb:>7.1} MB, {:>6.0} B/event), WAL peak {:>9} bytes, \
             {} events, {} batches, {} transitions ({} journalled), {:.1} s",
            format!("{mode:?}").to_lowercase(),
            f.written,
            f.written as f64 / f.events.max(1) as f64,
            f.wal_peak,
            f.events,
            f.batches,
            f.transitions,
            journalled,
            t.elapsed().as_secs_f64(),
        );
        println!(
            "        of which: in commits {} (checkpoints, alert syncs), uplink acks {}, \
             writeback: database {}, WAL {}",
            f.in_commits, f.in_acks, f.writeback_db, f.writeback_wal
        );
        if let Some(t) = &d.pages {
            t.report(d.uplink());
        }
        assert!(
            journalled as u64 >= f.transitions,
            "every transition shown is in the journal"
        );
        drop(d);
        keep(dir);
    }
    println!("target: ≤ 10 MB/day");
}

/// `SD_KEEP=1` leaves the last mode's directory behind, to look into the journal.
fn keep(dir: tempfile::TempDir) {
    if std::env::var_os("SD_KEEP").is_some() {
        println!("kept {}", dir.path().display());
        std::mem::forget(dir);
    }
}
