//! The receiver's PostgreSQL database: every envelope once per `(facility, seq)`, conflicts
//! and rejected payloads kept (never dropped), status and telemetry per facility, and the
//! resend requests with the agent's answers.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::{Client, NoTls};

use crate::envelope::Envelope;
use crate::ranges::Range;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS facilities (
    facility        text PRIMARY KEY,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    state           text,
    status          jsonb,
    status_at       timestamptz,
    duplicates      bigint NOT NULL DEFAULT 0,
    telemetry       bigint NOT NULL DEFAULT 0,
    last_telemetry  jsonb
);
CREATE TABLE IF NOT EXISTS envelopes (
    facility     text NOT NULL,
    seq          bigint NOT NULL CHECK (seq >= 1),
    id           text NOT NULL,
    kind         text NOT NULL,
    created_at   text NOT NULL,
    body         jsonb NOT NULL,
    topic        text NOT NULL,
    -- the client id of the receiver that stored it (several may share a subscription)
    receiver     text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility, seq)
);
CREATE TABLE IF NOT EXISTS conflicts (
    n            bigserial PRIMARY KEY,
    facility     text NOT NULL,
    seq          bigint NOT NULL,
    stored_id    text NOT NULL,
    received_id  text NOT NULL,
    payload      text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS rejected (
    n            bigserial PRIMARY KEY,
    facility     text,
    topic        text NOT NULL,
    payload      bytea NOT NULL,
    error        text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS resends (
    command_id   text PRIMARY KEY,
    facility     text NOT NULL,
    from_seq     bigint NOT NULL,
    to_seq       bigint NOT NULL,
    sent_at      timestamptz NOT NULL DEFAULT now(),
    answered_at  timestamptz,
    ok           boolean,
    answer       jsonb,
    outcome      text
);
-- at most one resend outstanding per facility, whichever receiver sent it
CREATE UNIQUE INDEX IF NOT EXISTS resends_one_outstanding ON resends (facility) WHERE outcome IS NULL;
CREATE TABLE IF NOT EXISTS unrecoverable (
    facility     text NOT NULL,
    from_seq     bigint NOT NULL,
    to_seq       bigint NOT NULL,
    reason       text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility, from_seq)
);
"#;

/// Connects (a libpq-style string or a `postgresql://` URL) and creates the tables.
pub async fn connect(conninfo: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(conninfo, NoTls)
        .await
        .with_context(|| format!("connecting to PostgreSQL ({conninfo})"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!("PostgreSQL connection ended: {e}");
        }
    });
    client
        .batch_execute(SCHEMA)
        .await
        .context("creating the receiver's tables")?;
    Ok(client)
}

/// What storing one envelope came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// The first time this `(facility, seq)` was seen.
    New,
    /// Seen before with the same id: counted, not stored again.
    Duplicate,
    /// Seen before with another id: the first one stays, this one is kept as a conflict.
    Conflict { stored_id: String },
}

async fn touch(db: &Client, facility: &str) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO facilities (facility) VALUES ($1)
         ON CONFLICT (facility) DO UPDATE SET last_seen = now()",
        &[&facility],
    )
    .await?;
    Ok(())
}

pub async fn store_envelope(
    db: &Client,
    receiver: &str,
    topic: &str,
    e: &Envelope,
    payload: &[u8],
) -> anyhow::Result<Stored> {
    touch(db, &e.facility).await?;
    let inserted = db
        .execute(
            "INSERT INTO envelopes (facility, seq, id, kind, created_at, body, topic, receiver)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (facility, seq) DO NOTHING",
            &[
                &e.facility,
                &e.seq,
                &e.id,
                &e.kind,
                &e.created_at,
                &e.body,
                &topic,
                &receiver,
            ],
        )
        .await?;
    if inserted == 1 {
        return Ok(Stored::New);
    }
    let row = db
        .query_one(
            "SELECT id FROM envelopes WHERE facility = $1 AND seq = $2",
            &[&e.facility, &e.seq],
        )
        .await?;
    let stored_id: String = row.get(0);
    if stored_id == e.id {
        db.execute(
            "UPDATE facilities SET duplicates = duplicates + 1 WHERE facility = $1",
            &[&e.facility],
        )
        .await?;
        Ok(Stored::Duplicate)
    } else {
        db.execute(
            "INSERT INTO conflicts (facility, seq, stored_id, received_id, payload)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &e.facility,
                &e.seq,
                &stored_id,
                &e.id,
                &String::from_utf8_lossy(payload).into_owned(),
            ],
        )
        .await?;
        Ok(Stored::Conflict { stored_id })
    }
}

/// A payload that could not be taken for what its topic says, with why.
pub async fn reject(
    db: &Client,
    facility: Option<&str>,
    topic: &str,
    payload: &[u8],
    error: &str,
) -> anyhow::Result<()> {
    if let Some(f) = facility {
        touch(db, f).await?;
    }
    db.execute(
        "INSERT INTO rejected (facility, topic, payload, error) VALUES ($1, $2, $3, $4)",
        &[&facility, &topic, &payload, &error],
    )
    .await?;
    Ok(())
}

/// The retained `status` (online, or the last will's offline).
pub async fn status(db: &Client, facility: &str, status: &Value) -> anyhow::Result<()> {
    touch(db, facility).await?;
    let state = status["state"].as_str();
    db.execute(
        "UPDATE facilities SET state = $2, status = $3, status_at = now() WHERE facility = $1",
        &[&facility, &state, status],
    )
    .await?;
    Ok(())
}

/// Telemetry is outside `seq` and may be dropped by the agent: counted, the last one kept.
pub async fn telemetry(db: &Client, facility: &str, t: &Value) -> anyhow::Result<()> {
    touch(db, facility).await?;
    db.execute(
        "UPDATE facilities SET telemetry = telemetry + 1, last_telemetry = $2 WHERE facility = $1",
        &[&facility, t],
    )
    .await?;
    Ok(())
}

pub async fn facilities(db: &Client) -> anyhow::Result<Vec<String>> {
    Ok(db
        .query("SELECT facility FROM facilities ORDER BY facility", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The facility's state from its retained status (`online`, `offline`), if any came.
pub async fn state(db: &Client, facility: &str) -> anyhow::Result<Option<String>> {
    Ok(db
        .query_opt(
            "SELECT state FROM facilities WHERE facility = $1",
            &[&facility],
        )
        .await?
        .and_then(|r| r.get(0)))
}

/// One hole in the stored seqs of a facility (below the highest seen), and whether the
/// message above it arrived more than the grace ago (the agent publishes urgent alerts ahead
/// of a backlog, so a fresh hole may still fill by itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hole {
    pub range: Range,
    pub ripe: bool,
}

pub async fn holes(db: &Client, facility: &str, grace_secs: f64) -> anyhow::Result<Vec<Hole>> {
    let rows = db
        .query(
            "WITH s AS (SELECT seq, received_at, lag(seq) OVER (ORDER BY seq) AS prev
                        FROM envelopes WHERE facility = $1)
             SELECT COALESCE(prev, 0) + 1, seq - 1,
                    received_at < now() - make_interval(secs => $2)
             FROM s WHERE seq > COALESCE(prev, 0) + 1 ORDER BY seq",
            &[&facility, &grace_secs],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Hole {
            range: Range::new(r.get(0), r.get(1)),
            ripe: r.get(2),
        })
        .collect())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Unrecoverable {
    pub from: i64,
    pub to: i64,
    pub reason: String,
}

pub async fn unrecoverable(db: &Client, facility: &str) -> anyhow::Result<Vec<Unrecoverable>> {
    Ok(db
        .query(
            "SELECT from_seq, to_seq, reason FROM unrecoverable WHERE facility = $1 ORDER BY from_seq",
            &[&facility],
        )
        .await?
        .iter()
        .map(|r| Unrecoverable {
            from: r.get(0),
            to: r.get(1),
            reason: r.get(2),
        })
        .collect())
}

pub async fn mark_unrecoverable(
    db: &Client,
    facility: &str,
    range: Range,
    reason: &str,
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO unrecoverable (facility, from_seq, to_seq, reason) VALUES ($1, $2, $3, $4)
         ON CONFLICT (facility, from_seq) DO UPDATE
         SET to_seq = GREATEST(unrecoverable.to_seq, EXCLUDED.to_seq), reason = EXCLUDED.reason",
        &[&facility, &range.from, &range.to, &reason],
    )
    .await?;
    Ok(())
}

/// A resend request as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Resend {
    pub command_id: String,
    pub facility: String,
    pub from: i64,
    pub to: i64,
    pub sent_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ok: Option<bool>,
    pub answer: Option<Value>,
    pub outcome: Option<String>,
}

fn resend(r: &tokio_postgres::Row) -> Resend {
    Resend {
        command_id: r.get(0),
        facility: r.get(1),
        from: r.get(2),
        to: r.get(3),
        sent_at: r.get(4),
        answered_at: r.get(5),
        ok: r.get(6),
        answer: r.get(7),
        outcome: r.get(8),
    }
}

const RESEND_COLUMNS: &str =
    "command_id, facility, from_seq, to_seq, sent_at, answered_at, ok, answer, outcome";

pub async fn outstanding(db: &Client, facility: &str) -> anyhow::Result<Option<Resend>> {
    Ok(db
        .query_opt(
            &format!(
                "SELECT {RESEND_COLUMNS} FROM resends WHERE facility = $1 AND outcome IS NULL"
            ),
            &[&facility],
        )
        .await?
        .as_ref()
        .map(resend))
}

pub async fn last_resend(db: &Client, facility: &str) -> anyhow::Result<Option<Resend>> {
    Ok(db
        .query_opt(
            &format!(
                "SELECT {RESEND_COLUMNS} FROM resends WHERE facility = $1 ORDER BY sent_at DESC LIMIT 1"
            ),
            &[&facility],
        )
        .await?
        .as_ref()
        .map(resend))
}

/// Records a request about to be published; false when one is outstanding for the
/// facility already (sent by this receiver or another sharing the database).
pub async fn open_resend(
    db: &Client,
    command_id: &str,
    facility: &str,
    range: Range,
) -> anyhow::Result<bool> {
    let n = db
        .execute(
            "INSERT INTO resends (command_id, facility, from_seq, to_seq) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&command_id, &facility, &range.from, &range.to],
        )
        .await?;
    Ok(n == 1)
}

/// The agent's command result for one of our requests; `None` when the id is not ours.
pub async fn answer_resend(
    db: &Client,
    command_id: &str,
    ok: bool,
    answer: &Value,
) -> anyhow::Result<Option<Resend>> {
    Ok(db
        .query_opt(
            &format!(
                "UPDATE resends SET answered_at = now(), ok = $2, answer = $3
                 WHERE command_id = $1 AND answered_at IS NULL RETURNING {RESEND_COLUMNS}"
            ),
            &[&command_id, &ok, answer],
        )
        .await?
        .as_ref()
        .map(resend))
}

pub async fn close_resend(db: &Client, command_id: &str, outcome: &str) -> anyhow::Result<()> {
    db.execute(
        "UPDATE resends SET outcome = $2 WHERE command_id = $1 AND outcome IS NULL",
        &[&command_id, &outcome],
    )
    .await?;
    Ok(())
}

/// Requests that did not fill the gap starting at `from` (timed out or refused).
pub async fn failed_attempts(db: &Client, facility: &str, from: i64) -> anyhow::Result<i64> {
    Ok(db
        .query_one(
            "SELECT count(*) FROM resends WHERE facility = $1 AND from_seq = $2
             AND outcome IN ('timed out', 'refused')",
            &[&facility, &from],
        )
        .await?
        .get(0))
}
