//! The journal: an append-only record in SQLite of every accepted event and every alert
//! transition, plus the latest engine snapshot, from which `run` rebuilds the day after a
//! crash or power cut. It is the only module that writes SQL for these tables; `status`,
//! `export` and the staff page read them through [`JournalReader`].
//!
//! One thread owns the connection (the daemon's core thread). Writes are batched: one
//! transaction per batch. The database is in WAL mode so other connections (the uplink's)
//! can read while the core writes.
//!
//! # What reaches the SD card ([`WriteMode::Budget`], the default)
//! A board runs for years on a card that small random writes wear out, so the journal
//! spends writes where they buy safety and nowhere else:
//! - **Alerts are durable before they are seen.** A batch that journals a transition (or
//!   that the caller marks with [`Batch::durable`]) has its WAL synced to the card before
//!   [`Batch::commit`] returns, so what is shown, sounded or sent survives a power cut.
//! - **Other commits are `synchronous = NORMAL`**: in WAL mode that is safe against a crash
//!   of the process (the OS has the pages) and, on a power cut, loses at most the commits
//!   since the last sync (the last alert commit or checkpoint); never corrupts the file.
//! - **Routine batches wait in memory.** A batch that holds nothing but sensor readings,
//!   the snapshot, meta positions and telemetry is not written at once: it joins a group
//!   that is committed with the next batch that matters, or once it is
//!   [`GROUP_WINDOW`] (20 min) old (rules' time), or when anyone reads the journal. A crash loses at
//!   most that window of readings and telemetry — consistently: the snapshot, the input
//!   file positions and the events go together, so a file input is read again from there.
//! - **A significant commit writes only what must go with it**: its events, the input
//!   positions and the snapshot; the runs liveness and staged telemetry wait for the group.
//! - **The snapshot is written only when it changed**, deflated (`snapshot.packed`) and
//!   padded to whole pages, so its record keeps its size and SQLite overwrites it in
//!   place, writing only the pages whose bytes changed (a record of a new size had its
//!   overflow pages freed and allocated again at every commit).
//! - New event rows leave the `ts` text empty (`ts_ms` and the line carry the time).
//! - [`PAGE_SIZE`] 512 for new files: each commit rewrites the tail page of every table
//!   and index it touches, so smaller pages mean fewer bytes per commit.
//! - `wal_autocheckpoint` = [`WAL_AUTOCHECKPOINT_PAGES`] (on the uplink's connection too)
//!   and `journal_size_limit` = [`WAL_SIZE_LIMIT`]: the WAL is folded back into the
//!   database every ~2 MB of frames, and its file reused in place.
//! - `auto_vacuum = INCREMENTAL` (new files): pages freed by retention are reused by the
//!   next days' rows, and go back to the file system when more than two days' worth is
//!   free ([`retention`]).
//! - **Each local day's events are a table** (`events` is the view over them, [`days`]):
//!   retention drops a past day's table, which frees its pages without writing them; a
//!   `DELETE` of the day rewrote about half of them (soak: 10.1 MB/day once retention
//!   started, 8.9 with this).
//!
//! [`WriteMode::Legacy`] keeps the old behaviour (every batch `FULL`, snapshot every time)
//! for the SD budget benchmark's baseline.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::alert::Transition;
use crate::event::{Event, EventKind};
use crate::rules::Snapshot;

pub mod budget;
pub mod day;
pub mod days;
pub mod health;
pub mod ledger;
pub mod meta;
pub mod read;
pub mod retention;

pub use meta::MetaKey;
pub use read::JournalReader;

/// File name of the database inside `storage.dir`.
pub const DB_FILE: &str = "nursery-agent.db";

/// Longest a group of routine batches waits in memory, in the rules' time. During opening
/// hours a door or attendance commit comes every minute or so and takes the group with
/// it; at night this is how often readings, telemetry and the snapshot reach the card.
/// What a crash can lose is this much of readings and telemetry (never an alert, a door
/// or an attendance): sd_budget, with the settings below, 12.6 MB/day at 5 min, 10.6 at
/// 10, 10.0 at 15, 9.8 at 20. A restart does not judge sensors stale on the lost span:
/// the rules measure staleness from the start (`stale_base`).
pub const GROUP_WINDOW: chrono::Duration = chrono::Duration::minutes(20);
/// Most events a group holds before it is written anyway.
pub const GROUP_MAX_EVENTS: usize = 4096;
/// WAL frames (pages) after which SQLite checkpoints by itself: 4000 of 512 bytes, a WAL of
/// ~2.1 MB (the old 4 KiB-page journal's 1000 frames made ~4.1 MB). Each checkpoint copies
/// every page changed since the last one into the database file, so the hot pages (the
/// snapshot, the tails of the events and their index, the header) are written there once
/// per checkpoint: fewer checkpoints, fewer such writes (sd_budget: 10.7 MB/day at 1000
/// frames, 10.0 at 2000, 9.8 at 4000). The uplink's connection uses the same (its
/// acknowledgements would otherwise checkpoint at SQLite's default 1000).
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 4000;
/// Page size of new journals (SQLite's default is 4096): a commit rewrites the last page of
/// each table and index it touches, so small pages cost the card less (sd_budget with a
/// 5-minute group and 1000-frame checkpoints: 14.7 MB/day at 512, 17.3 at 1024, 24.2 at
/// 2048).
pub const PAGE_SIZE: u32 = 512;
/// Bytes the WAL file is truncated to after a checkpoint: above its working size (see
/// [`WAL_AUTOCHECKPOINT_PAGES`]), so the file is reused in place rather than cut and grown
/// again (new blocks allocated every time); it only trims what a large transaction (a
/// retention pass, a `VACUUM`) left.
pub const WAL_SIZE_LIMIT: i64 = 3 << 20;

/// Schema migrations for the journal's own tables, applied in order; `PRAGMA user_version`
/// records how many have run. Never edit one that has shipped: append a new one.
///
/// `events.ts` is written empty by [`WriteMode::Budget`]: `ts_ms` holds the rules' time
/// and the line its own `ts`; nothing reads the text.
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
    // 3: the snapshot deflated (see `write_snapshot`); `state` is '' when `packed` is set.
    "ALTER TABLE snapshot ADD COLUMN packed BLOB;",
    // 4: a table per local day of events, `events` the view over them ([`days`]).
    "ALTER TABLE events RENAME TO events_base;
     CREATE VIEW events AS SELECT id, ts, ts_ms, body FROM events_base;
     CREATE TRIGGER events_insert INSTEAD OF INSERT ON events BEGIN
         INSERT INTO events_base (id, ts, ts_ms, body) VALUES (
             coalesce(NEW.id, (SELECT coalesce(max(id), 0) + 1 FROM events_base)),
             NEW.ts, NEW.ts_ms, NEW.body);
     END;",
];

/// How the journal spends writes; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Group routine batches, sync only alert-bearing commits, snapshot when changed.
    #[default]
    Budget,
    /// Every batch committed `synchronous = FULL` with its snapshot: the agent before the
    /// SD budget (kept for the benchmark's baseline).
    Legacy,
}

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
    #[error("journal write failed ({path}): {source}")]
    Write {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("journal {path}: cannot sync to storage: {source}")]
    Sync {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no journal at {path} (the agent has not run with this storage directory yet)")]
    Missing { path: PathBuf },
    #[error("journal {path} is empty: the agent has not been able to write it yet (is the storage full? see `journal` in `nursery-agent status`)")]
    Empty { path: PathBuf },
    #[error("journal database {path} has schema version {found}, newer than this agent knows ({known}); refusing to touch it")]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error("archive {path}: {source}")]
    Archive {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("journal {path}: the engine snapshot does not inflate: {source}")]
    Unpack {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write out the journal: {0}")]
    Output(std::io::Error),
    #[error(transparent)]
    Snapshot(#[from] crate::rules::SnapshotError),
}

/// Writes waiting in memory for their group to be committed (see the module docs).
#[derive(Default)]
struct Pending {
    /// `(ts, ts_ms, body)` in arrival order.
    events: Vec<(String, i64, String)>,
    snapshot: Option<(i64, String)>,
    alive: BTreeMap<i64, i64>,
    meta: BTreeMap<String, String>,
    /// The rules' time of the oldest batch in the group.
    since: Option<i64>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.snapshot.is_none()
            && self.alive.is_empty()
            && self.meta.is_empty()
    }

    fn absorb(&mut self, later: Pending) {
        self.events.extend(later.events);
        if later.snapshot.is_some() {
            self.snapshot = later.snapshot;
        }
        for (run, at) in later.alive {
            let e = self.alive.entry(run).or_insert(at);
            *e = (*e).max(at);
        }
        self.meta.extend(later.meta);
        self.since = match (self.since, later.since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Takes out what may wait for the whole group when only the significant rows are
    /// written now: the `runs` liveness (the daily summary's uptime; a crash loses at
    /// most [`GROUP_WINDOW`] of it).
    fn hold_back(&mut self) -> Pending {
        let alive = std::mem::take(&mut self.alive);
        let since = self.since.filter(|_| !alive.is_empty());
        Pending {
            alive,
            since,
            ..Pending::default()
        }
    }

    /// Writes everything held into `tx`; with `whole`, also the telemetry staged on the
    /// connection (else it waits, in memory, for the group).
    fn write(&self, tx: &Connection, whole: bool, days: Days<'_>) -> rusqlite::Result<()> {
        for (ts, ms, body) in &self.events {
            days::insert(tx, (days.known, days.tables), days.tz, (ts, *ms, body))?;
        }
        if let Some((taken, state)) = &self.snapshot {
            write_snapshot(tx, *taken, state, true)?;
        }
        for (run, at) in &self.alive {
            write_alive(tx, *run, *at)?;
        }
        for (k, v) in &self.meta {
            write_meta(tx, k, v)?;
        }
        if whole {
            crate::outbox::flush_staged_telemetry(tx)?;
        }
        Ok(())
    }
}

pub struct Journal {
    conn: Connection,
    path: PathBuf,
    mode: WriteMode,
    pending: RefCell<Pending>,
    /// The snapshot last written or held, to skip writing an unchanged one.
    last_snapshot: RefCell<Option<String>>,
    /// Set by SQLite's update hook whenever a row of the main database changes.
    main_written: Arc<AtomicBool>,
    /// How long routine writes may wait ([`GROUP_WINDOW`]).
    window: chrono::Duration,
    /// An empty journal in memory standing in for one that could not be created (see
    /// [`Journal::into_stand_in`]).
    stand_in: bool,
    /// The facility's time zone: which day's table an event goes to ([`days`]).
    tz: chrono_tz::Tz,
    known: RefCell<days::Known>,
}

/// Where event rows go: the day tables, by the facility's time zone.
#[derive(Clone, Copy)]
struct Days<'a> {
    known: &'a RefCell<days::Known>,
    tables: &'a RefCell<days::DayTables>,
    tz: chrono_tz::Tz,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Writes the snapshot row: with `packed`, as deflated JSON in `packed` (the demo
/// nursery's ~5 KB of JSON deflate to ~1.3 KB); else as text in `state` (legacy).
///
/// The packed blob is padded with zeros to a stable length ([`padded_len`]): a row whose
/// record keeps its size is overwritten in place by SQLite, each page written only if its
/// bytes changed, where a row of a new size has its overflow pages freed and allocated
/// again on every write (the free-list trunk, the pointer map and the header written
/// with them: six pages a commit instead of three; sd_budget's SD_PAGES tally). The
/// inflater stops at the end of the deflate stream, so the zeros are never read.
fn write_snapshot(c: &Connection, taken: i64, state: &str, packed: bool) -> rusqlite::Result<()> {
    let (text, blob) = match packed {
        true => {
            let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let mut blob = pack(state);
            blob.resize(padded_len(blob.len(), page.max(512) as usize), 0);
            ("", Some(blob))
        }
        false => (state, None),
    };
    c.prepare_cached(
        "INSERT INTO snapshot (id, taken_ms, state, packed) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET taken_ms = excluded.taken_ms, state = excluded.state,
             packed = excluded.packed",
    )?
    .execute(params![taken, text, blob])?;
    Ok(())
}

/// Bytes of the snapshot row's record besides the blob: the header (the rowid alias is
/// stored as NULL, `taken_ms` a 6-byte integer, `state` empty, the blob's length a
/// 2-byte varint) and `taken_ms`.
const SNAPSHOT_RECORD: usize = 12;

/// The length a packed snapshot of `len` bytes is stored at: as long as it can be with
/// the same number of pages (its leaf's share and whole overflow pages, on `page`-byte
/// pages), so the record keeps its size until the state outgrows a page, and the pages
/// it has are used to the last byte.
fn padded_len(len: usize, page: usize) -> usize {
    // SQLite: a table leaf keeps up to page - 35 bytes of a payload in the cell; an
    // overflow page holds page - 4.
    let (local, overflow) = (page - 35, page - 4);
    let payload = len + SNAPSHOT_RECORD;
    let pages = match payload.checked_sub(local) {
        None | Some(0) => 0,
        Some(more) => more.div_ceil(overflow),
    };
    local + pages * overflow - SNAPSHOT_RECORD
}

fn pack(state: &str) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(state.as_bytes());
    z.finish().unwrap_or_default()
}

/// The stored snapshot's JSON, for the owner and the read-only reader alike: `packed`
/// (deflated) when the row has it, else `state` (a journal written before migration 3, or
/// in legacy mode).
pub(super) fn read_snapshot(c: &Connection) -> Result<Option<String>, SnapshotRead> {
    let row: Option<(String, Option<Vec<u8>>)> = c
        .query_row("SELECT * FROM snapshot WHERE id = 1", [], |r| {
            let packed = match r.get::<_, Option<Vec<u8>>>("packed") {
                Err(rusqlite::Error::InvalidColumnName(_)) => None,
                other => other?,
            };
            Ok((r.get("state")?, packed))
        })
        .optional()?;
    Ok(match row {
        None => None,
        Some((_, Some(blob))) => {
            use std::io::Read;
            let mut json = String::new();
            flate2::read::DeflateDecoder::new(blob.as_slice())
                .read_to_string(&mut json)
                .map_err(SnapshotRead::Unpack)?;
            Some(json)
        }
        Some((state, None)) => Some(state),
    })
}

pub(super) fn snapshot_err(path: &Path, e: SnapshotRead) -> JournalError {
    match e {
        SnapshotRead::Sql(source) => JournalError::Sqlite {
            path: path.to_path_buf(),
            source,
        },
        SnapshotRead::Unpack(source) => JournalError::Unpack {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Why the stored snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum SnapshotRead {
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error("the packed snapshot does not inflate: {0}")]
    Unpack(std::io::Error),
}

fn write_alive(c: &Connection, run: i64, at: i64) -> rusqlite::Result<()> {
    c.prepare_cached("UPDATE runs SET alive_ms = max(alive_ms, ?2) WHERE id = ?1")?
        .execute(params![run, at])?;
    Ok(())
}

/// One `meta` value, for the owner and the read-only reader alike.
pub(super) fn read_meta(c: &Connection, key: &MetaKey) -> rusqlite::Result<Option<String>> {
    c.query_row(
        "SELECT value FROM meta WHERE key = ?1",
        [key.to_string()],
        |r| r.get(0),
    )
    .optional()
}

fn write_meta(c: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
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
        let mut j = Journal::on(conn, path, WriteMode::Budget);
        j.setup().map_err(|e| j.err(e))??;
        j.set_mode(WriteMode::Budget)?;
        let flag = j.main_written.clone();
        j.conn.update_hook(Some(
            move |_: rusqlite::hooks::Action, db: &str, _: &str, _| {
                if db == "main" {
                    flag.store(true, Ordering::Relaxed);
                }
            },
        ));
        Ok(j)
    }

    /// A journal on `conn` (the database at `path`), writing in `mode`, with nothing
    /// pending yet.
    fn on(conn: Connection, path: PathBuf, mode: WriteMode) -> Journal {
        Journal {
            conn,
            path,
            mode,
            pending: RefCell::default(),
            last_snapshot: RefCell::default(),
            main_written: Arc::default(),
            window: GROUP_WINDOW,
            stand_in: false,
            tz: chrono_tz::UTC,
            known: RefCell::default(),
        }
    }

    /// Events go to the table of their local day in `tz` (UTC until this is called):
    /// retention drops a day's table whole when its day and the table's agree.
    pub fn set_timezone(&mut self, tz: chrono_tz::Tz) {
        self.tz = tz;
    }

    /// Makes this [`Journal::scratch`] (with whatever tables the caller added, the
    /// outbox's) stand in for the journal in `dir` when that cannot even be created (a
    /// first start on a full disk): every write to it fails as on a read-only journal, so
    /// the core starts holding at once and runs degraded, as it does on a journal it can
    /// only read, and opens the real one when it can.
    pub fn into_stand_in(mut self, dir: &Path) -> Result<Journal, JournalError> {
        let path = dir.join(DB_FILE);
        self.conn
            .pragma_update(None, "query_only", true)
            .map_err(|source| JournalError::Sqlite {
                path: path.clone(),
                source,
            })?;
        self.path = path;
        self.stand_in = true;
        Ok(self)
    }

    /// A journal in memory, with the same tables (the outbox's are the caller's to add),
    /// that nothing outlives: the core runs
    /// its batches against it while the real journal cannot be written (see
    /// `daemon::core::hold`), so that rules, alerts and the outbox's bookkeeping go on
    /// exactly as they would.
    pub fn scratch() -> Result<Journal, JournalError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| JournalError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let mut j = Journal::on(conn, path, WriteMode::Legacy);
        j.setup().map_err(|e| j.err(e))??;
        j.set_mode(WriteMode::Legacy)?;
        Ok(j)
    }

    /// Opens the journal in `dir` for reading only, when [`Journal::open`] cannot (a
    /// full disk: SQLite cannot even create its shared-memory file). The database file is
    /// read as it is (`immutable`): the agent holds the storage lock, so no one else
    /// writes it. Every write through it fails, and the core holds what it could not
    /// write until it can open the journal properly.
    pub fn open_read_only(dir: &Path) -> Result<Journal, JournalError> {
        let path = dir.join(DB_FILE);
        let sqlite = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        if !path.is_file() {
            return Err(JournalError::Missing { path });
        }
        let uri = format!("file:{}?immutable=1", path.display());
        let conn = Connection::open_with_flags(
            uri,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(sqlite)?;
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sqlite)?;
        if version > MIGRATIONS.len() {
            return Err(JournalError::TooNew {
                path,
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        Ok(Journal::on(conn, path, WriteMode::Legacy))
    }

    /// Whether this is a journal opened by [`Journal::open_read_only`], or a
    /// [`Journal::into_stand_in`].
    pub fn is_read_only(&self) -> bool {
        self.stand_in
            || self
                .conn
                .is_readonly(rusqlite::DatabaseName::Main)
                .unwrap_or(false)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    /// Sets how long routine writes may wait in memory (the SD budget benchmark's lever
    /// table; the daemon keeps [`GROUP_WINDOW`]).
    pub fn set_group_window(&mut self, window: chrono::Duration) {
        self.window = window;
    }

    /// Switches how writes are spent (pending writes are committed first).
    pub fn set_mode(&mut self, mode: WriteMode) -> Result<(), JournalError> {
        self.flush()?;
        let sync = match mode {
            WriteMode::Budget => "NORMAL",
            WriteMode::Legacy => "FULL",
        };
        let limit = match mode {
            WriteMode::Budget => WAL_SIZE_LIMIT,
            WriteMode::Legacy => -1,
        };
        let c = &self.conn;
        c.pragma_update(None, "synchronous", sync)
            .and_then(|_| c.pragma_update(None, "journal_size_limit", limit))
            .and_then(|_| c.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES))
            .map_err(|e| self.err(e))?;
        crate::outbox::stage_telemetry(c, mode == WriteMode::Budget).map_err(|e| self.err(e))?;
        self.mode = mode;
        Ok(())
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn setup(&mut self) -> rusqlite::Result<Result<(), JournalError>> {
        let fresh: bool =
            self.conn
                .query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))?;
        if fresh {
            // Only before the first table (and before WAL mode writes the header): freed
            // pages can then be given back in steps, and small pages make a commit of a
            // few rows a few KiB of WAL rather than 4 KiB per page touched.
            self.conn.pragma_update(None, "page_size", PAGE_SIZE)?;
            self.conn
                .pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
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
        // IMMEDIATE: take the write lock at the start, so a batch that reads before it
        // writes (a summary) cannot fail when the uplink commits a delete meanwhile.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| JournalError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.main_written.store(false, Ordering::Relaxed);
        Ok(Batch {
            tx: Some(tx),
            path: &self.path,
            mode: self.mode,
            pending: &self.pending,
            last_snapshot: &self.last_snapshot,
            main_written: &self.main_written,
            window: self.window,
            tz: self.tz,
            known: &self.known,
            day_tables: RefCell::default(),
            own: RefCell::default(),
            carried: RefCell::default(),
            significant: std::cell::Cell::new(false),
            durable: std::cell::Cell::new(false),
        })
    }

    /// Commits what waits in memory (see the module docs). Reads through this journal do
    /// it by themselves; the daemon need not call it, dropping the journal does.
    pub fn flush(&self) -> Result<(), JournalError> {
        let mut p = self.pending.borrow_mut();
        let staged = crate::outbox::has_staged_telemetry(&self.conn).map_err(|e| self.err(e))?;
        if p.is_empty() && !staged {
            return Ok(());
        }
        let write = || -> rusqlite::Result<()> {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            let tables = RefCell::default();
            p.write(
                &tx,
                true,
                Days {
                    known: &self.known,
                    tables: &tables,
                    tz: self.tz,
                },
            )?;
            tx.commit()
        };
        write().map_err(|source| JournalError::Write {
            path: self.path.clone(),
            source,
        })?;
        *p = Pending::default();
        Ok(())
    }

    /// The latest engine snapshot, if any.
    pub fn snapshot(&self) -> Result<Option<Snapshot>, JournalError> {
        self.flush()?;
        let state = read_snapshot(&self.conn).map_err(|e| snapshot_err(&self.path, e))?;
        *self.last_snapshot.borrow_mut() = state.clone();
        Ok(match state {
            Some(s) => Some(Snapshot::from_json(&s)?),
            None => None,
        })
    }

    pub fn meta(&self, key: &MetaKey) -> Result<Option<String>, JournalError> {
        self.flush()?;
        read_meta(&self.conn, key).map_err(|e| self.err(e))
    }

    /// How far each simulated day was fed (`MetaKey::Simulation`), oldest day first.
    pub fn simulation_progress(&self) -> Result<Vec<(NaiveDate, u64)>, JournalError> {
        Ok(self
            .meta_of_kind(&MetaKey::Simulation(NaiveDate::MIN))?
            .into_iter()
            .filter_map(|(k, v)| match k {
                MetaKey::Simulation(d) => Some((d, v.parse().ok()?)),
                _ => None,
            })
            .collect())
    }

    /// Every `meta` entry of the same kind as `like` (its value in `like` is ignored).
    pub fn meta_of_kind(&self, like: &MetaKey) -> Result<Vec<(MetaKey, String)>, JournalError> {
        self.flush()?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([like.kind_prefix()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (k, v) = row.map_err(|e| self.err(e))?;
            if let Some(k) = MetaKey::parse(&k) {
                out.push((k, v));
            }
        }
        Ok(out)
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
        self.flush()?;
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The connection, for components that keep their own tables in the same database
    /// (the outbox) or read the journal's (the summary). What waits in memory is
    /// committed first, so a reader sees everything taken in.
    pub fn connection(&self) -> &Connection {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "journal: pending routine rows not written yet");
        }
        &self.conn
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::error!(error = %e, "journal: routine rows of the last minutes not written");
        }
    }
}

/// One atomic batch of journal writes.
pub struct Batch<'j> {
    /// `Some` until [`Batch::commit`].
    tx: Option<Transaction<'j>>,
    path: &'j Path,
    mode: WriteMode,
    pending: &'j RefCell<Pending>,
    last_snapshot: &'j RefCell<Option<String>>,
    main_written: &'j AtomicBool,
    window: chrono::Duration,
    tz: chrono_tz::Tz,
    known: &'j RefCell<days::Known>,
    /// The day tables and the next id, as this batch's transaction knows them.
    day_tables: RefCell<days::DayTables>,
    /// This batch's routine writes, held until commit decides where they go.
    own: RefCell<Pending>,
    /// Earlier groups' writes, written into this transaction: back to the journal's
    /// pending if it is not committed.
    carried: RefCell<Pending>,
    /// Something was written that cannot wait (an event other than a reading, a
    /// transition, a rejected line, a run).
    significant: std::cell::Cell<bool>,
    /// The commit must reach the card before it returns.
    durable: std::cell::Cell<bool>,
}

impl Batch<'_> {
    fn days(&self) -> Days<'_> {
        Days {
            known: self.known,
            tables: &self.day_tables,
            tz: self.tz,
        }
    }

    fn tx(&self) -> &Transaction<'_> {
        self.tx
            .as_ref()
            .expect("a batch's transaction is open until commit")
    }

    fn werr(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Write {
            path: self.path.to_path_buf(),
            source,
        }
    }

    /// Before a write that cannot wait: writes out everything held, so rows keep
    /// their order.
    fn now_significant(&self) -> Result<(), JournalError> {
        self.significant.set(true);
        self.write_held(false)
    }

    /// Writes the journal's pending group and this batch's own routine rows into the
    /// transaction, in that order: with `whole`, all of it; else what must go with a
    /// significant row, the rest waiting on ([`Pending::hold_back`], staged telemetry).
    fn write_held(&self, whole: bool) -> Result<(), JournalError> {
        let mut earlier = std::mem::take(&mut *self.pending.borrow_mut());
        let mut own = std::mem::take(&mut *self.own.borrow_mut());
        if !whole {
            let mut held = earlier.hold_back();
            held.absorb(own.hold_back());
            *self.pending.borrow_mut() = held;
        }
        let written = earlier
            .write(self.tx(), whole, self.days())
            .and_then(|_| own.write(self.tx(), whole, self.days()));
        self.carried.borrow_mut().absorb(earlier);
        written.map_err(|e| self.werr(e))
    }

    fn deferrable(&self) -> bool {
        self.mode == WriteMode::Budget
    }

    pub fn event(&self, ev: &Event) -> Result<(), JournalError> {
        self.event_line(ev, &ev.to_json_line())
    }

    /// Journals an event whose JSON line is already at hand (as it arrived), sparing a
    /// re-serialization. `line` must describe `ev`.
    pub fn event_line(&self, ev: &Event, line: &str) -> Result<(), JournalError> {
        let ts = ev.ts.expect("journalled events carry their ts");
        // The `ts` text column is left empty (legacy mode aside): nothing reads it, the
        // line carries its own `ts` and `ts_ms` the rules' time; 26 bytes less a row is a
        // quarter fewer pages for the events (and their index and pointer-map writes).
        let text = match self.mode {
            WriteMode::Legacy => ts.to_rfc3339(),
            WriteMode::Budget => String::new(),
        };
        let row = (text, ms(ts.to_utc()), line.to_owned());
        if self.deferrable() && matches!(ev.kind, EventKind::Reading { .. }) {
            self.own.borrow_mut().events.push(row);
            return Ok(());
        }
        self.now_significant()?;
        days::insert(
            self.tx(),
            (self.known, &self.day_tables),
            self.tz,
            (&row.0, row.1, &row.2),
        )
        .map_err(|e| self.werr(e))?;
        Ok(())
    }

    pub fn transition(&self, t: &Transition) -> Result<(), JournalError> {
        self.now_significant()?;
        self.durable.set(true);
        let state = serde_json::to_value(t.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        self.tx()
            .prepare_cached(
                "INSERT INTO transitions (ts, ts_ms, alert_id, type, state, subject, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    t.ts.to_rfc3339(),
                    ms(t.ts.to_utc()),
                    t.alert_id,
                    t.alert_type.as_str(),
                    state,
                    t.subject,
                    t.to_json_line()
                ])
            })
            .map_err(|e| self.werr(e))?;
        Ok(())
    }

    pub fn rejected(
        &self,
        seen: DateTime<Utc>,
        line: &str,
        reason: &str,
    ) -> Result<(), JournalError> {
        self.now_significant()?;
        self.tx()
            .prepare_cached("INSERT INTO rejected (seen_ms, line, reason) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![ms(seen), line, reason]))
            .map_err(|e| self.werr(e))?;
        Ok(())
    }

    /// The engine snapshot at `taken`; not written when it is the one already stored.
    pub fn snapshot(&self, taken: DateTime<Utc>, snap: &Snapshot) -> Result<(), JournalError> {
        let state = snap.to_json();
        self.note_time(taken);
        if self.mode == WriteMode::Legacy {
            return write_snapshot(self.tx(), ms(taken), &state, false).map_err(|e| self.werr(e));
        }
        let mut last = self.last_snapshot.borrow_mut();
        if last.as_deref() == Some(state.as_str()) {
            return Ok(());
        }
        self.own.borrow_mut().snapshot = Some((ms(taken), state.clone()));
        *last = Some(state);
        Ok(())
    }

    /// Records the start of a run at `at`; returns its id for [`Batch::alive`].
    pub fn run_started(&self, at: DateTime<Utc>) -> Result<i64, JournalError> {
        self.now_significant()?;
        self.tx()
            .prepare_cached("INSERT INTO runs (started_ms, alive_ms) VALUES (?1, ?1)")
            .and_then(|mut s| s.execute(params![ms(at)]))
            .map_err(|e| self.werr(e))?;
        Ok(self.tx().last_insert_rowid())
    }

    /// Records that run `run` was still alive at `at`.
    pub fn alive(&self, run: i64, at: DateTime<Utc>) -> Result<(), JournalError> {
        self.note_time(at);
        if self.mode == WriteMode::Legacy {
            return write_alive(self.tx(), run, ms(at)).map_err(|e| self.werr(e));
        }
        let mut own = self.own.borrow_mut();
        let e = own.alive.entry(run).or_insert(ms(at));
        *e = (*e).max(ms(at));
        Ok(())
    }

    pub fn set_meta(&self, key: &MetaKey, value: &str) -> Result<(), JournalError> {
        let key = key.to_string();
        if self.mode == WriteMode::Legacy {
            return write_meta(self.tx(), &key, value).map_err(|e| self.werr(e));
        }
        self.own.borrow_mut().meta.insert(key, value.to_owned());
        Ok(())
    }

    /// Makes the commit reach the card before [`Batch::commit`] returns (a batch that
    /// journals a transition is durable already).
    pub fn durable(&self) {
        self.durable.set(true);
        // What must be durable cannot wait for the routine group either.
        self.significant.set(true);
    }

    fn note_time(&self, at: DateTime<Utc>) {
        let mut own = self.own.borrow_mut();
        own.since = Some(own.since.map_or(ms(at), |s| s.min(ms(at))));
    }

    /// The transaction, for the outbox's rows that must commit with the journal's.
    /// Routine rows this batch holds (readings) are not visible through it before commit.
    pub fn transaction(&self) -> &Transaction<'_> {
        self.tx()
    }

    /// Commits the batch: at once when it holds anything that cannot wait (and synced
    /// when it is durable), else as part of the routine group (see the module docs).
    pub fn commit(self) -> Result<(), JournalError> {
        let outside = self.main_written.load(Ordering::Relaxed);
        let whole = {
            let (p, own) = (self.pending.borrow(), self.own.borrow());
            let since = match (p.since, own.since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let old = since
                .zip(own.since)
                .is_some_and(|(s, n)| n - s >= self.window.num_milliseconds());
            self.mode == WriteMode::Legacy
                || self.durable.get()
                || old
                || p.events.len() + own.events.len() >= GROUP_MAX_EVENTS
        };
        if whole || self.significant.get() || outside {
            self.write_held(whole)?;
        } else {
            let own = std::mem::take(&mut *self.own.borrow_mut());
            self.pending.borrow_mut().absorb(own);
        }
        let durable = self.durable.get() && self.mode == WriteMode::Budget;
        let mut this = self;
        let tx = this
            .tx
            .take()
            .expect("a batch's transaction is open until commit");
        if let Err(source) = tx.commit() {
            // Drop puts the earlier groups' rows back for the next batch.
            return Err(JournalError::Write {
                path: this.path.to_path_buf(),
                source,
            });
        }
        this.carried.take();
        if durable {
            sync_wal(this.path)?;
        }
        Ok(())
    }
}

/// A batch dropped without a successful commit: its own rows are gone with it, but the
/// earlier groups' rows it carried go back to wait for the next batch, and the snapshot
/// is written again next time.
impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let carried = self.carried.take();
        if carried.is_empty() {
            return;
        }
        let mut p = self.pending.borrow_mut();
        let newer = std::mem::replace(&mut *p, carried);
        p.absorb(newer);
        self.last_snapshot.take();
    }
}

/// Syncs the WAL: the frames of the last commit are then on the card, as with
/// `synchronous = FULL` for that commit alone.
fn sync_wal(db: &Path) -> Result<(), JournalError> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let sync = std::fs::File::open(&wal).and_then(|f| f.sync_data());
    match sync {
        Ok(()) => Ok(()),
        // Checkpointed and truncated away meanwhile: then it is in the database, synced.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(JournalError::Sync { path: wal, source }),
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
        b.set_meta(&MetaKey::ArchivedThrough, "v").unwrap();
        b.commit().unwrap();
        assert_eq!(j.event_lines().unwrap(), vec![ev.to_json_line()]);
        assert_eq!(
            j.meta(&MetaKey::ArchivedThrough).unwrap().as_deref(),
            Some("v")
        );
    }

    #[test]
    fn the_snapshot_is_stored_deflated_and_read_back_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let cfg: crate::config::Config =
            toml::from_str(&nursery_testkit::Roster::sunflower().toml()).unwrap();
        let snap = crate::rules::Engine::new(&cfg).unwrap().snapshot();
        let at: DateTime<Utc> = "2026-03-02T01:00:00Z".parse().unwrap();
        let b = j.batch().unwrap();
        b.snapshot(at, &snap).unwrap();
        b.durable();
        b.commit().unwrap();
        let (text, packed): (String, Vec<u8>) = j
            .conn
            .query_row("SELECT state, packed FROM snapshot", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(text, "");
        let deflated = pack(&snap.to_json()).len();
        assert!(deflated < snap.to_json().len());
        assert_eq!(packed.len(), padded_len(deflated, PAGE_SIZE as usize));
        drop(j);
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.snapshot().unwrap().unwrap().to_json(), snap.to_json());
        let r = JournalReader::open(dir.path(), std::time::Duration::from_secs(1)).unwrap();
        assert_eq!(r.snapshot().unwrap().unwrap().to_json(), snap.to_json());
    }

    #[test]
    fn a_padded_snapshot_fills_whole_pages_and_keeps_its_length_while_it_fits() {
        // 512-byte pages: 477 bytes in the leaf, 508 per overflow page.
        assert_eq!(padded_len(100, 512), 477 - SNAPSHOT_RECORD);
        assert_eq!(padded_len(1271, 512), 477 + 2 * 508 - SNAPSHOT_RECORD);
        assert_eq!(padded_len(1300, 512), padded_len(1271, 512));
        assert_eq!(padded_len(1482, 512), 477 + 3 * 508 - SNAPSHOT_RECORD);
        for len in [1, 465, 466, 973, 974, 5000] {
            assert!(padded_len(len, 512) >= len, "{len}");
        }
    }

    #[test]
    fn a_snapshot_that_changes_is_rewritten_at_the_same_stored_length() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let cfg: crate::config::Config =
            toml::from_str(&nursery_testkit::Roster::sunflower().toml()).unwrap();
        let mut engine = crate::rules::Engine::new(&cfg).unwrap();
        let stored = |j: &Journal| -> i64 {
            j.conn
                .query_row("SELECT length(packed) FROM snapshot", [], |r| r.get(0))
                .unwrap()
        };
        let at: DateTime<Utc> = "2026-03-02T01:00:00Z".parse().unwrap();
        let b = j.batch().unwrap();
        b.snapshot(at, &engine.snapshot()).unwrap();
        b.durable();
        b.commit().unwrap();
        let first = stored(&j);
        let ev = Event::parse(
            r#"{"ts":"2026-03-02T09:01:00+08:00","type":"door","door":"entrance","state":"open"}"#,
        )
        .unwrap();
        engine.on_event(&ev).unwrap();
        let b = j.batch().unwrap();
        b.snapshot(at + chrono::Duration::minutes(1), &engine.snapshot())
            .unwrap();
        b.durable();
        b.commit().unwrap();
        assert_eq!(stored(&j), first);
        drop(j);
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(
            j.snapshot().unwrap().unwrap().to_json(),
            engine.snapshot().to_json()
        );
    }

    #[test]
    fn a_significant_commit_leaves_the_runs_liveness_for_the_group_and_a_flush_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let at: DateTime<Utc> = "2026-03-02T01:00:00Z".parse().unwrap();
        let b = j.batch().unwrap();
        let run = b.run_started(at).unwrap();
        b.commit().unwrap();
        let ev = Event::parse(
            r#"{"ts":"2026-03-02T09:01:00+08:00","type":"exit_button","door":"entrance"}"#,
        )
        .unwrap();
        let b = j.batch().unwrap();
        b.event(&ev).unwrap();
        b.alive(run, at + chrono::Duration::minutes(1)).unwrap();
        b.commit().unwrap();
        let alive = |j: &Journal| -> i64 {
            j.conn
                .query_row("SELECT alive_ms FROM runs", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(
            alive(&j),
            ms(at),
            "the event is written, the liveness waits"
        );
        j.flush().unwrap();
        assert_eq!(alive(&j), ms(at) + 60_000);
    }
}
