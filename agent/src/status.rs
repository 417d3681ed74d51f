//! `status`: what the journal holds now, read without disturbing a running daemon.

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::{json, Value};

use crate::config::Config;
use crate::journal::DB_FILE;
use crate::rules::{Engine, Snapshot};

fn open_read_only(cfg: &Config) -> Result<Connection, String> {
    let path = cfg.storage.dir.join(DB_FILE);
    if !path.exists() {
        return Err(format!(
            "no journal at {} (the agent has not run with this storage directory yet)",
            path.display()
        ));
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(conn)
}

/// Writes the journal's events (an event log that `replay` accepts) or, with
/// `transitions`, its alert transitions, one JSON line each, oldest first.
pub fn export(
    cfg: &Config,
    transitions: bool,
    out: &mut impl std::io::Write,
) -> Result<(), String> {
    let conn = open_read_only(cfg)?;
    let sql = if transitions {
        "SELECT body FROM transitions ORDER BY id"
    } else {
        "SELECT body FROM events ORDER BY id"
    };
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let body: String = row.get(0).map_err(|e| e.to_string())?;
        writeln!(out, "{body}").map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The rules' clock, who is checked in where, room figures and open alerts, as JSON.
/// Opens the journal read-only; never creates it.
pub fn read(cfg: &Config) -> Result<Value, String> {
    let path = cfg.storage.dir.join(DB_FILE);
    let conn = open_read_only(cfg)?;
    let state: Option<String> = conn
        .query_row("SELECT state FROM snapshot WHERE id = 1", [], |r| r.get(0))
        .optional()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let uplink = uplink(&conn).map_err(|e| format!("{}: {e}", path.display()))?;
    let Some(state) = state else {
        return Ok(
            json!({ "clock": null, "occupancy": {}, "rooms": [], "open_alerts": [], "uplink": uplink }),
        );
    };
    let snap = Snapshot::from_json(&state).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut engine = Engine::restore(cfg, &snap)?;
    let mut occupancy = serde_json::Map::new();
    for (person, room) in engine.occupancy() {
        let list = occupancy.entry(room).or_insert_with(|| json!([]));
        if let Value::Array(a) = list {
            a.push(json!(person));
        }
    }
    let open: Vec<Value> = engine
        .open_alerts()
        .into_iter()
        .map(|(id, kind, subject, since)| {
            json!({
                "alert_id": id,
                "type": kind.as_str(),
                "subject": subject,
                "since": engine.local(since).to_rfc3339(),
            })
        })
        .collect();
    // The last SIGHUP reload: applied (with the content hash) or refused (every problem).
    let reload: Option<Value> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [crate::daemon::core::RELOAD_KEY],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .and_then(|v| serde_json::from_str(&v).ok());
    Ok(json!({
        "clock": engine.clock().map(|c| engine.local(c).to_rfc3339()),
        "occupancy": occupancy,
        "rooms": engine.rooms(),
        "open_alerts": open,
        "uplink": uplink,
        "reload": reload,
    }))
}

/// What the running link has noted (`uplink_link`, written by the uplink's store):
/// `client_id_conflict` is the client id another client seems to be taking over, with
/// `since`, or null.
fn uplink(conn: &Connection) -> rusqlite::Result<Value> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'uplink_link')",
        [],
        |r| r.get(0),
    )?;
    let row: Option<(Option<String>, Option<String>)> = if exists {
        conn.query_row(
            "SELECT client_id_conflict, since FROM uplink_link WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
    } else {
        None
    };
    Ok(match row {
        Some((Some(id), since)) => {
            json!({ "client_id_conflict": { "client_id": id, "since": since } })
        }
        _ => json!({ "client_id_conflict": null }),
    })
}
