//! The outbox: what waits in SQLite for the regulator's broker (contract section 6).
//!
//! It lives in the journal's database file (`<storage.dir>/nursery-agent.db`) with its own
//! tables and its own schema version (`outbox_schema`), so a message is written in the
//! **same transaction** as the journal entry that caused it: a crash either keeps both or
//! neither.
//!
//! Two queues:
//! - the **durable stream** (`outbox`): alerts, daily summaries and command results, each
//!   stored as its full envelope with a `seq` taken from a counter row (`outbox_state`): it
//!   starts at 1 and grows by one per message, across restarts, and is never reused. These
//!   rows are never dropped; a row leaves only when the broker acknowledged it (PUBACK).
//! - **telemetry** (`outbox_telemetry`): room snapshots, outside the seq stream, that may be
//!   dropped. When the outbox's payload bytes go over the cap, the oldest telemetry goes first
//!   and is counted (`telemetry_dropped`, in total and per local day). When no telemetry is left
//!   and the outbox is still over the cap, the enqueue still succeeds and says
//!   `pressure = true`, so the core can raise a `storage_pressure` warning.
//!
//! # Integration (the daemon's core thread)
//! ```text
//! let journal = Journal::open(&cfg.storage.dir)?;
//! outbox::migrate(journal.connection())?;                // once, at start, outside a batch
//! let cap = outbox::Cap::from_config(&cfg);
//! // for every batch:
//! let batch = journal.batch()?;
//! batch.transition(&t)?;
//! let e = outbox::enqueue(batch.transaction(), &cfg.facility.id, Kind::Alert,
//!                         &message_id, t.ts.to_utc(), &alert_body /* a wire type */, &cap)?;
//! if e.pressure { /* raise storage_pressure */ }
//! batch.commit()?;
//! wake.notify_one();                                       // the sender's Arc<Notify>
//! ```
//! `id` must be unique per message (a resent summary is a new message: new id, new seq).
//! Telemetry goes through [`enqueue_telemetry`] the same way. The daily summary reads
//! [`day_stats`] (telemetry dropped, largest backlog) and [`stats`].
//!
//! Whoever sends the messages reads pages and deletes acknowledged rows through its own
//! connection ([`durable_after`], [`telemetry_before`], [`delete_acked`]). The shapes of the
//! messages are in [`crate::wire`]; the outbox stores them as the JSON text to publish.
//!
//! # Errors
//! [`migrate`], [`enqueue`] and [`enqueue_telemetry`] can fail for reasons of their own
//! (a newer schema, a body that does not serialize) and return [`OutboxError`]; the other
//! functions only run SQL and return `rusqlite::Error` as it came.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;

/// Re-exported: the outbox stores and counts by them, and callers have long named them here.
pub use crate::wire::{rfc3339_utc, Kind, ENVELOPE_SCHEMA};
use crate::wire::{CommandResult, Envelope};

/// How many command ids are remembered to ignore repeats.
pub const COMMAND_IDS_REMEMBERED: i64 = 1024;

/// Outbox schema migrations, applied in order; `outbox_schema.version` records how many ran.
/// Never edit one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the durable stream, telemetry, counters, per-day figures, command ids seen.
    "CREATE TABLE outbox (
         seq         INTEGER PRIMARY KEY,
         id          TEXT    NOT NULL,
         kind        TEXT    NOT NULL,   -- alert | summary | command_result
         created_ms  INTEGER NOT NULL,
         payload     TEXT    NOT NULL,   -- the whole envelope, as published
         size        INTEGER NOT NULL    -- payload bytes
     );
     CREATE TABLE outbox_telemetry (
         id          INTEGER PRIMARY KEY,
         created_ms  INTEGER NOT NULL,
         payload     TEXT    NOT NULL,
         size        INTEGER NOT NULL
     );
     CREATE TABLE outbox_state (
         id                 INTEGER PRIMARY KEY CHECK (id = 1),
         next_seq           INTEGER NOT NULL,
         durable_pending    INTEGER NOT NULL,
         telemetry_pending  INTEGER NOT NULL,
         bytes              INTEGER NOT NULL,
         telemetry_dropped  INTEGER NOT NULL,
         backlog_max        INTEGER NOT NULL
     );
     INSERT INTO outbox_state VALUES (1, 1, 0, 0, 0, 0, 0);
     CREATE TABLE outbox_days (
         day                TEXT PRIMARY KEY,   -- local date, YYYY-MM-DD
         telemetry_dropped  INTEGER NOT NULL DEFAULT 0,
         backlog_max        INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE outbox_commands_seen (
         n        INTEGER PRIMARY KEY,
         id       TEXT    NOT NULL UNIQUE,
         seen_ms  INTEGER NOT NULL
     );",
    // 2: urgent alerts (a panic button pressed, a fire alarm) go out ahead of any backlog;
    // the partial index keeps finding them cheap however long the backlog.
    "ALTER TABLE outbox ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;
     CREATE INDEX outbox_urgent ON outbox (seq) WHERE urgent = 1;",
    // 3: what the broker acknowledged is kept for `[mqtt] keep_sent` (contract 1.1 section
    // 12), so the platform can ask for a seq range again (`resend`); `sent_dropped` counts
    // copies pruned before their time (the bound, storage pressure).
    "CREATE TABLE outbox_sent (
         seq         INTEGER PRIMARY KEY,
         id          TEXT    NOT NULL,
         kind        TEXT    NOT NULL,
         created_ms  INTEGER NOT NULL,
         acked_ms    INTEGER NOT NULL,
         payload     TEXT    NOT NULL,
         size        INTEGER NOT NULL
     );
     CREATE INDEX outbox_sent_acked ON outbox_sent (acked_ms);
     ALTER TABLE outbox_state ADD COLUMN sent_bytes INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE outbox_state ADD COLUMN sent_dropped INTEGER NOT NULL DEFAULT 0;",
];

/// Why the outbox could not do what was asked. Callers say which outbox (the message says
/// what went wrong).
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(
        "outbox schema version {found} is newer than this agent knows ({known}); refusing to touch it"
    )]
    SchemaTooNew { found: usize, known: usize },
    #[error("the {what} body does not serialize to JSON: {source}")]
    Encode {
        /// The message's kind (`alert`, `summary`, `command_result`) or `telemetry`.
        what: &'static str,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// The storage limit, and the time zone that decides which local day a drop is counted on.
#[derive(Debug, Clone, Copy)]
pub struct Cap {
    /// Sum of payload bytes (durable + telemetry) above which telemetry is dropped.
    pub max_bytes: u64,
    pub tz: Tz,
}

impl Cap {
    pub fn from_config(cfg: &crate::config::Config) -> Cap {
        Cap {
            max_bytes: cfg.mqtt.outbox_max_bytes,
            tz: cfg.facility.timezone,
        }
    }
}

/// What one enqueue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The message's `seq`; `None` for telemetry.
    pub seq: Option<u64>,
    /// Telemetry rows dropped by this call to get back under the cap.
    pub telemetry_dropped: u64,
    /// Payload bytes in the outbox after this call.
    pub bytes: u64,
    /// Still over the cap with no telemetry left to drop: raise `storage_pressure`.
    pub pressure: bool,
}

/// The outbox as a whole (all counters are persistent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct OutboxStats {
    /// Alerts, summaries and command results not yet acknowledged.
    pub durable_pending: u64,
    pub telemetry_pending: u64,
    pub bytes: u64,
    pub telemetry_dropped: u64,
    /// Largest number of pending messages (durable + telemetry) ever seen.
    pub backlog_max: u64,
    /// The `seq` the next durable message will get.
    pub next_seq: u64,
}

/// Figures of one local day, for the daily summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DayStats {
    pub telemetry_dropped: u64,
    /// Largest number of pending messages (durable + telemetry) seen that day, measured at
    /// each enqueue.
    pub backlog_max: u64,
}

/// A durable row, as read by the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMessage {
    pub seq: u64,
    pub kind: Kind,
    pub payload: String,
}

/// A telemetry row, as read by the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTelemetry {
    pub id: i64,
    pub payload: String,
}

/// Brings the outbox tables up to date. Idempotent; call once at start, outside any open
/// transaction (it opens its own, one per migration). Refuses a database whose outbox schema
/// is newer than this agent knows.
pub fn migrate(conn: &Connection) -> Result<(), OutboxError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS outbox_schema (version INTEGER NOT NULL)")?;
    let version = schema_version(conn)?;
    if version > MIGRATIONS.len() {
        return Err(OutboxError::SchemaTooNew {
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        // Another process may have migrated between our read and our lock.
        if schema_version(&tx)? > i {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute("DELETE FROM outbox_schema", [])?;
        tx.execute("INSERT INTO outbox_schema (version) VALUES (?1)", [i + 1])?;
        tx.commit()?;
    }
    Ok(())
}

/// The outbox schema version of this database (0 before [`migrate`]).
pub fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    let exists: bool = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox_schema'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !exists {
        return Ok(0);
    }
    let v: Option<i64> =
        conn.query_row("SELECT max(version) FROM outbox_schema", [], |r| r.get(0))?;
    Ok(v.unwrap_or(0).max(0) as usize)
}

/// Appends a durable message (alert, summary, command result). Call it inside the caller's
/// open transaction (the journal's batch) so the message commits with what caused it.
///
/// `id` must be unique per message; `body` is the contract's body: a [`crate::wire`] type
/// (an [`AlertBody`](crate::wire::AlertBody), a [`CommandResult`], the daily summary) or any
/// other `Serialize` value, written inside an [`Envelope`].
pub fn enqueue(
    conn: &Connection,
    facility: &str,
    kind: Kind,
    id: &str,
    created_at: DateTime<Utc>,
    body: &(impl Serialize + ?Sized),
    cap: &Cap,
) -> Result<Enqueued, OutboxError> {
    let encode = |source| OutboxError::Encode {
        what: kind.as_str(),
        source,
    };
    // The body first: one that does not serialize takes no seq and writes nothing.
    let body = serde_json::value::to_raw_value(body).map_err(encode)?;
    let seq: i64 = conn
        .prepare_cached(
            "UPDATE outbox_state SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1",
        )?
        .query_row([], |r| r.get(0))?;
    let seq = seq.max(1) as u64;
    let payload = serde_json::to_string(&Envelope {
        schema: ENVELOPE_SCHEMA,
        facility,
        seq,
        id,
        kind,
        created_at,
        body: &*body,
    })
    .map_err(encode)?;
    let size = payload.len() as i64;
    conn.prepare_cached(
        "INSERT INTO outbox (seq, id, kind, created_ms, payload, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        seq as i64,
        id,
        kind.as_str(),
        created_at.timestamp_millis(),
        payload,
        size
    ])?;
    conn.prepare_cached(
        "UPDATE outbox_state SET durable_pending = durable_pending + 1, bytes = bytes + ?1 WHERE id = 1",
    )?
    .execute([size])?;
    let mut e = after_insert(conn, created_at, cap)?;
    e.seq = Some(seq);
    Ok(e)
}

/// Appends a room snapshot to telemetry (outside the seq stream). `body` (a
/// [`Telemetry`](crate::wire::Telemetry), or any `Serialize` value) is published as is on
/// `{prefix}/{facility}/telemetry`. May drop older telemetry, or this very row when it is the
/// oldest left, to stay under the cap.
pub fn enqueue_telemetry(
    conn: &Connection,
    created_at: DateTime<Utc>,
    body: &(impl Serialize + ?Sized),
    cap: &Cap,
) -> Result<Enqueued, OutboxError> {
    let payload = serde_json::to_string(body).map_err(|source| OutboxError::Encode {
        what: "telemetry",
        source,
    })?;
    let size = payload.len() as i64;
    let day = created_at.with_timezone(&cap.tz).date_naive().to_string();
    let ms = created_at.timestamp_millis();
    if staging(conn)? {
        conn.prepare_cached(
            "INSERT INTO temp.outbox_telemetry_staged (created_ms, payload, size, day, max_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![ms, payload, size, day, cap.max_bytes as i64])?;
        return Ok(staged_enqueued(conn, cap)?);
    }
    Ok(insert_telemetry(conn, ms, &payload, &day, cap.max_bytes)?)
}

fn insert_telemetry(
    conn: &Connection,
    created_ms: i64,
    payload: &str,
    day: &str,
    max_bytes: u64,
) -> rusqlite::Result<Enqueued> {
    let size = payload.len() as i64;
    conn.prepare_cached(
        "INSERT INTO outbox_telemetry (created_ms, payload, size) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![created_ms, payload, size])?;
    conn.prepare_cached(
        "UPDATE outbox_state SET telemetry_pending = telemetry_pending + 1, bytes = bytes + ?1
         WHERE id = 1",
    )?
    .execute([size])?;
    enforce_cap(conn, day, max_bytes)
}

/// Name of the connection's temporary table where telemetry waits for the journal's
/// routine group (see `journal`): in memory, so a minute's telemetry costs the card nothing
/// until the group is written with the rest.
const STAGED: &str = "outbox_telemetry_staged";

/// Turns staging of telemetry on this connection on or off (the journal's write mode).
/// Staged rows are moved into the outbox by [`flush_staged_telemetry`]; turn it off only
/// after a flush.
pub fn stage_telemetry(conn: &Connection, on: bool) -> rusqlite::Result<()> {
    if on {
        conn.execute_batch(
            "PRAGMA temp_store = MEMORY;
             CREATE TEMP TABLE IF NOT EXISTS outbox_telemetry_staged (
                 id          INTEGER PRIMARY KEY,
                 created_ms  INTEGER NOT NULL,
                 payload     TEXT    NOT NULL,
                 size        INTEGER NOT NULL,
                 day         TEXT    NOT NULL,
                 max_bytes   INTEGER NOT NULL
             );",
        )
    } else {
        flush_staged_telemetry(conn)?;
        conn.execute_batch("DROP TABLE IF EXISTS temp.outbox_telemetry_staged")
    }
}

fn staging(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM temp.sqlite_master WHERE type = 'table' AND name = ?1")?
        .query_row([STAGED], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

/// Whether telemetry waits in the connection's staging table.
pub fn has_staged_telemetry(conn: &Connection) -> rusqlite::Result<bool> {
    if !staging(conn)? {
        return Ok(false);
    }
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM temp.outbox_telemetry_staged)")?
        .query_row([], |r| r.get(0))
}

/// Moves staged telemetry into the outbox, oldest first, enforcing the cap as each
/// enqueue would have. Call it inside the transaction that writes the journal's group.
pub fn flush_staged_telemetry(conn: &Connection) -> rusqlite::Result<u64> {
    if !has_staged_telemetry(conn)? {
        return Ok(0);
    }
    let rows: Vec<(i64, String, String, i64)> = conn
        .prepare_cached(
            "SELECT created_ms, payload, day, max_bytes FROM temp.outbox_telemetry_staged
             ORDER BY id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut dropped = 0;
    for (ms, payload, day, max) in &rows {
        dropped +=
            insert_telemetry(conn, *ms, payload, day, (*max).max(0) as u64)?.telemetry_dropped;
    }
    conn.execute("DELETE FROM temp.outbox_telemetry_staged", [])?;
    Ok(dropped)
}

/// What a staged enqueue reports: `pressure` when the durable messages alone are over the
/// cap (then no telemetry could stay), as [`enforce_cap`] would find.
fn staged_enqueued(conn: &Connection, cap: &Cap) -> rusqlite::Result<Enqueued> {
    let (bytes, durable): (i64, i64) = conn
        .prepare_cached(
            "SELECT bytes, bytes - (SELECT coalesce(sum(size), 0) FROM outbox_telemetry)
             FROM outbox_state WHERE id = 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(Enqueued {
        seq: None,
        telemetry_dropped: 0,
        bytes: bytes.max(0) as u64,
        pressure: durable.max(0) as u64 > cap.max_bytes,
    })
}

/// Drops every waiting telemetry row (the storage budget's first relief), counted as
/// dropped on `day`; returns how many went. Durable messages stay.
pub fn shed_telemetry(conn: &Connection, day: NaiveDate) -> rusqlite::Result<u64> {
    Ok(enforce_cap(conn, &day.to_string(), 0)?.telemetry_dropped)
}

/// Enforces the cap (oldest telemetry first) and records the backlog high-water marks.
fn after_insert(
    conn: &Connection,
    created_at: DateTime<Utc>,
    cap: &Cap,
) -> rusqlite::Result<Enqueued> {
    let day = created_at.with_timezone(&cap.tz).date_naive().to_string();
    enforce_cap(conn, &day, cap.max_bytes)
}

/// Drops the oldest telemetry while the outbox is over `max_bytes`, and records the
/// backlog high-water marks of `day`.
fn enforce_cap(conn: &Connection, day: &str, max_bytes: u64) -> rusqlite::Result<Enqueued> {
    let (mut bytes, _) = bytes_and_backlog(conn)?;
    let mut dropped: u64 = 0;
    let mut dropped_bytes: i64 = 0;
    let mut pressure = false;
    while bytes > max_bytes {
        let size: Option<i64> = conn
            .prepare_cached(
                "DELETE FROM outbox_telemetry WHERE id = (SELECT min(id) FROM outbox_telemetry)
                 RETURNING size",
            )?
            .query_row([], |r| r.get(0))
            .optional()?;
        match size {
            Some(s) => {
                dropped += 1;
                dropped_bytes += s;
                bytes = bytes.saturating_sub(s.max(0) as u64);
            }
            None => {
                pressure = true;
                break;
            }
        }
    }
    if dropped > 0 {
        conn.prepare_cached(
            "UPDATE outbox_state SET telemetry_pending = telemetry_pending - ?1,
                 bytes = bytes - ?2, telemetry_dropped = telemetry_dropped + ?1 WHERE id = 1",
        )?
        .execute(params![dropped as i64, dropped_bytes])?;
    }
    let (_, backlog) = bytes_and_backlog(conn)?;
    conn.prepare_cached("UPDATE outbox_state SET backlog_max = max(backlog_max, ?1) WHERE id = 1")?
        .execute([backlog as i64])?;
    conn.prepare_cached(
        "INSERT INTO outbox_days (day, telemetry_dropped, backlog_max) VALUES (?1, ?2, ?3)
         ON CONFLICT (day) DO UPDATE SET
             telemetry_dropped = telemetry_dropped + excluded.telemetry_dropped,
             backlog_max = max(backlog_max, excluded.backlog_max)",
    )?
    .execute(params![day, dropped as i64, backlog as i64])?;
    Ok(Enqueued {
        seq: None,
        telemetry_dropped: dropped,
        bytes,
        pressure,
    })
}

fn bytes_and_backlog(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    conn.prepare_cached(
        "SELECT bytes, durable_pending + telemetry_pending FROM outbox_state WHERE id = 1",
    )?
    .query_row([], |r| {
        Ok((
            r.get::<_, i64>(0)?.max(0) as u64,
            r.get::<_, i64>(1)?.max(0) as u64,
        ))
    })
}

/// The outbox's persistent counters.
pub fn stats(conn: &Connection) -> rusqlite::Result<OutboxStats> {
    conn.prepare_cached(
        "SELECT durable_pending, telemetry_pending, bytes, telemetry_dropped, backlog_max, next_seq
         FROM outbox_state WHERE id = 1",
    )?
    .query_row([], |r| {
        let g = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
        Ok(OutboxStats {
            durable_pending: g(0)?,
            telemetry_pending: g(1)?,
            bytes: g(2)?,
            telemetry_dropped: g(3)?,
            backlog_max: g(4)?,
            next_seq: g(5)?,
        })
    })
}

/// Telemetry dropped and largest backlog on one local day (zeros for a day with no enqueue).
pub fn day_stats(conn: &Connection, day: NaiveDate) -> rusqlite::Result<DayStats> {
    Ok(conn
        .prepare_cached("SELECT telemetry_dropped, backlog_max FROM outbox_days WHERE day = ?1")?
        .query_row([day.to_string()], |r| {
            Ok(DayStats {
                telemetry_dropped: r.get::<_, i64>(0)?.max(0) as u64,
                backlog_max: r.get::<_, i64>(1)?.max(0) as u64,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Marks the durable message `seq` urgent: the sender publishes it ahead of the backlog
/// before it (see [`urgent_after`]). Its `seq` stays what it is.
pub fn mark_urgent(conn: &Connection, seq: u64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE outbox SET urgent = 1 WHERE seq = ?1")?
        .execute([seq as i64])?;
    Ok(())
}

/// Up to `limit` urgent durable messages with `seq > after`, in `seq` order.
pub fn urgent_after(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> rusqlite::Result<Vec<PendingMessage>> {
    pending_after(
        conn,
        "SELECT seq, kind, payload FROM outbox WHERE urgent = 1 AND seq > ?1 ORDER BY seq LIMIT ?2",
        after,
        limit,
    )
}

/// Up to `limit` durable messages with `seq > after`, in `seq` order.
pub fn durable_after(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> rusqlite::Result<Vec<PendingMessage>> {
    pending_after(
        conn,
        "SELECT seq, kind, payload FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        after,
        limit,
    )
}

/// The rows of `sql` (seq, kind, payload; parameters `after` and `limit`) as messages.
fn pending_after(
    conn: &Connection,
    sql: &str,
    after: u64,
    limit: usize,
) -> rusqlite::Result<Vec<PendingMessage>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![after as i64, limit as i64], |r| {
        let kind: String = r.get(1)?;
        Ok(PendingMessage {
            seq: r.get::<_, i64>(0)?.max(0) as u64,
            kind: Kind::parse(&kind).unwrap_or(Kind::Alert),
            payload: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// Up to `limit` telemetry rows with `id < before`, newest first.
pub fn telemetry_before(
    conn: &Connection,
    before: i64,
    limit: usize,
) -> rusqlite::Result<Vec<PendingTelemetry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, payload FROM outbox_telemetry WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![before, limit as i64], |r| {
        Ok(PendingTelemetry {
            id: r.get(0)?,
            payload: r.get(1)?,
        })
    })?;
    rows.collect()
}

/// Settles acknowledged rows (durable by `seq`, telemetry by id) and updates the counters:
/// telemetry is deleted; a durable message leaves the outbox and is kept in `outbox_sent`
/// (same seq, id and envelope) for `resend` until [`prune_sent`] lets it go. Rows already
/// gone are ignored, so a repeated acknowledgement is harmless.
pub fn delete_acked(conn: &Connection, seqs: &[u64], telemetry: &[i64]) -> rusqlite::Result<()> {
    let mut durable_n: i64 = 0;
    let mut tele_n: i64 = 0;
    let mut bytes: i64 = 0;
    let mut sent_bytes: i64 = 0;
    let acked_ms = Utc::now().timestamp_millis();
    {
        let mut del = conn.prepare_cached(
            "DELETE FROM outbox WHERE seq = ?1 RETURNING id, kind, created_ms, payload, size",
        )?;
        let mut keep = conn.prepare_cached(
            "INSERT OR IGNORE INTO outbox_sent (seq, id, kind, created_ms, acked_ms, payload, size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for &s in seqs {
            let row = del
                .query_row([s as i64], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
                .optional()?;
            if let Some((id, kind, created_ms, payload, size)) = row {
                durable_n += 1;
                bytes += size;
                if keep.execute(params![
                    s as i64, id, kind, created_ms, acked_ms, payload, size
                ])? > 0
                {
                    sent_bytes += size;
                }
            }
        }
    }
    {
        let mut del =
            conn.prepare_cached("DELETE FROM outbox_telemetry WHERE id = ?1 RETURNING size")?;
        for &id in telemetry {
            if let Some(size) = del.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
                tele_n += 1;
                bytes += size;
            }
        }
    }
    if durable_n + tele_n > 0 {
        conn.prepare_cached(
            "UPDATE outbox_state SET durable_pending = durable_pending - ?1,
                 telemetry_pending = telemetry_pending - ?2, bytes = bytes - ?3,
                 sent_bytes = sent_bytes + ?4 WHERE id = 1",
        )?
        .execute(params![durable_n, tele_n, bytes, sent_bytes])?;
    }
    Ok(())
}

/// The copies of acknowledged messages kept for `resend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SentStats {
    /// Messages held.
    pub held: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// The oldest seq held (`None` when nothing is).
    pub oldest: Option<u64>,
    /// Copies pruned before `keep_sent` was over (the bound, storage pressure), in total.
    pub dropped: u64,
}

/// What is held of the acknowledged messages.
pub fn sent_stats(conn: &Connection) -> rusqlite::Result<SentStats> {
    let (held, oldest): (i64, Option<i64>) = conn
        .prepare_cached("SELECT count(*), min(seq) FROM outbox_sent")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (bytes, dropped): (i64, i64) = conn
        .prepare_cached("SELECT sent_bytes, sent_dropped FROM outbox_state WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(SentStats {
        held: held.max(0) as u64,
        bytes: bytes.max(0) as u64,
        oldest: oldest.map(|s| s.max(0) as u64),
        dropped: dropped.max(0) as u64,
    })
}

/// What one [`prune_sent`] or [`drop_sent_oldest`] let go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrunedSent {
    /// Held for their full `keep_sent`: gone as planned.
    pub expired: u64,
    /// Gone early (over the bound, or for storage): counted in [`SentStats::dropped`].
    pub dropped: u64,
}

/// Lets go of the acknowledged copies acknowledged more than `keep` before `now`, then of
/// the oldest while their bytes are over `max_bytes` (counted as dropped). Never touches
/// what is unsent (`outbox`).
pub fn prune_sent(
    conn: &Connection,
    now: DateTime<Utc>,
    keep: std::time::Duration,
    max_bytes: u64,
) -> rusqlite::Result<PrunedSent> {
    let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let before = now.timestamp_millis().saturating_sub(keep_ms);
    let (expired, bytes) = delete_sent(
        conn,
        "DELETE FROM outbox_sent WHERE acked_ms < ?1 RETURNING size",
        [before],
    )?;
    let mut out = PrunedSent {
        expired,
        dropped: 0,
    };
    let mut freed = bytes;
    let sent_bytes: i64 = conn
        .prepare_cached("SELECT sent_bytes FROM outbox_state WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let excess = sent_bytes - bytes - i64::try_from(max_bytes).unwrap_or(i64::MAX);
    if excess > 0 {
        // The oldest whose bytes cover the excess, in one delete.
        let mut cutoff = None;
        {
            let mut stmt = conn.prepare_cached("SELECT seq, size FROM outbox_sent ORDER BY seq")?;
            let mut rows = stmt.query([])?;
            let mut covered = 0;
            while let Some(r) = rows.next()? {
                covered += r.get::<_, i64>(1)?;
                cutoff = Some(r.get::<_, i64>(0)?);
                if covered >= excess {
                    break;
                }
            }
        }
        if let Some(cutoff) = cutoff {
            let (n, b) = delete_sent(
                conn,
                "DELETE FROM outbox_sent WHERE seq <= ?1 RETURNING size",
                [cutoff],
            )?;
            out.dropped = n;
            freed += b;
        }
    }
    settle_sent_counters(conn, freed, out.dropped)?;
    Ok(out)
}

/// Drops the oldest half of the acknowledged copies (at least one), for storage pressure;
/// counted in [`SentStats::dropped`]. Returns how many went.
pub fn drop_sent_oldest(conn: &Connection) -> rusqlite::Result<u64> {
    let (n, bytes) = delete_sent(
        conn,
        "DELETE FROM outbox_sent WHERE seq IN (SELECT seq FROM outbox_sent ORDER BY seq
             LIMIT max(1, (SELECT count(*) FROM outbox_sent) / 2)) RETURNING size",
        [],
    )?;
    settle_sent_counters(conn, bytes, n)?;
    Ok(n)
}

fn delete_sent(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> rusqlite::Result<(u64, i64)> {
    let mut stmt = conn.prepare_cached(sql)?;
    let sizes = stmt
        .query_map(args, |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok((sizes.len() as u64, sizes.iter().sum()))
}

fn settle_sent_counters(conn: &Connection, freed: i64, dropped: u64) -> rusqlite::Result<()> {
    if freed == 0 && dropped == 0 {
        return Ok(());
    }
    conn.prepare_cached(
        "UPDATE outbox_state SET sent_bytes = max(0, sent_bytes - ?1),
             sent_dropped = sent_dropped + ?2 WHERE id = 1",
    )?
    .execute(params![freed, dropped as i64])?;
    Ok(())
}

/// Up to `limit` acknowledged copies with `from <= seq <= to`, in `seq` order, for `resend`.
pub fn sent_range(
    conn: &Connection,
    from: u64,
    to: u64,
    limit: usize,
) -> rusqlite::Result<Vec<PendingMessage>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, kind, payload FROM outbox_sent WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq
         LIMIT ?3",
    )?;
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![clamp(from), clamp(to), limit as i64], |r| {
        let kind: String = r.get(1)?;
        Ok(PendingMessage {
            seq: r.get::<_, i64>(0)?.max(0) as u64,
            kind: Kind::parse(&kind).unwrap_or(Kind::Alert),
            payload: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// What the outbox holds of the seq range `from..=to`, for the answer to `resend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeldRange {
    /// Acknowledged copies in the range: what a resend publishes again.
    pub count: u64,
    /// The first and last of them.
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// The oldest seq held at all (acknowledged copies and unsent messages).
    pub oldest_held: Option<u64>,
    /// Messages of the range not acknowledged yet: they go out as usual, not resent.
    pub pending: u64,
    /// The last seq given so far (0 before the first message).
    pub newest: u64,
}

/// Counts what [`sent_range`] would read of `from..=to`, and what surrounds it.
pub fn held_range(conn: &Connection, from: u64, to: u64) -> rusqlite::Result<HeldRange> {
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let (count, first, last): (i64, Option<i64>, Option<i64>) = conn
        .prepare_cached(
            "SELECT count(*), min(seq), max(seq) FROM outbox_sent WHERE seq BETWEEN ?1 AND ?2",
        )?
        .query_row(params![clamp(from), clamp(to)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let pending: i64 = conn
        .prepare_cached("SELECT count(*) FROM outbox WHERE seq BETWEEN ?1 AND ?2")?
        .query_row(params![clamp(from), clamp(to)], |r| r.get(0))?;
    let oldest: Option<i64> = conn
        .prepare_cached(
            "SELECT min(s) FROM (SELECT min(seq) AS s FROM outbox_sent
                                 UNION ALL SELECT min(seq) FROM outbox)",
        )?
        .query_row([], |r| r.get(0))?;
    let next: i64 = conn
        .prepare_cached("SELECT next_seq FROM outbox_state WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let u = |v: i64| v.max(0) as u64;
    Ok(HeldRange {
        count: u(count),
        first: first.map(u),
        last: last.map(u),
        oldest_held: oldest.map(u),
        pending: u(pending),
        newest: u(next - 1),
    })
}

/// Records a command id; `true` when it was new, `false` when it was seen before (a repeat to
/// ignore). Keeps the latest [`COMMAND_IDS_REMEMBERED`] ids.
pub fn remember_command(conn: &Connection, id: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    let inserted = conn
        .prepare_cached("INSERT OR IGNORE INTO outbox_commands_seen (id, seen_ms) VALUES (?1, ?2)")?
        .execute(params![id, now.timestamp_millis()])?;
    if inserted == 0 {
        return Ok(false);
    }
    conn.prepare_cached(
        "DELETE FROM outbox_commands_seen WHERE n <= (SELECT max(n) FROM outbox_commands_seen) - ?1",
    )?
    .execute([COMMAND_IDS_REMEMBERED])?;
    Ok(true)
}

/// Whether a command id has been recorded as seen (see [`remember_command`]).
pub fn command_seen(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM outbox_commands_seen WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

/// The `body` of a `command-results` message: `{"command_id","ok":true}` or
/// `{"command_id","error","ok":false}` (see [`CommandResult`]).
pub fn command_result_body<'a>(
    command_id: &'a str,
    result: Result<(), &'a str>,
) -> CommandResult<'a> {
    CommandResult::new(command_id, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cap(max_bytes: u64) -> Cap {
        Cap {
            max_bytes,
            tz: chrono_tz::Asia::Shanghai,
        }
    }

    fn open(dir: &std::path::Path) -> Connection {
        let conn = Connection::open(dir.join("nursery-agent.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        migrate(&conn).unwrap();
        conn
    }

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
    }

    fn alert(conn: &Connection, id: &str, cap: &Cap) -> Enqueued {
        let tx = conn.unchecked_transaction().unwrap();
        let e = enqueue(
            &tx,
            "310115-0042",
            Kind::Alert,
            id,
            at(1),
            &serde_json::json!({"type": "door_forced", "pad": "x".repeat(100)}),
            cap,
        )
        .unwrap();
        tx.commit().unwrap();
        e
    }

    fn telemetry(conn: &Connection, n: u32, cap: &Cap) -> Enqueued {
        enqueue_telemetry(conn, at(2), &serde_json::json!({ "n": n }), cap).unwrap()
    }

    #[test]
    fn migrate_is_idempotent_and_records_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        migrate(&conn).unwrap();
        migrate(&conn).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM outbox_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
    }

    #[test]
    fn an_outbox_from_a_newer_agent_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        conn.execute("UPDATE outbox_schema SET version = 99", [])
            .unwrap();
        let err = migrate(&conn).unwrap_err().to_string();
        assert!(err.contains("99"), "{err}");
    }

    #[test]
    fn seq_starts_at_one_and_stays_contiguous_across_reopen_and_acks() {
        let dir = tempfile::tempdir().unwrap();
        let c = cap(u64::MAX);
        {
            let conn = open(dir.path());
            assert_eq!(alert(&conn, "a1", &c).seq, Some(1));
            assert_eq!(alert(&conn, "a2", &c).seq, Some(2));
            delete_acked(&conn, &[1, 2], &[]).unwrap();
        }
        let conn = open(dir.path());
        assert_eq!(alert(&conn, "a3", &c).seq, Some(3));
        // A rolled-back transaction gives its seq back: no gap is ever published.
        {
            let tx = conn.unchecked_transaction().unwrap();
            enqueue(
                &tx,
                "f",
                Kind::Summary,
                "s",
                at(1),
                &serde_json::json!({}),
                &c,
            )
            .unwrap();
        }
        assert_eq!(alert(&conn, "a4", &c).seq, Some(4));
        let page = durable_after(&conn, 0, 10).unwrap();
        assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3, 4]);
        let env: serde_json::Value = serde_json::from_str(&page[0].payload).unwrap();
        assert_eq!(env["schema"], "nursery-agent/1");
        assert_eq!(env["facility"], "310115-0042");
        assert_eq!(env["seq"], 3);
        assert_eq!(env["id"], "a3");
        assert_eq!(env["kind"], "alert");
        assert_eq!(env["created_at"], "2026-03-02T01:00:00Z");
        assert_eq!(env["body"]["type"], "door_forced");
        let s = stats(&conn).unwrap();
        assert_eq!((s.durable_pending, s.next_seq), (2, 5));
    }

    #[test]
    fn over_the_cap_telemetry_goes_oldest_first_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        let big = cap(u64::MAX);
        for n in 0..5 {
            telemetry(&conn, n, &big);
        }
        let bytes = stats(&conn).unwrap().bytes;
        // Room for three telemetry rows only.
        let small = cap(bytes - 1);
        let e = telemetry(&conn, 5, &small);
        assert_eq!(e.telemetry_dropped, 2);
        assert!(!e.pressure);
        let left: Vec<String> = telemetry_before(&conn, i64::MAX, 10)
            .unwrap()
            .into_iter()
            .map(|t| t.payload)
            .collect();
        assert_eq!(
            left,
            vec![r#"{"n":5}"#, r#"{"n":4}"#, r#"{"n":3}"#, r#"{"n":2}"#]
        );
        let s = stats(&conn).unwrap();
        assert_eq!((s.telemetry_pending, s.telemetry_dropped), (4, 2));
        let day = day_stats(&conn, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()).unwrap();
        assert_eq!(day.telemetry_dropped, 2);
        assert_eq!(day.backlog_max, 5);
    }

    #[test]
    fn alerts_are_never_dropped_and_pressure_is_reported_when_only_they_are_left() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        let c = cap(600);
        for n in 0..3 {
            assert!(!telemetry(&conn, n, &c).pressure);
        }
        let mut last = None;
        for i in 0..10 {
            last = Some(alert(&conn, &format!("a{i}"), &c));
        }
        let last = last.unwrap();
        assert!(last.pressure);
        let s = stats(&conn).unwrap();
        assert_eq!(s.durable_pending, 10);
        assert_eq!(s.telemetry_pending, 0);
        assert_eq!(s.telemetry_dropped, 3);
        assert_eq!(durable_after(&conn, 0, 100).unwrap().len(), 10);
        // Once the broker acknowledged them, the pressure is gone.
        delete_acked(&conn, &(1..=10).collect::<Vec<_>>(), &[]).unwrap();
        assert_eq!(stats(&conn).unwrap().bytes, 0);
        assert!(!telemetry(&conn, 9, &c).pressure);
    }

    #[test]
    fn counters_match_the_rows_after_acks_and_repeated_acks() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        let c = cap(u64::MAX);
        alert(&conn, "a1", &c);
        alert(&conn, "a2", &c);
        telemetry(&conn, 1, &c);
        let t = telemetry_before(&conn, i64::MAX, 1).unwrap()[0].id;
        delete_acked(&conn, &[1], &[t]).unwrap();
        delete_acked(&conn, &[1], &[t]).unwrap();
        let s = stats(&conn).unwrap();
        let real: i64 = conn
            .query_row("SELECT coalesce(sum(size), 0) FROM outbox", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            (s.durable_pending, s.telemetry_pending, s.bytes),
            (1, 0, real as u64)
        );
        assert_eq!(s.backlog_max, 3);
    }

    #[test]
    fn an_acknowledged_message_is_kept_with_its_envelope_and_counted_for_resend() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        let c = cap(u64::MAX);
        for i in 1..=5 {
            alert(&conn, &format!("a{i}"), &c);
        }
        let originals = durable_after(&conn, 0, 10).unwrap();
        delete_acked(&conn, &[1, 2, 3], &[]).unwrap();
        delete_acked(&conn, &[1, 2], &[]).unwrap();
        // Left the outbox, not the database.
        assert_eq!(
            durable_after(&conn, 0, 10)
                .unwrap()
                .iter()
                .map(|m| m.seq)
                .collect::<Vec<_>>(),
            vec![4, 5]
        );
        assert_eq!(
            sent_range(&conn, 1, 99, 10).unwrap(),
            originals[..3].to_vec()
        );
        assert_eq!(
            sent_range(&conn, 2, 2, 10).unwrap(),
            originals[1..2].to_vec()
        );
        let st = sent_stats(&conn).unwrap();
        assert_eq!((st.held, st.oldest, st.dropped), (3, Some(1), 0));
        assert_eq!(
            st.bytes as usize,
            originals[..3]
                .iter()
                .map(|m| m.payload.len())
                .sum::<usize>()
        );
        let h = held_range(&conn, 2, 40).unwrap();
        assert_eq!(
            (h.count, h.first, h.last, h.oldest_held, h.pending, h.newest),
            (2, Some(2), Some(3), Some(1), 2, 5)
        );
        // What waits is counted apart: the cap and pressure see only it.
        assert_eq!(stats(&conn).unwrap().durable_pending, 2);
    }

    #[test]
    fn copies_go_after_keep_sent_or_oldest_first_over_their_bound_and_never_what_is_unsent() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        let c = cap(u64::MAX);
        for i in 1..=6 {
            alert(&conn, &format!("a{i}"), &c);
        }
        delete_acked(&conn, &[1, 2, 3, 4], &[]).unwrap();
        let now = Utc::now();
        let day = std::time::Duration::from_secs(86_400);
        // Within keep_sent and the bound: nothing goes.
        let p = prune_sent(&conn, now, day, u64::MAX).unwrap();
        assert_eq!(p, PrunedSent::default());
        // Over the bound: the oldest go, counted as dropped.
        let one = sent_range(&conn, 1, 1, 1).unwrap()[0].payload.len() as u64;
        let p = prune_sent(&conn, now, day, 2 * one).unwrap();
        assert_eq!(p.dropped, 2);
        assert_eq!(sent_stats(&conn).unwrap().oldest, Some(3));
        // A day later: past keep_sent, they go as planned (not counted as dropped).
        let p = prune_sent(&conn, now + chrono::Duration::days(2), day, u64::MAX).unwrap();
        assert_eq!((p.expired, p.dropped), (2, 0));
        let st = sent_stats(&conn).unwrap();
        assert_eq!((st.held, st.bytes, st.dropped), (0, 0, 2));
        // The unsent are untouched.
        assert_eq!(durable_after(&conn, 0, 10).unwrap().len(), 2);
        // Storage pressure: the oldest half, at least one.
        delete_acked(&conn, &[5, 6], &[]).unwrap();
        assert_eq!(drop_sent_oldest(&conn).unwrap(), 1);
        assert_eq!(sent_stats(&conn).unwrap().oldest, Some(6));
        assert_eq!(drop_sent_oldest(&conn).unwrap(), 1);
        assert_eq!(drop_sent_oldest(&conn).unwrap(), 0);
        assert_eq!(sent_stats(&conn).unwrap().dropped, 4);
    }

    #[test]
    fn a_command_id_is_new_once_and_only_the_latest_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        assert!(remember_command(&conn, "c1", at(1)).unwrap());
        assert!(!remember_command(&conn, "c1", at(1)).unwrap());
        for i in 0..COMMAND_IDS_REMEMBERED {
            remember_command(&conn, &format!("x{i}"), at(1)).unwrap();
        }
        let n: i64 = conn
            .query_row("SELECT count(*) FROM outbox_commands_seen", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, COMMAND_IDS_REMEMBERED);
        assert!(remember_command(&conn, "c1", at(1)).unwrap());
    }

    #[test]
    fn command_results_and_envelopes_are_byte_for_byte_what_the_platform_received_before() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        let c = cap(u64::MAX);
        let ms: DateTime<Utc> = "2026-03-02T01:16:00.123Z".parse().unwrap();
        let bodies = [
            command_result_body("cmd-1", Ok(())),
            command_result_body("cmd-2", Err("the summary of 2026-03-03 is not due yet")),
        ];
        for (i, b) in bodies.iter().enumerate() {
            let id = format!("command:cmd-{}", i + 1);
            enqueue(&conn, "310115-0042", Kind::CommandResult, &id, ms, b, &c).unwrap();
        }
        // A body that is still a `serde_json::Value` goes in the same envelope.
        let summary = serde_json::json!({"date": "2026-03-02"});
        enqueue(
            &conn,
            "310115-0042",
            Kind::Summary,
            "summary:2026-03-02",
            ms,
            &summary,
            &c,
        )
        .unwrap();
        enqueue(
            &conn,
            "310115-0042",
            Kind::Alert,
            "A1:raised",
            at(1),
            &summary,
            &c,
        )
        .unwrap();
        let payloads: Vec<String> = durable_after(&conn, 0, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.payload)
            .collect();
        // Captured from the agent before the envelope's body was generic and the result typed.
        assert_eq!(
            payloads,
            [
                r#"{"schema":"nursery-agent/1","facility":"310115-0042","seq":1,"id":"command:cmd-1","kind":"command_result","created_at":"2026-03-02T01:16:00.123Z","body":{"command_id":"cmd-1","ok":true}}"#,
                r#"{"schema":"nursery-agent/1","facility":"310115-0042","seq":2,"id":"command:cmd-2","kind":"command_result","created_at":"2026-03-02T01:16:00.123Z","body":{"command_id":"cmd-2","error":"the summary of 2026-03-03 is not due yet","ok":false}}"#,
                r#"{"schema":"nursery-agent/1","facility":"310115-0042","seq":3,"id":"summary:2026-03-02","kind":"summary","created_at":"2026-03-02T01:16:00.123Z","body":{"date":"2026-03-02"}}"#,
                r#"{"schema":"nursery-agent/1","facility":"310115-0042","seq":4,"id":"A1:raised","kind":"alert","created_at":"2026-03-02T01:00:00Z","body":{"date":"2026-03-02"}}"#,
            ]
        );
    }

    #[test]
    fn a_body_that_does_not_serialize_is_an_error_that_names_it_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        let c = cap(u64::MAX);
        // JSON objects need string keys.
        let bad: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let err = enqueue(&conn, "f", Kind::Summary, "s", at(1), &bad, &c).unwrap_err();
        assert!(
            matches!(
                err,
                OutboxError::Encode {
                    what: "summary",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("summary body"), "{err}");
        let err = enqueue_telemetry(&conn, at(1), &bad, &c).unwrap_err();
        assert!(matches!(
            err,
            OutboxError::Encode {
                what: "telemetry",
                ..
            }
        ));
        assert_eq!(
            stats(&conn).unwrap(),
            OutboxStats {
                next_seq: 1,
                ..Default::default()
            }
        );
        assert!(durable_after(&conn, 0, 10).unwrap().is_empty());
    }
}
