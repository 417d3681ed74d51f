//! The brake on guessing one staff member's PIN from many addresses.
//!
//! The per-address limit (`auth::Attempts`, 5 a minute) does nothing against 24 rotating
//! addresses (issue 11.6: a 4-digit PIN fell in 120 attempts). So each account also backs
//! off: the first [`FREE_FAILURES`] failures cost nothing (a caregiver mistyping), then
//! each further attempt must wait [`FIRST_DELAY`], doubling, at most [`MAX_DELAY`]. An
//! attempt counts when it is let through (so concurrent guesses cannot slip in together)
//! and is forgiven by a success or after [`FORGET_AFTER`] without one.
//!
//! This is a delay, never a lockout: the right PIN works after at most [`MAX_DELAY`]. And
//! an attacker cannot even impose that delay on staff at their usual tablet: an address
//! from which a staff member has logged in within [`KNOWN_FOR`] is a *known device* and
//! has its own backoff for that account, apart from every other address's. The attacker's
//! guesses from strangers' addresses slow only strangers; the known device is itself
//! backed off the same way, so a wall tablet in the hall is no better for guessing.
//!
//! At [`MAX_DELAY`] = 60 s a 4-digit PIN takes about 3½ days of continuous guessing for an
//! even chance, long enough for the warnings in the journal to be seen.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row an account may have before attempts on it must wait.
pub const FREE_FAILURES: u32 = 3;
/// The wait after [`FREE_FAILURES`] failures; it doubles with each further one.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait: the right PIN always works within this.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// Failures this long ago are forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// How long an address stays a known device of the staff member who logged in from it.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Known devices remembered at most; beyond it the one unused longest is forgotten.
const MAX_KNOWN_DEVICES: usize = 1024;

/// Wait after `failures` failures in a row (`None`: the next attempt may come at once).
pub fn delay_after(failures: u32) -> Option<Duration> {
    let beyond = failures.checked_sub(FREE_FAILURES)?;
    let factor = 2u32.checked_pow(beyond).unwrap_or(u32::MAX);
    Some(FIRST_DELAY.saturating_mul(factor).min(MAX_DELAY))
}

/// One backoff: failures in a row and when the next attempt may come.
#[derive(Debug, Default, Clone, Copy)]
struct Backoff {
    failures: u32,
    last: Option<Instant>,
    next: Option<Instant>,
}

impl Backoff {
    /// Lets an attempt at `now` through and counts it, or says how long to wait.
    fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        if self
            .last
            .is_some_and(|l| now.saturating_duration_since(l) >= FORGET_AFTER)
        {
            *self = Backoff::default();
        }
        if let Some(next) = self.next.filter(|n| *n > now) {
            return Err(next - now);
        }
        self.failures = self.failures.saturating_add(1);
        self.last = Some(now);
        self.next = delay_after(self.failures).map(|d| now + d);
        Ok(())
    }
}

/// A known device: when the staff member last logged in from it, and its own backoff.
struct Known {
    since: Instant,
    backoff: Backoff,
}

/// Per-account backoff, for the staff on the roster (by index in `cfg.staff`). Unknown ids
/// are not tracked (they cannot succeed, and tracking them would let a flood of ids grow
/// the table); the per-address limit still applies to them.
pub struct Accounts {
    /// Attempts from addresses that are no known device of the account.
    strangers: Mutex<Vec<Backoff>>,
    known: Mutex<HashMap<(usize, IpAddr), Known>>,
}

impl Accounts {
    pub fn new(staff: usize) -> Accounts {
        Accounts {
            strangers: Mutex::new(vec![Backoff::default(); staff]),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt on `staff` from `ip` at `now`; `Err(wait)` while it must wait.
    pub fn admit(&self, staff: usize, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        {
            let mut known = lock(&self.known);
            if let Some(k) = known.get_mut(&(staff, ip)) {
                if now.saturating_duration_since(k.since) < KNOWN_FOR {
                    return k.backoff.admit(now);
                }
                known.remove(&(staff, ip));
            }
        }
        let mut strangers = lock(&self.strangers);
        match strangers.get_mut(staff) {
            Some(b) => b.admit(now),
            None => Ok(()),
        }
    }

    /// `staff` logged in from `ip`: the address becomes (or stays) a known device with a
    /// clean slate. The strangers' backoff is left as it is: a success from one device
    /// says nothing about the guesses from elsewhere.
    pub fn succeeded(&self, staff: usize, ip: IpAddr, now: Instant) {
        let mut known = lock(&self.known);
        if known.len() >= MAX_KNOWN_DEVICES && !known.contains_key(&(staff, ip)) {
            let stalest = known
                .iter()
                .min_by_key(|(_, k)| k.since)
                .map(|(key, _)| *key);
            if let Some(key) = stalest {
                known.remove(&key);
            }
        }
        let fresh = Known {
            since: now,
            backoff: Backoff::default(),
        };
        known.insert((staff, ip), fresh);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each operation is one small update: a panic elsewhere cannot leave it half done.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn the_delay_starts_after_three_failures_doubles_and_stops_at_a_minute() {
        let delays: Vec<_> = (1..=12)
            .map(|f| delay_after(f).map(|d| d.as_secs()))
            .collect();
        assert_eq!(
            delays,
            [
                None,
                None,
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(60),
                Some(60),
                Some(60),
                Some(60)
            ]
        );
        assert_eq!(delay_after(u32::MAX), Some(MAX_DELAY));
    }

    /// Everyone hammering one account from 24 addresses, every 100 ms for ten minutes:
    /// how many attempts get through in each minute.
    fn let_through_per_minute(accounts: &Accounts, t0: Instant) -> Vec<usize> {
        let mut per_minute = vec![0; 10];
        for tick in 0..6000u64 {
            let now = t0 + Duration::from_millis(100 * tick);
            let from = ip((tick % 24) as u8 + 2);
            if accounts.admit(0, from, now).is_ok() {
                per_minute[(tick / 600) as usize] += 1;
            }
        }
        per_minute
    }

    #[test]
    fn rotating_addresses_get_eight_guesses_in_the_first_minute_then_one_a_minute() {
        let a = Accounts::new(1);
        let per_minute = let_through_per_minute(&a, Instant::now());
        assert_eq!(per_minute[0], 8, "{per_minute:?}");
        assert!(per_minute[1..].iter().all(|n| *n <= 1), "{per_minute:?}");
        assert!(per_minute.iter().sum::<usize>() <= 17, "{per_minute:?}");
    }

    #[test]
    fn the_right_pin_works_after_the_delay_and_clears_it() {
        let a = Accounts::new(1);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(a.admit(0, ip(9), t0 + Duration::from_millis(i)).is_ok());
        }
        let wait = a
            .admit(0, ip(9), t0 + Duration::from_millis(3))
            .unwrap_err();
        assert!(wait <= FIRST_DELAY, "{wait:?}");
        let later = t0 + Duration::from_secs(2);
        assert!(a.admit(0, ip(9), later).is_ok());
        a.succeeded(0, ip(9), later);
        // A clean slate: three more free tries.
        for i in 0..3 {
            assert!(a
                .admit(0, ip(9), later + Duration::from_millis(i + 1))
                .is_ok());
        }
    }

    #[test]
    fn guesses_from_elsewhere_do_not_delay_a_known_tablet() {
        let a = Accounts::new(2);
        let t0 = Instant::now();
        let tablet = ip(1);
        assert!(a.admit(0, tablet, t0).is_ok());
        a.succeeded(0, tablet, t0);
        // An hour of guessing from strangers' addresses keeps them at the longest delay.
        let _ = let_through_per_minute(&a, t0);
        let stranger_wait = a
            .admit(0, ip(50), t0 + Duration::from_secs(600))
            .unwrap_err();
        assert!(stranger_wait > Duration::ZERO);
        // The tablet, and the other account, are untouched.
        assert!(a.admit(0, tablet, t0 + Duration::from_secs(600)).is_ok());
        assert!(a.admit(1, ip(50), t0 + Duration::from_secs(600)).is_ok());
        // The tablet is backed off on its own like anyone else.
        let t = t0 + Duration::from_secs(601);
        assert!(a.admit(0, tablet, t).is_ok());
        assert!(a.admit(0, tablet, t).is_ok());
        assert!(a.admit(0, tablet, t).is_err());
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_quarter_hour() {
        let a = Accounts::new(1);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(a.admit(0, ip(3), t0).is_ok());
        }
        assert!(a.admit(0, ip(4), t0).is_err());
        let t = t0 + FORGET_AFTER;
        for _ in 0..3 {
            assert!(a.admit(0, ip(4), t).is_ok());
        }
    }

    #[test]
    fn an_unknown_account_index_is_not_tracked() {
        let a = Accounts::new(0);
        assert!(a.admit(5, ip(1), Instant::now()).is_ok());
        a.succeeded(5, ip(1), Instant::now());
    }
}
