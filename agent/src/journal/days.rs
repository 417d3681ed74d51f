//! The events of each local day in a table of their own, and `events`, the view over all of
//! them, which is what everything else reads.
//!
//! Why: retention takes a whole day out of SQLite every night. A `DELETE` of the day's rows
//! rewrote about half of the pages it freed, b-tree rebalancing as it went, and in WAL mode
//! every rewritten page goes to the WAL and then, at the next checkpoint, into the file:
//! about 1,000 of the ~1,900 pages a demo day frees, some 1.5 MB a night for pages that were
//! being thrown away (the soak's 10.1 MB/day once retention started, against 7.4 before).
//! `DROP TABLE` puts a table's pages on the free list without touching them: a few dozen
//! pages written (the free-list trunks, the pointer map, the schema).
//!
//! Layout: `events_YYYYMMDD` (the local day of `ts_ms` in the facility's time zone), each
//! with its `ts_ms` index; `events_base`, the table from before (rows journalled before
//! this layout, and rows written through the view); the view `events` (the union of all of
//! them), with an `INSTEAD OF INSERT` trigger that puts a row written to it into
//! `events_base`. Ids stay one sequence across the tables (each insert takes the largest id
//! of any of them, plus one), so `ORDER BY id` is still the order events were journalled.

use std::cell::RefCell;
use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use rusqlite::{params, Connection};

/// The table rows go to when they have no day table (see the module docs).
pub const BASE: &str = "events_base";

/// The table of one local day's events.
pub fn table_name(day: NaiveDate) -> String {
    format!("events_{}", day.format("%Y%m%d"))
}

/// The day a table holds, from its name (`None` for any other table).
pub fn table_day(name: &str) -> Option<NaiveDate> {
    let digits = name.strip_prefix("events_")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

/// The day tables in the database, oldest first.
pub fn day_tables(conn: &Connection) -> rusqlite::Result<BTreeSet<NaiveDate>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'events_[0-9]*'",
    )?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = BTreeSet::new();
    for name in names {
        if let Some(day) = table_day(&name?) {
            out.insert(day);
        }
    }
    Ok(out)
}

/// Most terms of one compound `SELECT` here: SQLite refuses more than 500
/// (`SQLITE_MAX_COMPOUND_SELECT`), and `keep_days` (400 by default) may ask for more day
/// tables than that; longer unions are nested, this many terms each.
const CHUNK: usize = 200;

/// `arms` joined by `UNION ALL`, nested in subqueries of at most [`CHUNK`] terms, each
/// level selecting `cols` from the one below.
fn union_all(mut arms: Vec<String>, cols: &str) -> String {
    while arms.len() > CHUNK {
        arms = arms
            .chunks(CHUNK)
            .map(|c| format!("SELECT {cols} FROM ({})", c.join(" UNION ALL ")))
            .collect();
    }
    arms.join(" UNION ALL ")
}

/// Creates the view `events` over `events_base` and `days`' tables (and its trigger),
/// replacing the one there.
pub fn rebuild_view(conn: &Connection, days: &BTreeSet<NaiveDate>) -> rusqlite::Result<()> {
    const COLS: &str = "id, ts, ts_ms, body";
    let mut arms = vec![format!("SELECT {COLS} FROM {BASE}")];
    arms.extend(
        days.iter()
            .map(|d| format!("SELECT {COLS} FROM \"{}\"", table_name(*d))),
    );
    conn.execute_batch(&format!(
        "DROP VIEW IF EXISTS events;
         CREATE VIEW events AS {};
         CREATE TRIGGER events_insert INSTEAD OF INSERT ON events BEGIN
             INSERT INTO {BASE} (id, ts, ts_ms, body) VALUES (
                 coalesce(NEW.id, ({}) + 1), NEW.ts, NEW.ts_ms, NEW.body);
         END;",
        union_all(arms, COLS),
        max_id_sql(days)
    ))
}

/// The largest id of all the events tables (0 when there is none): one rowid look-up
/// per table (a `max(id)` over the view would read every row).
pub fn max_id_sql(days: &BTreeSet<NaiveDate>) -> String {
    let mut arms = vec![format!("SELECT max(id) AS m FROM {BASE}")];
    arms.extend(
        days.iter()
            .map(|d| format!("SELECT max(id) AS m FROM \"{}\"", table_name(*d))),
    );
    format!(
        "SELECT coalesce(max(m), 0) FROM ({})",
        union_all(arms, "max(m) AS m")
    )
}

/// What the journal's connection knows of the day tables, read again whenever the
/// schema changed (`PRAGMA schema_version`): a day's table is made once a day, so most
/// transactions read neither `sqlite_master` nor compile the largest-id query. A table
/// made by a transaction that rolled back takes the schema version back with it.
#[derive(Debug, Default)]
pub struct Known {
    schema: Option<i64>,
    days: BTreeSet<NaiveDate>,
    max_id_sql: String,
}

impl Known {
    fn refresh(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let schema: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
        if self.schema != Some(schema) {
            self.days = day_tables(conn)?;
            self.max_id_sql = max_id_sql(&self.days);
            self.schema = Some(schema);
        }
        Ok(())
    }
}

/// What one transaction knows of the day tables and the next id, read at its first
/// insert (the transaction holds the write lock: nothing else adds a table or a row
/// meanwhile; a transaction that rolls back takes what it knew with it).
#[derive(Debug, Default)]
pub struct DayTables {
    loaded: Option<(BTreeSet<NaiveDate>, i64)>,
}

/// Journals one event row in its day's table, creating the table the first time.
pub fn insert(
    conn: &Connection,
    (known, tables): (&RefCell<Known>, &RefCell<DayTables>),
    tz: Tz,
    row: (&str, i64, &str),
) -> rusqlite::Result<()> {
    let (ts, ms, body) = row;
    let day = DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&tz).date_naive())
        .unwrap_or_default();
    let mut t = tables.borrow_mut();
    if t.loaded.is_none() {
        let mut k = known.borrow_mut();
        k.refresh(conn)?;
        let max: i64 = conn
            .prepare_cached(&k.max_id_sql)?
            .query_row([], |r| r.get(0))?;
        t.loaded = Some((k.days.clone(), max + 1));
    }
    let (days, next) = t.loaded.as_mut().expect("loaded above");
    let name = table_name(day);
    if !days.contains(&day) {
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS \"{name}\" (
                 id      INTEGER PRIMARY KEY,
                 ts      TEXT    NOT NULL,
                 ts_ms   INTEGER NOT NULL,
                 body    TEXT    NOT NULL
             );
             CREATE INDEX IF NOT EXISTS \"{name}_ts\" ON \"{name}\" (ts_ms);"
        ))?;
        days.insert(day);
        rebuild_view(conn, days)?;
    }
    conn.prepare_cached(&format!(
        "INSERT INTO \"{name}\" (id, ts, ts_ms, body) VALUES (?1, ?2, ?3, ?4)"
    ))?
    .execute(params![*next, ts, ms, body])?;
    *next += 1;
    Ok(())
}

/// Takes the rows of `[start, end)` (UTC milliseconds) out of every events table: a day
/// table all of whose rows are in the span is dropped whole (its pages freed without
/// being written), others have the span's rows deleted. Returns how many rows went.
pub fn remove_span(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<usize> {
    let mut removed = conn.execute(
        &format!("DELETE FROM {BASE} WHERE ts_ms >= ?1 AND ts_ms < ?2"),
        params![start, end],
    )?;
    let mut days = day_tables(conn)?;
    let mut dropped = false;
    for day in days.clone() {
        let name = table_name(day);
        // Two look-ups in the table's index (each on its own: SQLite reads a whole table
        // for a min and a max asked together); with `keep_days` of tables (400 by
        // default) anything more would read the whole journal every night.
        let bound = |f: &str| {
            conn.query_row(&format!("SELECT {f}(ts_ms) FROM \"{name}\""), [], |r| {
                r.get::<_, Option<i64>>(0)
            })
        };
        let (lo, hi) = (bound("min")?, bound("max")?);
        match (lo, hi) {
            (Some(lo), Some(hi)) if lo >= start && hi < end => {
                let n: i64 =
                    conn.query_row(&format!("SELECT count(*) FROM \"{name}\""), [], |r| {
                        r.get(0)
                    })?;
                conn.execute_batch(&format!("DROP TABLE \"{name}\""))?;
                removed += n as usize;
            }
            (Some(lo), Some(hi)) if lo < end && hi >= start => {
                removed += conn.execute(
                    &format!("DELETE FROM \"{name}\" WHERE ts_ms >= ?1 AND ts_ms < ?2"),
                    params![start, end],
                )?;
                continue;
            }
            (Some(_), _) => continue,
            // Emptied by earlier spans (a table of another time zone's day).
            (None, _) => conn.execute_batch(&format!("DROP TABLE \"{name}\""))?,
        }
        days.remove(&day);
        dropped = true;
    }
    if dropped {
        rebuild_view(conn, &days)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::journal::{Journal, MetaKey, DB_FILE, MIGRATIONS};

    const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;

    fn door(ts: &str, state: &str) -> Event {
        Event::parse(&format!(
            r#"{{"ts":"{ts}","type":"door","door":"entrance","state":"{state}"}}"#
        ))
        .unwrap()
    }

    /// `n` door events on `day` (local, +08:00) from 07:00, one a second, one batch each
    /// minute.
    fn journal_day(j: &mut Journal, day: &str, n: usize) -> Vec<String> {
        let mut lines = Vec::new();
        for chunk in (0..n).collect::<Vec<_>>().chunks(60) {
            let b = j.batch().unwrap();
            for &i in chunk {
                let ts = format!(
                    "{day}T{:02}:{:02}:{:02}+08:00",
                    7 + i / 3600,
                    i / 60 % 60,
                    i % 60
                );
                let ev = door(&ts, if i % 2 == 0 { "open" } else { "closed" });
                b.event(&ev).unwrap();
                lines.push(ev.to_json_line());
            }
            b.commit().unwrap();
        }
        lines
    }

    fn tables(j: &Journal) -> Vec<String> {
        let mut stmt = j
            .connection()
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'events*' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Marks `day`'s summary queued: retention keeps a day until it is.
    fn summary_queued(j: &mut Journal, day: &str) {
        let b = j.batch().unwrap();
        b.set_meta(&MetaKey::Summary(day.parse().unwrap()), "queued")
            .unwrap();
        b.commit().unwrap();
    }

    fn wal_frames(dir: &std::path::Path) -> u64 {
        let len = std::fs::metadata(dir.join(format!("{DB_FILE}-wal"))).map_or(0, |m| m.len());
        len.saturating_sub(32) / (crate::journal::PAGE_SIZE as u64 + 24)
    }

    #[test]
    fn a_day_table_is_named_by_its_day_and_no_other_table_passes_for_one() {
        let d: NaiveDate = "2026-03-02".parse().unwrap();
        assert_eq!(table_name(d), "events_20260302");
        assert_eq!(table_day("events_20260302"), Some(d));
        for other in [
            "events_base",
            "events_ts",
            "events_2026030",
            "events_20261302",
            "events",
        ] {
            assert_eq!(table_day(other), None, "{other}");
        }
    }

    #[test]
    fn each_local_day_has_its_table_and_the_view_reads_them_in_journal_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        j.set_timezone(SHANGHAI);
        let mut lines = journal_day(&mut j, "2026-03-02", 90);
        // 07:30 local on the 3rd is 23:30 UTC on the 2nd: the local day decides.
        lines.extend(journal_day(&mut j, "2026-03-03", 30));
        // A late line for the 2nd, journalled after the 3rd's: it keeps its place.
        let late = door("2026-03-02T18:00:00+08:00", "open");
        let b = j.batch().unwrap();
        b.event(&late).unwrap();
        b.commit().unwrap();
        lines.push(late.to_json_line());
        assert_eq!(
            tables(&j),
            ["events_20260302", "events_20260303", "events_base"]
        );
        assert_eq!(j.event_lines().unwrap(), lines);
        let ids: Vec<i64> = j
            .connection()
            .prepare("SELECT id FROM events ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ids, (1..=lines.len() as i64).collect::<Vec<_>>());
    }

    #[test]
    fn more_day_tables_than_sqlite_takes_in_one_union_are_still_one_journal() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        j.set_timezone(SHANGHAI);
        let first: NaiveDate = "2025-01-01".parse().unwrap();
        let mut lines = Vec::new();
        for n in 0..520 {
            let day = first + chrono::Duration::days(n);
            let ev = door(&format!("{day}T08:00:00+08:00"), "open");
            let b = j.batch().unwrap();
            b.event(&ev).unwrap();
            b.commit().unwrap();
            lines.push(ev.to_json_line());
        }
        assert_eq!(tables(&j).len(), 521);
        assert_eq!(j.event_lines().unwrap(), lines);
        let in_day: i64 = j
            .connection()
            .query_row(
                "SELECT count(*) FROM events WHERE ts_ms >= ?1 AND ts_ms < ?2",
                params![1_735_689_600_000_i64, 1_735_689_600_000_i64 + 86_400_000],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(in_day, 1);
    }

    #[test]
    fn a_batch_that_is_not_committed_takes_the_day_table_it_made_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        j.set_timezone(SHANGHAI);
        let ev = door("2026-03-02T07:00:00+08:00", "open");
        {
            let b = j.batch().unwrap();
            b.event(&ev).unwrap();
        }
        assert_eq!(tables(&j), ["events_base"]);
        let b = j.batch().unwrap();
        b.event(&ev).unwrap();
        b.commit().unwrap();
        assert_eq!(j.event_lines().unwrap(), vec![ev.to_json_line()]);
    }

    #[test]
    fn retention_drops_a_past_day_table_whole_without_rewriting_the_pages_it_frees() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("archive");
        let mut j = Journal::open(dir.path()).unwrap();
        j.set_timezone(SHANGHAI);
        let first = journal_day(&mut j, "2026-03-02", 3000);
        let kept = journal_day(&mut j, "2026-03-03", 300);
        summary_queued(&mut j, "2026-03-02");
        j.connection()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let free = |j: &Journal| {
            j.connection()
                .query_row("PRAGMA freelist_count", [], |r| r.get::<_, u64>(0))
                .unwrap()
        };
        let free_before = free(&j);
        let done = j
            .retain(SHANGHAI, "2026-03-03".parse().unwrap(), 1, &archive)
            .unwrap();
        assert_eq!(done.archived, ["2026-03-02".parse::<NaiveDate>().unwrap()]);
        assert_eq!(tables(&j), ["events_20260303", "events_base"]);
        assert_eq!(j.event_lines().unwrap(), kept);
        let freed = free(&j) - free_before;
        let written = wal_frames(dir.path());
        // A DELETE of the same rows wrote about half the pages it freed.
        assert!(freed > 500, "{freed} pages freed");
        assert!(
            written * 10 < freed,
            "{written} pages written to free {freed}"
        );
        let mut archived = Vec::new();
        crate::journal::retention::each_archived_line(&archive, |l| {
            archived.push(l.to_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(archived, first);
    }

    #[test]
    fn a_journal_of_the_one_table_layout_keeps_its_events_and_new_ones_follow_them() {
        let dir = tempfile::tempdir().unwrap();
        let old = [
            door("2026-03-02T07:00:00+08:00", "open").to_json_line(),
            door("2026-03-02T07:00:05+08:00", "closed").to_json_line(),
        ];
        {
            let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
            for (i, sql) in MIGRATIONS[..3].iter().enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.pragma_update(None, "user_version", i + 1).unwrap();
            }
            for (i, line) in old.iter().enumerate() {
                conn.execute(
                    "INSERT INTO events (ts, ts_ms, body) VALUES ('', ?1, ?2)",
                    params![1_772_406_000_000 + i as i64 * 5000, line],
                )
                .unwrap();
            }
        }
        let mut j = Journal::open(dir.path()).unwrap();
        j.set_timezone(SHANGHAI);
        assert_eq!(j.event_lines().unwrap(), old);
        let new = journal_day(&mut j, "2026-03-03", 3);
        assert_eq!(j.event_lines().unwrap(), [&old[..], &new[..]].concat());
        // A row written to the view (as tools and older tests do) joins the sequence.
        j.connection()
            .execute(
                "INSERT INTO events (ts, ts_ms, body) VALUES ('', 1, 'x')",
                [],
            )
            .unwrap();
        let top: i64 = j
            .connection()
            .query_row("SELECT max(id) FROM events_base", [], |r| r.get(0))
            .unwrap();
        assert_eq!(top, 6);
        j.connection()
            .execute("DELETE FROM events_base WHERE body = 'x'", [])
            .unwrap();
        let archive = dir.path().join("archive");
        summary_queued(&mut j, "2026-03-02");
        let done = j
            .retain(SHANGHAI, "2026-03-03".parse().unwrap(), 1, &archive)
            .unwrap();
        assert_eq!(done.archived.len(), 1);
        assert_eq!(j.event_lines().unwrap(), new);
    }
}
