//! The journal: an append-only record in SQLite of every accepted event and every alert
//! transition, plus the latest engine snapshot, from which `run` rebuilds the day after a
//! crash or power cut.
//!
//! One thread owns the connection (the daemon's core thread). Writes are batched: one
//! transaction per batch, committed with `synchronous = FULL` before any effect of the
//! batch (console line, buzzer, outbox) is let out, so what was acknowledged survives a
//! power cut. The database is in WAL mode so other connections (the uplink's) can read
//! while the core writes.

pub mod day;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::alert::Transition;
use crate::event::Event;
use crate::rules::Snapshot;

/// File name of the database inside `storage.dir`.
pub const DB_FILE: &str = "nursery-agent.db";

/// Schema migrations for the journal's own tables, applied in order; `PRAGMA user_version`
/// records how many have run. Never edit one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: events, transitions, the engine snapshot and a small key/value table.
    "CREATE TABLE events (
         id      INTEGER PRIMARY KEY,
         ts      TEXT    NOT NULL,   -- RFC 3339, local offset, as the rules saw it
         ts_ms   INTEGER NOT NULL,   -- UTC milliseconds, for range queries
         body    TEXT    NOT NULL    -- the event as one JSON line
     );
     CREATE INDEX events_ts ON events (ts_ms);
     CREATE TABLE transitions (
         id        INTEGER PRIMARY KEY,
         ts        TEXT    NOT NULL,
         ts_ms     INTEGER NOT NULL,
         alert_id  TEXT    NOT NULL,
         type      TEXT    NOT NULL,
         state     TEXT    NOT NULL,
         subject   TEXT    NOT NULL,
         body      TEXT    NOT NULL  -- the transition as one JSON line (contract section 4)
     );
     CREATE INDEX transitions_ts ON transitions (ts_ms);
     CREATE TABLE rejected (
         id       INTEGER PRIMARY KEY,
         seen_ms  INTEGER NOT NULL,
         line     TEXT    NOT NULL,
         reason   TEXT    NOT NULL
     );
     CREATE TABLE snapshot (
         id        INTEGER PRIMARY KEY CHECK (id = 1),
         taken_ms  INTEGER NOT NULL,
         state     TEXT    NOT NULL
     );
     CREATE TABLE meta (
         key    TEXT PRIMARY KEY,
         value  TEXT NOT NULL
     );",
    // 2: one row per run of the agent, for uptime in the daily summary.
    "CREATE TABLE runs (
         id          INTEGER PRIMARY KEY,
         started_ms  INTEGER NOT NULL,   -- the rules' time at start
         alive_ms    INTEGER NOT NULL    -- the rules' time of the last batch committed
     );",
];

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot create storage directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("journal database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("journal database {path} has schema version {found}, newer than this agent knows ({known}); refusing to touch it")]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error(transparent)]
    Snapshot(#[from] crate::rules::SnapshotError),
}

pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir`, and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(dir).map_err(|source| JournalError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(|source| JournalError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let mut j = Journal { conn, path };
        j.setup().map_err(|e| j.err(e))??;
        Ok(j)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn setup(&mut self) -> rusqlite::Result<Result<(), JournalError>> {
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed batch survives a power cut, not just a crash.
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        self.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: usize = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > MIGRATIONS.len() {
            return Ok(Err(JournalError::TooNew {
                path: self.path.clone(),
                found: version,
                known: MIGRATIONS.len(),
            }));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(Ok(()))
    }

    /// The schema version this database is at.
    pub fn schema_version(&self) -> Result<usize, JournalError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Starts a batch: everything written through it commits together or not at all.
    pub fn batch(&mut self) -> Result<Batch<'_>, JournalError> {
        let path = self.path.clone();
        // IMMEDIATE: take the write lock at the start, so a batch that reads before it
        // writes (a summary) cannot fail when the uplink commits a delete meanwhile.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|source| JournalError::Sqlite { path, source })?;
        Ok(Batch { tx })
    }

    /// The latest engine snapshot, if any.
    pub fn snapshot(&self) -> Result<Option<Snapshot>, JournalError> {
        let state: Option<String> = self
            .conn
            .query_row("SELECT state FROM snapshot WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(match state {
            Some(s) => Some(Snapshot::from_json(&s)?),
            None => None,
        })
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, JournalError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every `meta` entry whose key starts with `prefix`.
    pub fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Every journalled event, oldest first, as JSON lines (an event log `replay` accepts).
    pub fn event_lines(&self) -> Result<Vec<String>, JournalError> {
        self.column("SELECT body FROM events ORDER BY id")
    }

    /// Every journalled transition, oldest first, as JSON lines.
    pub fn transition_lines(&self) -> Result<Vec<String>, JournalError> {
        self.column("SELECT body FROM transitions ORDER BY id")
    }

    fn column(&self, sql: &str) -> Result<Vec<String>, JournalError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The connection, for components that keep their own tables in the same database
    /// and must write in the same transaction as the journal (the outbox).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// One atomic batch of journal writes.
pub struct Batch<'j> {
    tx: Transaction<'j>,
}

impl Batch<'_> {
    pub fn event(&self, ev: &Event) -> rusqlite::Result<i64> {
        let ts = ev.ts.expect("journalled events carry their ts");
        self.tx
            .prepare_cached("INSERT INTO events (ts, ts_ms, body) VALUES (?1, ?2, ?3)")?
            .execute(params![ts.to_rfc3339(), ms(ts.to_utc()), ev.to_json_line()])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Journals an event whose JSON line is already at hand (as it arrived), sparing a
    /// re-serialization. `line` must describe `ev`.
    pub fn event_line(&self, ev: &Event, line: &str) -> rusqlite::Result<i64> {
        let ts = ev.ts.expect("journalled events carry their ts");
        self.tx
            .prepare_cached("INSERT INTO events (ts, ts_ms, body) VALUES (?1, ?2, ?3)")?
            .execute(params![ts.to_rfc3339(), ms(ts.to_utc()), line])?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn transition(&self, t: &Transition) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO transitions (ts, ts_ms, alert_id, type, state, subject, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                t.ts.to_rfc3339(),
                ms(t.ts.to_utc()),
                t.alert_id,
                t.alert_type.as_str(),
                serde_json::to_value(t.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                t.subject,
                t.to_json_line()
            ])?;
        Ok(())
    }

    pub fn rejected(&self, seen: DateTime<Utc>, line: &str, reason: &str) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("INSERT INTO rejected (seen_ms, line, reason) VALUES (?1, ?2, ?3)")?
            .execute(params![ms(seen), line, reason])?;
        Ok(())
    }

    pub fn snapshot(&self, taken: DateTime<Utc>, snap: &Snapshot) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO snapshot (id, taken_ms, state) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET taken_ms = excluded.taken_ms, state = excluded.state",
            )?
            .execute(params![ms(taken), snap.to_json()])?;
        Ok(())
    }

    /// Records the start of a run at `at`; returns its id for [`Batch::alive`].
    pub fn run_started(&self, at: DateTime<Utc>) -> rusqlite::Result<i64> {
        self.tx
            .prepare_cached("INSERT INTO runs (started_ms, alive_ms) VALUES (?1, ?1)")?
            .execute(params![ms(at)])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Records that run `run` was still alive at `at`.
    pub fn alive(&self, run: i64, at: DateTime<Utc>) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("UPDATE runs SET alive_ms = max(alive_ms, ?2) WHERE id = ?1")?
            .execute(params![run, ms(at)])?;
        Ok(())
    }

    pub fn set_meta(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
        Ok(())
    }

    /// The transaction, for the outbox's rows that must commit with the journal's.
    pub fn transaction(&self) -> &Transaction<'_> {
        &self.tx
    }

    pub fn commit(self) -> rusqlite::Result<()> {
        self.tx.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_journal_is_at_the_latest_schema_and_reopening_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.schema_version().unwrap(), MIGRATIONS.len());
        drop(j);
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.schema_version().unwrap(), MIGRATIONS.len());
    }

    #[test]
    fn a_journal_from_a_newer_agent_is_refused_not_damaged() {
        let dir = tempfile::tempdir().unwrap();
        drop(Journal::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Journal::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("99"), "{err}");
    }

    #[test]
    fn a_batch_that_is_not_committed_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let ev = Event::parse(
            r#"{"ts":"2026-03-02T07:40:00+08:00","type":"exit_button","door":"entrance"}"#,
        )
        .unwrap();
        {
            let b = j.batch().unwrap();
            b.event(&ev).unwrap();
            // dropped without commit
        }
        assert!(j.event_lines().unwrap().is_empty());
        let b = j.batch().unwrap();
        b.event(&ev).unwrap();
        b.set_meta("k", "v").unwrap();
        b.commit().unwrap();
        assert_eq!(j.event_lines().unwrap(), vec![ev.to_json_line()]);
        assert_eq!(j.meta("k").unwrap().as_deref(), Some("v"));
    }
}
