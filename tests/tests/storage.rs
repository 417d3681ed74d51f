//! Storage over the years (issue 10.3, 10.4, 10.1's storage part): what the journal
//! writes when, retention into daily archives that `replay` and `export` read, a file that
//! shrinks after pruning, and the storage budget's levels.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use nursery_agent::alert::Transition;
use nursery_agent::config::{self, Config};
use nursery_agent::event::Event;
use nursery_agent::journal::budget::{Pressure, StorageBudget};
use nursery_agent::journal::retention::{self, archive_name};
use nursery_agent::journal::{Journal, JournalReader, MetaKey};
use nursery_testkit::{ev, Roster};

fn config(dir: &Path, storage: &str) -> Config {
    let text = Roster::sunflower()
        .storage(&dir.join("state"))
        .mqtt_off()
        .set("storage", "keep_days", 1)
        .raw(storage)
        .toml();
    let path = nursery_testkit::write_config(dir, &text);
    config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Journals `lines` as one batch; marks the day's summary as queued when `summarised`.
fn journal_day(j: &mut Journal, lines: &[String], day: NaiveDate, summarised: bool) {
    let b = j.batch().unwrap();
    for l in lines {
        b.event_line(&Event::parse(l).unwrap(), l).unwrap();
    }
    if summarised {
        b.set_meta(&MetaKey::Summary(day), "1").unwrap();
    }
    b.commit().unwrap();
}

fn day_lines(day: &str, n: usize) -> Vec<String> {
    let d = ev::Day::new(day, "+08:00");
    let mut out = vec![ev::check_in(d.at("08:00"), "s-01")];
    for i in 0..n {
        let t = format!("{:02}:{:02}", 9 + i / 60 % 9, i % 60);
        out.push(ev::door_open(d.at(&t), "entrance"));
        out.push(ev::door_closed(d.at(&t), "entrance"));
    }
    out
}

fn exported(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    nursery_agent::status::export(cfg, false, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_day_beyond_keep_days_goes_to_an_archive_that_export_and_replay_read_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let (first, second) = (day_lines("2026-03-02", 30), day_lines("2026-03-03", 30));
    let mut j = Journal::open(&cfg.storage.dir).unwrap();
    journal_day(&mut j, &first, date("2026-03-02"), true);
    journal_day(&mut j, &second, date("2026-03-03"), true);
    let before = exported(&cfg);

    let tz = cfg.facility.timezone;
    let archive = cfg.storage.archive_path();
    let done = j.retain(tz, date("2026-03-03"), 1, &archive).unwrap();
    assert_eq!(done.archived, vec![date("2026-03-02")]);
    assert!(archive.join(archive_name(date("2026-03-02"))).exists());
    // Only the kept day is left in SQLite; export gives the whole history, unchanged.
    assert_eq!(j.event_lines().unwrap(), second);
    assert_eq!(exported(&cfg), before);

    // `replay` reads the archive directly, and judges it as it judges the plain log.
    let gz = archive.join(archive_name(date("2026-03-02")));
    let plain = dir.path().join("day1.jsonl");
    std::fs::write(&plain, ev::log(&first)).unwrap();
    let replay = |path: &Path| {
        let mut out = Vec::new();
        let input = retention::open_event_log(path).unwrap();
        let o =
            nursery_agent::replay::replay(&cfg, input, None, &mut out, &mut Vec::new()).unwrap();
        (o.accepted, o.rejected, String::from_utf8(out).unwrap())
    };
    let (accepted, rejected, transitions) = replay(&gz);
    assert_eq!((accepted, rejected), (first.len() as u64, 0));
    assert_eq!((accepted, rejected, transitions), replay(&plain));
}

/// The lines of one archive file, in order.
fn archived_lines(path: &Path) -> Vec<String> {
    use std::io::BufRead;
    retention::open_event_log(path)
        .unwrap()
        .lines()
        .map(Result::unwrap)
        .collect()
}

/// A journal holding 2026-03-02 (its lines returned) and 2026-03-03, both summarised.
fn two_days(dir: &Path) -> (Config, Journal, Vec<String>) {
    let cfg = config(dir, "");
    let mut j = Journal::open(&cfg.storage.dir).unwrap();
    let first = day_lines("2026-03-02", 10);
    journal_day(&mut j, &first, date("2026-03-02"), true);
    journal_day(
        &mut j,
        &day_lines("2026-03-03", 2),
        date("2026-03-03"),
        true,
    );
    (cfg, j, first)
}

#[test]
fn late_lines_for_a_day_already_archived_are_added_to_its_archive_not_written_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, mut j, first) = two_days(dir.path());
    let (tz, archive) = (cfg.facility.timezone, cfg.storage.archive_path());
    j.retain(tz, date("2026-03-03"), 1, &archive).unwrap();
    // The wall clock was set back to that day, and lines journalled there again.
    let d = ev::Day::new("2026-03-02", "+08:00");
    let late = vec![
        ev::door_open(d.at("17:00"), "garden"),
        ev::door_closed(d.at("17:01"), "garden"),
    ];
    journal_day(&mut j, &late, date("2026-03-02"), true);
    let done = j.retain(tz, date("2026-03-03"), 1, &archive).unwrap();
    assert_eq!(done.archived, vec![date("2026-03-02")]);

    let gz = archive.join(archive_name(date("2026-03-02")));
    let whole: Vec<String> = first.iter().chain(&late).cloned().collect();
    assert_eq!(
        archived_lines(&gz),
        whole,
        "the day's first archive is kept"
    );
    assert_eq!(
        retention::archives(&archive).unwrap().len(),
        1,
        "one file a day"
    );
}

#[test]
fn an_archive_whose_pruning_never_committed_is_written_again_from_the_rows_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, mut j, first) = two_days(dir.path());
    let (tz, archive) = (cfg.facility.timezone, cfg.storage.archive_path());
    // A power cut after the archive's rename, before the rows went: the file holds the
    // day, and so does the journal.
    std::fs::create_dir_all(&archive).unwrap();
    let gz = archive.join(archive_name(date("2026-03-02")));
    {
        use std::io::Write;
        let mut w = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        for l in &first {
            writeln!(w, "{l}").unwrap();
        }
        w.finish().unwrap();
    }
    let done = j.retain(tz, date("2026-03-03"), 1, &archive).unwrap();
    assert_eq!(done.archived, vec![date("2026-03-02")]);
    assert_eq!(archived_lines(&gz), first);
}

#[test]
fn a_day_whose_summary_is_not_queued_stays_in_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let mut j = Journal::open(&cfg.storage.dir).unwrap();
    journal_day(
        &mut j,
        &day_lines("2026-03-02", 5),
        date("2026-03-02"),
        false,
    );
    let done = j
        .retain(
            cfg.facility.timezone,
            date("2026-03-10"),
            1,
            &cfg.storage.archive_path(),
        )
        .unwrap();
    assert!(done.archived.is_empty(), "{done:?}");
    assert_eq!(done.held, vec![date("2026-03-02")]);
    assert_eq!(j.event_lines().unwrap().len(), 11);
}

#[test]
fn pruning_gives_the_pages_back_so_the_file_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let mut j = Journal::open(&cfg.storage.dir).unwrap();
    for d in ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"] {
        journal_day(&mut j, &day_lines(d, 3000), date(d), true);
    }
    let db = j.path().to_path_buf();
    j.connection()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let big = std::fs::metadata(&db).unwrap().len();
    let done = j
        .retain(
            cfg.facility.timezone,
            date("2026-03-05"),
            1,
            &cfg.storage.archive_path(),
        )
        .unwrap();
    assert_eq!(done.archived.len(), 3);
    let small = std::fs::metadata(&db).unwrap().len();
    assert!(
        small * 2 < big,
        "three of four days pruned: {big} bytes before, {small} after"
    );
}

#[test]
fn a_pruned_days_pages_are_kept_for_the_next_day_so_the_file_does_not_grow_again() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let tz = cfg.facility.timezone;
    let archive = cfg.storage.archive_path();
    let mut j = Journal::open(&cfg.storage.dir).unwrap();
    let pages = |j: &Journal| -> i64 {
        j.connection()
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap()
    };
    for d in ["2026-03-02", "2026-03-03"] {
        journal_day(&mut j, &day_lines(d, 3000), date(d), true);
    }
    let done = j.retain(tz, date("2026-03-03"), 1, &archive).unwrap();
    assert_eq!(done.archived, vec![date("2026-03-02")]);
    assert_eq!(
        done.freed_pages, 0,
        "one day's worth free is kept: {done:?}"
    );
    assert!(done.reserve_pages > 0, "{done:?}");
    let before = pages(&j);
    journal_day(
        &mut j,
        &day_lines("2026-03-04", 3000),
        date("2026-03-04"),
        true,
    );
    let after = pages(&j);
    assert!(
        after * 20 <= before * 21,
        "the next day went into the free pages: {before} pages before, {after} after"
    );
}

fn transition(at: &str) -> Transition {
    let ts: DateTime<chrono::FixedOffset> = at.parse().unwrap();
    Transition {
        ts,
        alert_id: "A1".into(),
        alert_type: nursery_agent::alert::AlertType::DoorForced,
        severity: nursery_agent::alert::AlertType::DoorForced.severity(),
        state: nursery_agent::alert::AlertState::Raised,
        subject: "entrance".into(),
        details: serde_json::Map::new(),
    }
}

#[test]
fn readings_wait_in_memory_but_an_alert_commits_them_with_it_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let d = ev::Day::new("2026-03-02", "+08:00");
    let mut j = Journal::open(&cfg.storage.dir).unwrap();
    let reader = JournalReader::open(&cfg.storage.dir, std::time::Duration::from_secs(1)).unwrap();
    let count = |r: &JournalReader| {
        let mut n = 0;
        r.each_event_line(|_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        n
    };
    let reading = ev::reading(d.at("09:00"), "t-infant", 22.5, None);
    let b = j.batch().unwrap();
    b.event_line(&Event::parse(&reading).unwrap(), &reading)
        .unwrap();
    b.commit().unwrap();
    assert_eq!(count(&reader), 0, "a routine reading waits for its group");

    let forced = ev::door_open(d.at("09:01"), "entrance");
    let b = j.batch().unwrap();
    b.event_line(&Event::parse(&forced).unwrap(), &forced)
        .unwrap();
    b.transition(&transition("2026-03-02T09:01:00+08:00"))
        .unwrap();
    b.commit().unwrap();
    let mut lines = Vec::new();
    reader
        .each_event_line(|l| {
            lines.push(l.to_owned());
            Ok(())
        })
        .unwrap();
    assert_eq!(lines, vec![reading, forced], "both, in arrival order");
    assert_eq!(
        reader
            .transitions_since("2026-03-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap(), 10)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_reading_still_in_memory_is_written_when_the_journal_closes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let d = ev::Day::new("2026-03-02", "+08:00");
    let reading = ev::reading(d.at("09:00"), "t-infant", 22.5, None);
    {
        let mut j = Journal::open(&cfg.storage.dir).unwrap();
        let b = j.batch().unwrap();
        b.event_line(&Event::parse(&reading).unwrap(), &reading)
            .unwrap();
        b.commit().unwrap();
    }
    assert_eq!(exported(&cfg), vec![reading]);
}

#[test]
fn the_storage_budget_says_how_close_to_full_and_prunes_archives_first() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let mut j = Journal::open(&cfg.storage.dir).unwrap();
    for d in ["2026-03-02", "2026-03-03"] {
        journal_day(&mut j, &day_lines(d, 50), date(d), true);
    }
    nursery_agent::outbox::migrate(j.connection()).unwrap();
    let archive = cfg.storage.archive_path();
    j.retain(cfg.facility.timezone, date("2026-03-03"), 1, &archive)
        .unwrap();
    let roomy = StorageBudget::from_config(&cfg);
    let r = roomy.read().unwrap();
    assert_eq!(r.level, Pressure::Ok, "{r:?}");
    assert!(r.used > 0 && r.archives > 0 && r.fs_free > 0, "{r:?}");

    // A budget the directory already fills: archives go, alerts are then at risk.
    let tight = StorageBudget {
        max_bytes: r.used,
        ..roomy
    };
    assert_eq!(tight.read().unwrap().level, Pressure::AlertsAtRisk);
    let (after, done) = tight.relieve(&mut j, Utc::now()).unwrap();
    assert_eq!(done.archives_deleted, vec![date("2026-03-02")]);
    assert!(retention::archives(&archive).unwrap().is_empty());
    assert_eq!(
        after.level,
        Pressure::AlertsAtRisk,
        "the journal itself stays"
    );
    assert_eq!(
        j.event_lines().unwrap().len(),
        101,
        "the kept day is untouched"
    );
}

#[test]
fn under_pressure_the_copies_kept_for_resend_go_before_any_archive() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let mut j = Journal::open(&cfg.storage.dir).unwrap();
    for d in ["2026-03-02", "2026-03-03"] {
        journal_day(&mut j, &day_lines(d, 50), date(d), true);
    }
    let archive = cfg.storage.archive_path();
    j.retain(cfg.facility.timezone, date("2026-03-03"), 1, &archive)
        .unwrap();
    // 1,500 alerts of 4 KiB sent and acknowledged: their copies are kept for `resend`.
    let conn = j.connection();
    nursery_agent::outbox::migrate(conn).unwrap();
    let cap = nursery_agent::outbox::Cap::from_config(&cfg);
    let note = "x".repeat(4096);
    let seqs: Vec<u64> = (0..1500)
        .map(|i| {
            let body = serde_json::json!({ "note": note });
            nursery_agent::outbox::enqueue(
                conn,
                "sunflower",
                nursery_agent::wire::Kind::Alert,
                &format!("a-{i}"),
                Utc::now(),
                &body,
                &cap,
            )
            .unwrap()
            .seq
            .unwrap()
        })
        .collect();
    nursery_agent::outbox::delete_acked(conn, &seqs, &[]).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let held = nursery_agent::outbox::sent_stats(conn).unwrap().held;
    assert_eq!(held, 1500);

    // 1.5 MB of headroom in a budget of ~8 MB: archives are due to go, but the copies
    // go first, and freeing them is enough.
    let used = StorageBudget::from_config(&cfg).read().unwrap().used;
    let budget = StorageBudget {
        max_bytes: used + 1_500_000,
        ..StorageBudget::from_config(&cfg)
    };
    assert_eq!(budget.read().unwrap().level, Pressure::PruneArchives);
    let (after, done) = budget.relieve(&mut j, Utc::now()).unwrap();
    assert!(done.sent_dropped > 0, "{done:?}");
    assert!(done.archives_deleted.is_empty(), "{done:?}");
    assert!(after.level < Pressure::PruneArchives, "{after:?}");
    assert!(archive.join(archive_name(date("2026-03-02"))).exists());
    let left = nursery_agent::outbox::sent_stats(j.connection()).unwrap();
    assert_eq!(left.held + done.sent_dropped, 1500, "{left:?}");
    assert_eq!(
        left.dropped, done.sent_dropped,
        "counted, not silently gone"
    );
}

#[test]
fn storage_sizes_read_with_units_and_nonsense_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    assert_eq!(cfg.storage.max_bytes, 2 << 30, "the default is 2GiB");
    assert_eq!(cfg.storage.keep_days, 1);
    for (size, bytes) in [
        ("\"500MB\"", 500_000_000u64),
        ("\"3GiB\"", 3 << 30),
        ("4194304", 4 << 20),
    ] {
        let text = Roster::sunflower()
            .storage(&dir.path().join("s"))
            .set("storage", "max_bytes", nursery_testkit::Raw(size))
            .toml();
        let path = nursery_testkit::write_config(dir.path(), &text);
        assert_eq!(
            config::load(&path).unwrap().storage.max_bytes,
            bytes,
            "{size}"
        );
    }
    let text = Roster::sunflower()
        .storage(&dir.path().join("s"))
        .set("storage", "max_bytes", "2 parsecs")
        .toml();
    let path = nursery_testkit::write_config(dir.path(), &text);
    let Err(err) = config::load(&path) else {
        panic!("a size of \"2 parsecs\" must be refused")
    };
    let err = err.to_string();
    assert!(err.contains("max_bytes"), "{err}");
}
