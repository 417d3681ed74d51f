//! Retention (contract section 11): the journal keeps `storage.keep_days` local days in
//! SQLite; each older day goes to `storage.archive_dir` as one gzip-compressed event log
//! (`events-YYYY-MM-DD.jsonl.gz`, the lines exactly as journalled, which `replay` and
//! `export` read directly and `zcat` too), and then leaves SQLite with its transitions,
//! rejected lines and runs: its events table is dropped whole (see [`super::days`]).
//!
//! What is never pruned: the outbox (whatever is unsent stays until acknowledged: this
//! module does not touch its tables), and a day whose daily summary is not in the outbox
//! yet (the summary, and a `resend` of it, read the day's rows).
//!
//! The file shrinks: new journals are created with `auto_vacuum = INCREMENTAL`, and a
//! pruning that leaves more than two days' worth of pages free gives them back (`PRAGMA
//! incremental_vacuum`); up to that, free pages wait in the file for the next days' rows
//! (see [`Journal::retain`]), so the file stays at about `keep_days` + 1 days. A journal created by
//! an earlier version (`auto_vacuum = NONE`) is converted once, by a `VACUUM` at its first
//! pruning (it rewrites the file: it needs as much free space again as the file takes).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rusqlite::params;

use super::{Journal, JournalError, MetaKey};

/// The archive file of one local day.
pub fn archive_name(day: NaiveDate) -> String {
    format!("events-{day}.jsonl.gz")
}

/// The day an archive file holds, from its name.
pub fn archive_day(name: &str) -> Option<NaiveDate> {
    name.strip_prefix("events-")?
        .strip_suffix(".jsonl.gz")?
        .parse()
        .ok()
}

/// The archives in `dir`, oldest day first (none when `dir` does not exist).
pub fn archives(dir: &Path) -> Result<Vec<(NaiveDate, PathBuf)>, JournalError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(JournalError::Archive {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out: Vec<(NaiveDate, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((archive_day(e.file_name().to_str()?)?, e.path())))
        .collect();
    out.sort();
    Ok(out)
}

/// Opens an event log for reading: gzip-compressed when its name ends in `.gz`, plain
/// otherwise.
pub fn open_event_log(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let file = File::open(path)?;
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(BufReader::new(MultiGzDecoder::new(file))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

/// Calls `each` with every line of every archive in `dir`, oldest day first.
pub fn each_archived_line(
    dir: &Path,
    mut each: impl FnMut(&str) -> std::io::Result<()>,
) -> Result<(), JournalError> {
    for (_, path) in archives(dir)? {
        let err = |source| JournalError::Archive {
            path: path.clone(),
            source,
        };
        let reader = open_event_log(&path).map_err(err)?;
        for line in reader.lines() {
            let line = line.map_err(err)?;
            if !line.trim().is_empty() {
                each(&line).map_err(JournalError::Output)?;
            }
        }
    }
    Ok(())
}

/// What one retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retained {
    /// Days archived and pruned by this pass, oldest first.
    pub archived: Vec<NaiveDate>,
    /// Days old enough to go but kept because their summary is not in the outbox yet.
    pub held: Vec<NaiveDate>,
    /// Pages given back to the file system.
    pub freed_pages: u64,
    /// Free pages kept in the file for the next days' rows (see [`Journal::retain`]).
    pub reserve_pages: u64,
}

/// A local day's bounds in UTC milliseconds, gaps and folds handled as everywhere else.
fn bounds_ms(tz: Tz, day: NaiveDate) -> (i64, i64) {
    let (start, end) = crate::localtime::day_bounds(tz, day);
    (start.timestamp_millis(), end.timestamp_millis())
}

impl Journal {
    /// Archives and prunes every local day before the `keep_days` days ending `today`.
    /// Each day: its archive is written to a temporary file, synced and renamed, and only
    /// then are its rows deleted, in one transaction; a crash between the two leaves the
    /// rows, and the next pass writes the same archive again.
    ///
    /// Late lines for a day already archived are added to its archive, never written over
    /// it. A crash between those two steps of such a pass (rare upon rare) leaves the late
    /// lines in the archive twice: a duplicate, where overwriting would lose the day.
    pub fn retain(
        &mut self,
        tz: Tz,
        today: NaiveDate,
        keep_days: u32,
        archive_dir: &Path,
    ) -> Result<Retained, JournalError> {
        self.flush()?;
        let first_kept = today - chrono::Duration::days(i64::from(keep_days.max(1)) - 1);
        let cutoff = bounds_ms(tz, first_kept).0;
        let mut done = Retained::default();
        let free_before = self.free_pages()?;
        while let Some(day) = self.oldest_day_before(tz, cutoff)? {
            if self.meta(&MetaKey::Summary(day))?.is_none() && !done.held.contains(&day) {
                done.held.push(day);
                tracing::info!(%day, "retention: day kept until its summary is queued");
            }
            if done.held.contains(&day) {
                // Nothing later can go before it: events stay in order.
                break;
            }
            let (start, end) = bounds_ms(tz, day);
            // A day pruned before and back in the journal (its late lines: a wall clock
            // set back past `keep_days`) keeps what its archive already holds. A day
            // whose archive is there but whose pruning never committed (a power cut
            // between the two) is written again from its rows, which are all still here.
            let earlier = self
                .archived_through()?
                .is_some_and(|through| day <= through);
            self.write_archive(archive_dir, day, start, end, earlier)?;
            if self.prune(day, start, end)? == 0 {
                // The oldest event is not inside its own day's bounds (cannot happen with
                // rows the journal wrote); stop rather than loop.
                tracing::warn!(%day, "retention: oldest event outside its day; stopping");
                break;
            }
            done.archived.push(day);
        }
        if !done.archived.is_empty() {
            // The pages a pruned day frees are about what the next day's rows take, so
            // in the steady state (one day in, one out) they stay in the file as its
            // free list and are reused. Giving them back every night made the
            // incremental vacuum move the newest days' pages (the end of the file) into
            // the holes, then the next day grew the file again: a day's pages rewritten
            // every night, the soak's ~45 % more bytes written per day once retention
            // started. So the file gives back only when more than two days' worth is
            // free (after lowering `keep_days`, a quiet spell, a first pass over a
            // long journal): then all of it, so it really shrinks.
            let free = self.free_pages()?;
            let per_day = free.saturating_sub(free_before) / done.archived.len() as u64;
            if free > 2 * per_day {
                done.freed_pages = self.give_back_pages()?;
            } else {
                done.reserve_pages = free;
            }
        }
        Ok(done)
    }

    fn free_pages(&self) -> Result<u64, JournalError> {
        self.conn
            .query_row("PRAGMA freelist_count", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }

    fn oldest_day_before(&self, tz: Tz, cutoff: i64) -> Result<Option<NaiveDate>, JournalError> {
        let first: Option<i64> = self
            .conn
            .query_row(
                "SELECT min(ts_ms) FROM events WHERE ts_ms < ?1",
                [cutoff],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(first
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.with_timezone(&tz).date_naive()))
    }

    /// The last day a committed pruning archived (`archived_through`).
    fn archived_through(&self) -> Result<Option<NaiveDate>, JournalError> {
        Ok(self
            .meta(&MetaKey::ArchivedThrough)?
            .and_then(|d| d.parse().ok()))
    }

    /// Writes the day's archive from its rows; with `keep_earlier`, after the lines of the
    /// archive already there (if any), which would otherwise be lost.
    fn write_archive(
        &self,
        dir: &Path,
        day: NaiveDate,
        start: i64,
        end: i64,
        keep_earlier: bool,
    ) -> Result<(), JournalError> {
        let path = dir.join(archive_name(day));
        let tmp = dir.join(format!(".{}.tmp", archive_name(day)));
        let aerr = |source| JournalError::Archive {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(aerr)?;
        let mut file = File::create(&tmp).map_err(aerr)?;
        if keep_earlier && path.exists() {
            // The earlier archive as it is, the rows after it as a gzip member of their
            // own: a multi-member file reads as one log (`MultiGzDecoder`, `zcat`).
            std::io::copy(&mut File::open(&path).map_err(aerr)?, &mut file).map_err(aerr)?;
            tracing::info!(%day, "retention: late lines for a day archived before are added to its archive");
        }
        let mut gz = GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
        let mut stmt = self
            .conn
            .prepare("SELECT body FROM events WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query(params![start, end]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let body: String = row.get(0).map_err(|e| self.err(e))?;
            writeln!(gz, "{body}").map_err(aerr)?;
        }
        let file = gz
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .map_err(aerr)?;
        file.sync_all().map_err(aerr)?;
        std::fs::rename(&tmp, &path).map_err(aerr)?;
        // The rename itself must survive a power cut before the rows go.
        File::open(dir).and_then(|d| d.sync_all()).map_err(aerr)?;
        Ok(())
    }

    /// Deletes the day's rows; returns how many events went.
    fn prune(&mut self, day: NaiveDate, start: i64, end: i64) -> Result<usize, JournalError> {
        let path = self.path.clone();
        let werr = |source| JournalError::Write {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(werr)?;
        // A day table whose rows are all the day's is dropped, not emptied: its pages go
        // to the free list without being written (see `days`).
        let events = super::days::remove_span(&tx, start, end).map_err(werr)?;
        tx.execute("DELETE FROM transitions WHERE ts_ms < ?1", [end])
            .and_then(|_| tx.execute("DELETE FROM rejected WHERE seen_ms < ?1", [end]))
            .and_then(|_| tx.execute("DELETE FROM runs WHERE alive_ms < ?1", [end]))
            .and_then(|_| {
                tx.execute(
                    // The latest day ever pruned: a late day pruned after it leaves it.
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                    params![MetaKey::ArchivedThrough.to_string(), day.to_string()],
                )
            })
            .map_err(werr)?;
        tx.commit().map_err(werr)?;
        Ok(events)
    }

    /// Gives freed pages back to the file system; converts an old journal to incremental
    /// vacuum first (once).
    pub(super) fn give_back_pages(&mut self) -> Result<u64, JournalError> {
        let c = &self.conn;
        let q = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
        let mode = q("PRAGMA auto_vacuum").map_err(|e| self.err(e))?;
        let free = q("PRAGMA freelist_count").map_err(|e| self.err(e))?;
        if mode != 2 {
            tracing::info!(db = %self.path.display(), "journal: converting to incremental vacuum (one VACUUM)");
            c.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
                .map_err(|e| self.err(e))?;
        } else {
            // One page per step (a row with no columns each): step it to the end.
            let mut stmt = c
                .prepare("PRAGMA incremental_vacuum")
                .map_err(|e| self.err(e))?;
            let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
            while rows.next().map_err(|e| self.err(e))?.is_some() {}
        }
        // Fold the WAL back so the file really shrinks now.
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| self.err(e))?;
        Ok(free.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_carry_their_day_and_nothing_else_is_taken_for_one() {
        let d: NaiveDate = "2026-03-02".parse().unwrap();
        assert_eq!(archive_name(d), "events-2026-03-02.jsonl.gz");
        assert_eq!(archive_day(&archive_name(d)), Some(d));
        assert_eq!(archive_day("events-2026-03-02.jsonl"), None);
        assert_eq!(archive_day(".events-2026-03-02.jsonl.gz.tmp"), None);
    }
}
