//! Whether the board's wall clock can be believed: is it synchronised, and did it jump.
//!
//! A board without a battery-backed clock boots at the wrong time (often 1970) and steps
//! to the right one when systemd-timesyncd (or chrony, or someone at a terminal) sets it.
//! The monotonic clock does not jump, so comparing how far each moved tells a step from
//! time passing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Where systemd-timesyncd says the clock is synchronised (it creates the file then).
pub const TIMESYNCD_FLAG: &str = "/run/systemd/timesync/synchronized";

/// A step smaller than this is drift or a slow tick, not a jump: NTP slews such
/// differences away, and the 60 s tolerance for events ahead of the clock covers it.
pub const JUMP_THRESHOLD: Duration = Duration::from_secs(5);

/// The file whose existence means "synchronised": [`TIMESYNCD_FLAG`], or the path in
/// `NURSERY_TIMESYNC_FLAG` (for a board that runs another time daemon, which can touch a
/// file of its own, and for tests).
pub fn sync_flag() -> PathBuf {
    std::env::var_os("NURSERY_TIMESYNC_FLAG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(TIMESYNCD_FLAG))
}

/// Whether the system clock is synchronised now.
pub fn clock_synced(flag: &Path) -> bool {
    flag.exists()
}

/// A jump of the wall clock: it would have read `from`, it reads `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jump {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Watches the wall clock against the monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct JumpWatch {
    mono: Instant,
    wall: DateTime<Utc>,
}

impl JumpWatch {
    pub fn new(mono: Instant, wall: DateTime<Utc>) -> JumpWatch {
        JumpWatch { mono, wall }
    }

    /// Compares a new pair of readings with the last: a jump when the wall clock moved
    /// more than [`JUMP_THRESHOLD`] further (or less far) than the monotonic clock.
    pub fn check(&mut self, mono: Instant, wall: DateTime<Utc>) -> Option<Jump> {
        let elapsed = mono.saturating_duration_since(self.mono);
        let expected = chrono::Duration::from_std(elapsed)
            .ok()
            .and_then(|d| self.wall.checked_add_signed(d))
            .unwrap_or(self.wall);
        *self = JumpWatch { mono, wall };
        let off = (wall - expected).abs().to_std().unwrap_or(Duration::MAX);
        (off > JUMP_THRESHOLD).then_some(Jump {
            from: expected,
            to: wall,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn time_passing_is_not_a_jump_but_a_step_either_way_is() {
        let m0 = Instant::now();
        let mut w = JumpWatch::new(m0, at("2026-03-02T02:00:00Z"));
        let m1 = m0 + Duration::from_secs(60);
        assert_eq!(w.check(m1, at("2026-03-02T02:01:02Z")), None);
        let m2 = m1 + Duration::from_secs(1);
        assert_eq!(
            w.check(m2, at("2026-03-03T02:01:03Z")),
            Some(Jump {
                from: at("2026-03-02T02:01:03Z"),
                to: at("2026-03-03T02:01:03Z")
            })
        );
        let m3 = m2 + Duration::from_secs(1);
        assert_eq!(
            w.check(m3, at("2026-03-03T01:01:04Z")),
            Some(Jump {
                from: at("2026-03-03T02:01:04Z"),
                to: at("2026-03-03T01:01:04Z")
            })
        );
    }

    #[test]
    fn a_boot_at_1970_that_synchronises_is_one_jump_forward() {
        let m0 = Instant::now();
        let mut w = JumpWatch::new(m0, at("1970-01-01T00:00:10Z"));
        let j = w.check(m0 + Duration::from_secs(20), at("2026-03-02T02:00:00Z"));
        assert_eq!(j.map(|j| j.from), Some(at("1970-01-01T00:00:30Z")));
    }

    #[test]
    fn the_sync_flag_is_a_file_that_exists_or_not() {
        let dir = std::env::temp_dir().join(format!("nursery-sync-{}", std::process::id()));
        assert!(!clock_synced(&dir));
        std::fs::write(&dir, "").unwrap();
        assert!(clock_synced(&dir));
        std::fs::remove_file(&dir).unwrap();
    }
}
