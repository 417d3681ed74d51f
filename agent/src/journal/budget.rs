//! The storage budget (contract section 11, `storage.max_bytes`) and the file system's own
//! free space, read as one pressure level the daemon can poll.
//!
//! Headroom is the smaller of what `max_bytes` still allows for the storage directory
//! (journal, WAL, outbox and archives together) and what the file system has free
//! (`statvfs`, the blocks available to this user). The capacity is the smaller of
//! `max_bytes` and the file system's size. Levels, from the least headroom:
//! - [`Pressure::AlertsAtRisk`] under [`ALERT_RESERVE`] (at most an eighth of the
//!   capacity): the next alerts may not fit; the agent says so (`storage_pressure`,
//!   critical).
//! - [`Pressure::PruneArchives`] under 5 % of the capacity (at least 4 MiB, or a quarter
//!   of a smaller capacity): the copies of acknowledged messages kept for `resend` go
//!   first, oldest half at a time (counted as `sent_dropped`), then the oldest archives.
//! - [`Pressure::ShedTelemetry`] under 10 % (at least 8 MiB, or half a smaller capacity):
//!   waiting telemetry goes (counted as dropped, as over the outbox cap).
//! - [`Pressure::Ok`] otherwise.
//!
//! The floors keep a large budget from running close to full before it acts; scaling
//! them down on a small file system (a 4 MiB tmpfs, a tiny partition) keeps every level
//! reachable — and, above all, keeps [`Pressure::Ok`] reachable, where the daemon's alert
//! resolves.
//!
//! [`StorageBudget::relieve`] does what the level calls for and reads again.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{retention, Journal, JournalError};

/// Headroom under which the next alerts are at risk.
pub const ALERT_RESERVE: u64 = 2 << 20;

/// How close the storage is to full, from none to the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pressure {
    Ok,
    /// Waiting telemetry is dropped.
    ShedTelemetry,
    /// Archives are deleted, oldest first.
    PruneArchives,
    /// Alerts themselves may not fit: raise `storage_pressure` (critical).
    AlertsAtRisk,
}

/// One reading of the storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageReading {
    /// Bytes of every file under the storage directory (archives included).
    pub used: u64,
    /// Of which archives.
    pub archives: u64,
    /// Bytes the file system has available.
    pub fs_free: u64,
    /// The smaller of `max_bytes - used` and `fs_free`.
    pub headroom: u64,
    /// The smaller of `max_bytes` and the file system's size.
    pub capacity: u64,
    pub level: Pressure,
}

/// The storage directory and its budget.
#[derive(Debug, Clone)]
pub struct StorageBudget {
    pub dir: PathBuf,
    pub archive_dir: PathBuf,
    pub max_bytes: u64,
    pub tz: Tz,
}

/// What [`StorageBudget::relieve`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relieved {
    pub telemetry_dropped: u64,
    /// Copies of acknowledged messages (kept for `resend`) let go before `keep_sent`.
    pub sent_dropped: u64,
    pub archives_deleted: Vec<NaiveDate>,
}

impl StorageBudget {
    pub fn from_config(cfg: &crate::config::Config) -> StorageBudget {
        StorageBudget {
            dir: cfg.storage.dir.clone(),
            archive_dir: cfg.storage.archive_path(),
            max_bytes: cfg.storage.max_bytes,
            tz: cfg.facility.timezone,
        }
    }

    /// The level for a given headroom, against `max_bytes` as the capacity.
    pub fn level_for(&self, headroom: u64) -> Pressure {
        level_in(headroom, self.max_bytes)
    }

    /// Reads the storage directory's size and the file system's free space.
    pub fn read(&self) -> Result<StorageReading, JournalError> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JournalError::Archive { path, source }
        };
        let used = dir_bytes(&self.dir).map_err(err(&self.dir))?;
        let archives = dir_bytes(&self.archive_dir).map_err(err(&self.archive_dir))?;
        let vfs = rustix::fs::statvfs(&self.dir).map_err(|e| JournalError::Archive {
            path: self.dir.clone(),
            source: e.into(),
        })?;
        let fs_free = vfs.f_bavail.saturating_mul(vfs.f_frsize);
        let fs_size = vfs.f_blocks.saturating_mul(vfs.f_frsize);
        let headroom = self.max_bytes.saturating_sub(used).min(fs_free);
        let capacity = self.max_bytes.min(fs_size.max(1));
        Ok(StorageReading {
            used,
            archives,
            fs_free,
            headroom,
            capacity,
            level: level_in(headroom, capacity),
        })
    }

    /// Does what the level calls for — drops waiting telemetry, then deletes archives
    /// oldest first until the level is back under [`Pressure::PruneArchives`] — and returns
    /// the reading after, with what was done. Alerts and the journal's own days are never
    /// touched here.
    pub fn relieve(
        &self,
        journal: &mut Journal,
        now: DateTime<Utc>,
    ) -> Result<(StorageReading, Relieved), JournalError> {
        self.relieve_with(journal, now, true)
    }

    /// As [`StorageBudget::relieve`]; with `shed` false (the journal cannot be written),
    /// telemetry stays and only archives go. Telemetry that cannot be dropped (the write
    /// fails) is logged, and the archives are pruned all the same.
    pub fn relieve_with(
        &self,
        journal: &mut Journal,
        now: DateTime<Utc>,
        shed: bool,
    ) -> Result<(StorageReading, Relieved), JournalError> {
        let mut done = Relieved::default();
        let mut reading = self.read()?;
        if shed && reading.level >= Pressure::ShedTelemetry {
            match self.shed(journal, now) {
                Ok(n) => done.telemetry_dropped = n,
                Err(e) => tracing::warn!(error = %e, "storage budget: telemetry not dropped"),
            }
            reading = self.read()?;
        }
        if shed && reading.level >= Pressure::PruneArchives {
            // Already delivered: the platform's own copy is the one that counts.
            while reading.level >= Pressure::PruneArchives {
                match self.drop_sent(journal) {
                    Ok(0) => break,
                    Ok(n) => done.sent_dropped += n,
                    Err(e) => {
                        tracing::warn!(error = %e, "storage budget: acknowledged copies not dropped");
                        break;
                    }
                }
                reading = self.read()?;
            }
        }
        if reading.level >= Pressure::PruneArchives {
            for (day, path) in retention::archives(&self.archive_dir)? {
                std::fs::remove_file(&path)
                    .map_err(|source| JournalError::Archive { path, source })?;
                tracing::warn!(%day, "storage budget: archive deleted to make room");
                done.archives_deleted.push(day);
                reading = self.read()?;
                if reading.level < Pressure::PruneArchives {
                    break;
                }
            }
        }
        Ok((reading, done))
    }

    /// Drops the oldest half of the copies kept for `resend`, and gives the pages back.
    fn drop_sent(&self, journal: &mut Journal) -> Result<u64, JournalError> {
        journal.flush()?;
        let b = journal.batch()?;
        let n = crate::outbox::drop_sent_oldest(b.transaction()).map_err(|source| {
            JournalError::Write {
                path: journal_path(&self.dir),
                source,
            }
        })?;
        if n > 0 {
            b.commit()?;
            tracing::warn!(
                dropped = n,
                "storage budget: copies of acknowledged messages (kept for resend) dropped to make room"
            );
            journal.give_back_pages()?;
        }
        Ok(n)
    }

    fn shed(&self, journal: &mut Journal, now: DateTime<Utc>) -> Result<u64, JournalError> {
        journal.flush()?;
        let b = journal.batch()?;
        let day = now.with_timezone(&self.tz).date_naive();
        let n = crate::outbox::shed_telemetry(b.transaction(), day).map_err(|source| {
            JournalError::Write {
                path: journal_path(&self.dir),
                source,
            }
        })?;
        if n > 0 {
            b.commit()?;
        }
        Ok(n)
    }
}

/// The level for `headroom` in a storage of `capacity` bytes (see the module docs).
pub fn level_in(headroom: u64, capacity: u64) -> Pressure {
    let share =
        |pct: u64, floor: u64, part: u64| (capacity / 100 * pct).max(floor.min(capacity / part));
    if headroom < ALERT_RESERVE.min(capacity / 8) {
        Pressure::AlertsAtRisk
    } else if headroom < share(5, 4 << 20, 4) {
        Pressure::PruneArchives
    } else if headroom < share(10, 8 << 20, 2) {
        Pressure::ShedTelemetry
    } else {
        Pressure::Ok
    }
}

fn journal_path(dir: &Path) -> PathBuf {
    dir.join(super::DB_FILE)
}

/// Bytes of every file under `dir` (0 when it does not exist).
pub fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut total = 0;
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(max: u64) -> StorageBudget {
        StorageBudget {
            dir: PathBuf::from("/nonexistent"),
            archive_dir: PathBuf::from("/nonexistent/archive"),
            max_bytes: max,
            tz: chrono_tz::Asia::Shanghai,
        }
    }

    #[test]
    fn less_headroom_means_a_worse_level_in_the_documented_order() {
        let b = budget(1 << 30);
        assert_eq!(b.level_for(500 << 20), Pressure::Ok);
        assert_eq!(b.level_for(100 << 20), Pressure::ShedTelemetry);
        assert_eq!(b.level_for(40 << 20), Pressure::PruneArchives);
        assert_eq!(b.level_for(1 << 20), Pressure::AlertsAtRisk);
        // A small budget still keeps the floors.
        let small = budget(16 << 20);
        assert_eq!(small.level_for(7 << 20), Pressure::ShedTelemetry);
        assert_eq!(small.level_for(3 << 20), Pressure::PruneArchives);
        // A 4 MiB file system: every level is reachable, Ok above half of it.
        assert_eq!(level_in(3 << 20, 4 << 20), Pressure::Ok);
        assert_eq!(level_in(1536 << 10, 4 << 20), Pressure::ShedTelemetry);
        assert_eq!(level_in(800 << 10, 4 << 20), Pressure::PruneArchives);
        assert_eq!(level_in(100 << 10, 4 << 20), Pressure::AlertsAtRisk);
    }
}
