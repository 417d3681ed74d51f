//! Read-only queries of the journal, for readers that are not its owner: `status`,
//! `export` and the staff page. They open the file read-only, never create it, and never
//! disturb a running daemon (WAL readers do not block the writer).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{JournalError, DB_FILE};
use crate::rules::Snapshot;

/// A read-only view of the journal in a storage directory.
pub struct JournalReader {
    conn: Connection,
    path: PathBuf,
}

impl JournalReader {
    /// Opens the journal of `dir` read-only, waiting up to `busy` for a writer's lock.
    pub fn open(dir: &Path, busy: Duration) -> Result<JournalReader, JournalError> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(JournalError::Missing { path });
        }
        let sqlite = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
        conn.busy_timeout(busy).map_err(sqlite)?;
        let probe = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        });
        if let Err(e) = probe {
            // A full disk: SQLite cannot create the WAL's shared-memory file a reader
            // needs. The file itself still reads, as it is (`immutable`): `status` says
            // what the agent last wrote, and the agent's own health record says the rest.
            let uri = format!("file:{}?immutable=1", path.display());
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
            let conn = Connection::open_with_flags(uri, flags).map_err(|_| sqlite(e))?;
            return JournalReader::written(conn, path);
        }
        JournalReader::written(conn, path)
    }

    /// The reader, unless nothing was ever committed to the file (a first start on a full
    /// disk creates it and cannot write its tables).
    fn written(conn: Connection, path: PathBuf) -> Result<JournalReader, JournalError> {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|source| JournalError::Sqlite {
                path: path.clone(),
                source,
            })?;
        if tables == 0 {
            return Err(JournalError::Empty { path });
        }
        Ok(JournalReader { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The read-only connection, for the queries of [`super::day`] and [`super::ledger`].
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The latest engine snapshot, if the agent has written one.
    pub fn snapshot(&self) -> Result<Option<Snapshot>, JournalError> {
        let state =
            super::read_snapshot(&self.conn).map_err(|e| super::snapshot_err(&self.path, e))?;
        Ok(match state {
            Some(s) => Some(Snapshot::from_json(&s)?),
            None => None,
        })
    }

    /// The value of one `meta` entry, if it is there.
    pub fn meta(&self, key: &super::MetaKey) -> Result<Option<String>, JournalError> {
        super::read_meta(&self.conn, key).map_err(|e| self.err(e))
    }

    /// The client id another MQTT client seems to be taking over, and since when, as the
    /// uplink noted it (`uplink_link`); `None` when there is no conflict or no such table.
    pub fn client_id_conflict(&self) -> Result<Option<(String, Option<String>)>, JournalError> {
        let exists: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'uplink_link')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if !exists {
            return Ok(None);
        }
        let row: Option<(Option<String>, Option<String>)> = self
            .conn
            .query_row(
                "SELECT client_id_conflict, since FROM uplink_link WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.and_then(|(id, since)| id.map(|id| (id, since))))
    }

    /// Calls `each` with every event line still in SQLite, oldest first.
    pub fn each_event_line(
        &self,
        each: impl FnMut(&str) -> std::io::Result<()>,
    ) -> Result<(), JournalError> {
        self.each_line("SELECT body FROM events ORDER BY id", each)
    }

    /// Calls `each` with every transition line, oldest first.
    pub fn each_transition_line(
        &self,
        each: impl FnMut(&str) -> std::io::Result<()>,
    ) -> Result<(), JournalError> {
        self.each_line("SELECT body FROM transitions ORDER BY id", each)
    }

    fn each_line(
        &self,
        sql: &str,
        mut each: impl FnMut(&str) -> std::io::Result<()>,
    ) -> Result<(), JournalError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let body: String = row.get(0).map_err(|e| self.err(e))?;
            each(&body).map_err(JournalError::Output)?;
        }
        Ok(())
    }

    /// The latest `limit` transitions at or after `since`, oldest first, as JSON lines.
    pub fn transitions_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT body FROM transitions WHERE ts_ms >= ?1 ORDER BY ts_ms DESC, id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                rusqlite::params![since.timestamp_millis(), limit as i64],
                |r| r.get::<_, String>(0),
            )
            .map_err(|e| self.err(e))?;
        let mut out = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        out.reverse();
        Ok(out)
    }
}
