//! Read-only queries over a span of the journal, for the daily summary: the runs, the
//! transitions, the events and the rejected lines between two instants (UTC milliseconds,
//! end exclusive). The summary adds nothing to the journal; every query here only reads.

use rusqlite::{params, Connection, OptionalExtension};

/// One run of the agent: when it started and when it was last known alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub started_ms: i64,
    pub alive_ms: i64,
}

/// One journalled transition, as the summary needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionRow {
    pub alert_id: String,
    /// `raised`, `acknowledged` or `resolved`.
    pub state: String,
    pub alert_type: String,
    pub subject: String,
    pub ts_ms: i64,
}

/// Every run that started before `end`, oldest first.
pub fn runs_before(conn: &Connection, end: i64) -> rusqlite::Result<Vec<Run>> {
    let mut stmt = conn.prepare(
        "SELECT started_ms, alive_ms FROM runs WHERE started_ms < ?1 ORDER BY started_ms",
    )?;
    let rows = stmt.query_map([end], |r| {
        Ok(Run {
            started_ms: r.get(0)?,
            alive_ms: r.get(1)?,
        })
    })?;
    rows.collect()
}

/// The time of the last event in `[start, end)`.
pub fn last_event_ms(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT MAX(ts_ms) FROM events WHERE ts_ms >= ?1 AND ts_ms < ?2",
        params![start, end],
        |r| r.get(0),
    )
}

/// The time of the last transition in `[start, end)`.
pub fn last_transition_ms(
    conn: &Connection,
    start: i64,
    end: i64,
) -> rusqlite::Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT MAX(ts_ms) FROM transitions WHERE ts_ms >= ?1 AND ts_ms < ?2",
            params![start, end],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten())
}

/// Calls `each` with every `raised` transition in `[start, end)`. A text column that is
/// not text reads as empty.
pub fn for_each_raise(
    conn: &Connection,
    start: i64,
    end: i64,
    mut each: impl FnMut(&str, &str),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT type, subject FROM transitions
         WHERE ts_ms >= ?1 AND ts_ms < ?2 AND state = 'raised'",
    )?;
    let mut rows = stmt.query(params![start, end])?;
    while let Some(row) = rows.next()? {
        let ty = row.get_ref(0)?.as_str().unwrap_or_default();
        let subject = row.get_ref(1)?.as_str().unwrap_or_default();
        each(ty, subject);
    }
    Ok(())
}

/// Alerts raised in a span as (type, alert id), and the ids of alerts disposed in it.
pub type RaisedAndDisposed = (Vec<(String, String)>, std::collections::HashSet<String>);

/// Alerts raised in `[start, end)` as (type, alert id), and the ids of alerts with a
/// `disposed` transition in the same span.
pub fn raised_and_disposed(
    conn: &Connection,
    start: i64,
    end: i64,
) -> rusqlite::Result<RaisedAndDisposed> {
    let mut stmt = conn.prepare(
        "SELECT type, alert_id, state FROM transitions
         WHERE ts_ms >= ?1 AND ts_ms < ?2 AND state IN ('raised', 'disposed')",
    )?;
    let mut rows = stmt.query(params![start, end])?;
    let (mut raised, mut disposed) = (Vec::new(), std::collections::HashSet::new());
    while let Some(row) = rows.next()? {
        let ty: String = row.get(0)?;
        let id: String = row.get(1)?;
        match row.get_ref(2)?.as_str().unwrap_or_default() {
            "raised" => raised.push((ty, id)),
            _ => {
                disposed.insert(id);
            }
        }
    }
    Ok((raised, disposed))
}

/// Disposition transitions in `[start, end)`.
pub fn dispositions_count(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<u64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM transitions WHERE ts_ms >= ?1 AND ts_ms < ?2 AND state = 'disposed'",
    )?
    .query_row(params![start, end], |r| r.get::<_, i64>(0))
    .map(|n| n.max(0) as u64)
}

/// The transitions of alerts of type `alert_type` in `[start, end)`, in the journal's order.
pub fn transitions_of_type(
    conn: &Connection,
    alert_type: &str,
    start: i64,
    end: i64,
) -> rusqlite::Result<Vec<TransitionRow>> {
    let mut stmt = conn.prepare(
        "SELECT alert_id, state, subject, ts_ms FROM transitions
         WHERE ts_ms >= ?1 AND ts_ms < ?2 AND type = ?3
         ORDER BY ts_ms, id",
    )?;
    let text = |r: &rusqlite::Row<'_>, i| -> rusqlite::Result<String> {
        Ok(r.get_ref(i)?.as_str().unwrap_or_default().to_string())
    };
    let rows = stmt.query_map(params![start, end, alert_type], |r| {
        Ok(TransitionRow {
            alert_id: text(r, 0)?,
            state: text(r, 1)?,
            alert_type: alert_type.to_string(),
            subject: text(r, 2)?,
            ts_ms: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// How many input lines were rejected in `[start, end)`, by the time they were seen.
pub fn rejected_count(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT COUNT(*) FROM rejected WHERE seen_ms >= ?1 AND seen_ms < ?2",
        params![start, end],
        |r| r.get(0),
    )
}

/// Calls `each` with the time and body of every event in `[start, end)`, in the journal's
/// order `(ts_ms, id)` — the rules' time order. A body that is not text is `None`.
pub fn for_each_event(
    conn: &Connection,
    start: i64,
    end: i64,
    mut each: impl FnMut(i64, Option<&str>),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT ts_ms, body FROM events WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY ts_ms, id",
    )?;
    let mut rows = stmt.query(params![start, end])?;
    while let Some(row) = rows.next()? {
        let at: i64 = row.get(0)?;
        each(at, row.get_ref(1)?.as_str().ok());
    }
    Ok(())
}

/// Whether `[start, end)` holds an event other than the agent's own markers
/// (`agent_started`, `clock_jump`, `config_loaded`, which the agent writes compactly).
pub fn nursery_event_between(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM events WHERE ts_ms >= ?1 AND ts_ms < ?2
           AND body NOT LIKE '%\"type\":\"agent_started\"%'
           AND body NOT LIKE '%\"type\":\"clock_jump\"%'
           AND body NOT LIKE '%\"type\":\"config_loaded\"%')",
    )?
    .query_row([start, end], |r| r.get(0))
}

/// The time of the first event at or after `from` (one indexed look-up).
pub fn first_event_from(conn: &Connection, from: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT MIN(ts_ms) FROM events WHERE ts_ms >= ?1")?
        .query_row([from], |r| r.get(0))
}

/// The bodies of the `absence` events in `[start, end)`, in the journal's order (a cheap
/// text filter first: the caller parses them and keeps the absences).
pub fn absence_bodies(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT body FROM events WHERE ts_ms >= ?1 AND ts_ms < ?2 AND body LIKE '%absence%'
         ORDER BY ts_ms, id",
    )?;
    let rows = stmt.query_map(params![start, end], |r| {
        Ok(r.get_ref(0)?.as_str().ok().map(str::to_owned))
    })?;
    rows.filter_map(|r| r.transpose()).collect()
}
