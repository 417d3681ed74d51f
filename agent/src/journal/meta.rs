//! The keys of the journal's small `meta` table, as a type: every key the agent writes is
//! a variant here, so a reader finds them all in one place and no one formats a key by hand.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

/// One entry of the journal's `meta` table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetaKey {
    /// The open `storage_pressure` alert (its id and since when), as JSON; empty when none.
    StoragePressure,
    /// The open `storage_pressure` alert for the storage itself (free space and
    /// `max_bytes`, subject `storage`), as JSON; empty when none.
    DiskPressure,
    /// The daily summary of this local date is in the outbox (value: its `seq`).
    Summary(NaiveDate),
    /// How many events of this simulated day have been taken in.
    Simulation(NaiveDate),
    /// How far an `--events` input file has been read (a position, see `daemon::feed`).
    Events(PathBuf),
    /// The last local day whose events went to the archive and left SQLite.
    ArchivedThrough,
    /// The last `SIGHUP` reload: applied (with its content hash) or refused (every
    /// problem), as JSON, for `status`.
    ConfigReload,
    /// The configuration in force (its file's content hash and the text the rules judge
    /// under, with the people a reload kept until checked out), as JSON: what a start
    /// compares the file with.
    ConfigInForce,
}

const SUMMARY: &str = "summary:";
const SIMULATION: &str = "simulation:";
const EVENTS: &str = "events:";
const PRESSURE: &str = "storage_pressure";
const DISK_PRESSURE: &str = "disk_pressure";
const ARCHIVED: &str = "archived_through";
const RELOAD: &str = "config_reload";
const IN_FORCE: &str = "config_in_force";

impl MetaKey {
    /// The position key of an `--events` input.
    pub fn events(path: &Path) -> MetaKey {
        MetaKey::Events(path.to_path_buf())
    }

    /// Reads a key as stored; `None` for a key this agent does not write.
    pub fn parse(s: &str) -> Option<MetaKey> {
        if s == PRESSURE {
            return Some(MetaKey::StoragePressure);
        }
        if s == DISK_PRESSURE {
            return Some(MetaKey::DiskPressure);
        }
        if s == ARCHIVED {
            return Some(MetaKey::ArchivedThrough);
        }
        if s == RELOAD {
            return Some(MetaKey::ConfigReload);
        }
        if s == IN_FORCE {
            return Some(MetaKey::ConfigInForce);
        }
        if let Some(d) = s.strip_prefix(SUMMARY) {
            return d.parse().ok().map(MetaKey::Summary);
        }
        if let Some(d) = s.strip_prefix(SIMULATION) {
            return d.parse().ok().map(MetaKey::Simulation);
        }
        s.strip_prefix(EVENTS)
            .map(|p| MetaKey::Events(PathBuf::from(p)))
    }

    /// The prefix shared by every key of this key's kind (for range reads).
    pub(super) fn kind_prefix(&self) -> &'static str {
        match self {
            MetaKey::StoragePressure => PRESSURE,
            MetaKey::DiskPressure => DISK_PRESSURE,
            MetaKey::Summary(_) => SUMMARY,
            MetaKey::Simulation(_) => SIMULATION,
            MetaKey::Events(_) => EVENTS,
            MetaKey::ArchivedThrough => ARCHIVED,
            MetaKey::ConfigReload => RELOAD,
            MetaKey::ConfigInForce => IN_FORCE,
        }
    }
}

/// The key as stored: the same strings earlier versions wrote, so existing journals read on.
impl fmt::Display for MetaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaKey::StoragePressure => f.write_str(PRESSURE),
            MetaKey::DiskPressure => f.write_str(DISK_PRESSURE),
            MetaKey::ArchivedThrough => f.write_str(ARCHIVED),
            MetaKey::ConfigReload => f.write_str(RELOAD),
            MetaKey::ConfigInForce => f.write_str(IN_FORCE),
            MetaKey::Summary(d) => write!(f, "{SUMMARY}{d}"),
            MetaKey::Simulation(d) => write!(f, "{SIMULATION}{d}"),
            MetaKey::Events(p) => write!(f, "{EVENTS}{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_reads_back_as_itself_and_keeps_the_stored_spelling() {
        let d: NaiveDate = "2026-03-02".parse().unwrap();
        let keys = [
            (MetaKey::StoragePressure, "storage_pressure"),
            (MetaKey::DiskPressure, "disk_pressure"),
            (MetaKey::Summary(d), "summary:2026-03-02"),
            (MetaKey::Simulation(d), "simulation:2026-03-02"),
            (
                MetaKey::events(Path::new("/run/in.jsonl")),
                "events:/run/in.jsonl",
            ),
            (MetaKey::ArchivedThrough, "archived_through"),
            (MetaKey::ConfigInForce, "config_in_force"),
        ];
        for (key, stored) in keys {
            assert_eq!(key.to_string(), stored);
            assert_eq!(MetaKey::parse(stored), Some(key));
        }
        assert_eq!(MetaKey::parse("summary:not-a-date"), None);
        assert_eq!(MetaKey::parse("something_else"), None);
    }
}
