//! Read-only queries for the daily ledger (台账, `crate::ledger`): the raw lines it reads
//! by their contract shape. Like [`super::day`], nothing here writes.

use rusqlite::{params, Connection};

/// Calls `each` with the time and body of every event in `[start, end)` whose body
/// contains `needle` (a cheap pre-filter such as `"absence"`), in the journal's order.
pub fn for_each_event_containing(
    conn: &Connection,
    start: i64,
    end: i64,
    needle: &str,
    mut each: impl FnMut(i64, &str),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT ts_ms, body FROM events
         WHERE ts_ms >= ?1 AND ts_ms < ?2 AND instr(body, ?3) > 0
         ORDER BY ts_ms, id",
    )?;
    let mut rows = stmt.query(params![start, end, needle])?;
    while let Some(row) = rows.next()? {
        let at: i64 = row.get(0)?;
        if let Ok(body) = row.get_ref(1)?.as_str() {
            each(at, body);
        }
    }
    Ok(())
}

/// Every transition (as its JSON line) of every alert that has a transition in
/// `[start, end)` — its raise, acknowledgements, dispositions and resolve, whenever
/// they happened — in the journal's order.
pub fn transitions_of_alerts_in(
    conn: &Connection,
    start: i64,
    end: i64,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT body FROM transitions
         WHERE alert_id IN (SELECT alert_id FROM transitions WHERE ts_ms >= ?1 AND ts_ms < ?2)
         ORDER BY ts_ms, id",
    )?;
    let rows = stmt.query_map(params![start, end], |r| {
        Ok(r.get_ref(0)?.as_str().unwrap_or_default().to_string())
    })?;
    rows.collect()
}

/// The times of the first and last event the journal holds, if any.
pub fn event_span(conn: &Connection) -> rusqlite::Result<Option<(i64, i64)>> {
    conn.query_row("SELECT MIN(ts_ms), MAX(ts_ms) FROM events", [], |r| {
        Ok(
            match (r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?) {
                (Some(a), Some(b)) => Some((a, b)),
                _ => None,
            },
        )
    })
}

/// Whether the journal holds any event or transition in `[start, end)`.
pub fn holds_any(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM events WHERE ts_ms >= ?1 AND ts_ms < ?2)
             OR EXISTS (SELECT 1 FROM transitions WHERE ts_ms >= ?1 AND ts_ms < ?2)",
        params![start, end],
        |r| r.get(0),
    )
}
