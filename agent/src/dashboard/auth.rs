//! Who may change anything on the staff page: PINs, sessions, CSRF tokens, and the brake on
//! guessing PINs.
//!
//! - PINs are stored in the roster only as argon2 PHC strings (`nursery-agent hash-pin`).
//!   Verifying one costs tens of milliseconds and ~19 MiB, so it runs on the blocking pool,
//!   one at a time in one reused buffer (`pin.rs`), and only after the per-address limit
//!   here and the per-account backoff (`throttle.rs`) have let the attempt through.
//! - A login gives a random session token (cookie `HttpOnly; SameSite=Strict; Path=/`, see
//!   `session.rs`) and a separate random CSRF token that the page sends back in
//!   `X-CSRF-Token` with every state-changing request. Both are compared in constant time.
//!   Sessions live in memory: a restart logs everyone out.
//! - Every table here is bounded, so a flood of logins or addresses cannot grow memory.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::pin::{PinHash, Verifier};

/// Name of the session cookie.
pub const COOKIE: &str = "nursery_session";
/// A session lasts one long shift, then the PIN is asked again.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// At most this many sessions at once; the oldest goes first.
const MAX_SESSIONS: usize = 256;
/// PIN attempts allowed per client address within [`ATTEMPT_WINDOW`].
pub const MAX_ATTEMPTS: usize = 5;
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered by the rate limiter; beyond it the stalest are forgotten.
const MAX_TRACKED_ADDRESSES: usize = 4096;

/// PINs are 4 to 12 digits.
pub fn valid_pin(pin: &str) -> bool {
    (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("a PIN is 4 to 12 digits")]
    Invalid,
    #[error("cannot hash the PIN: {0}")]
    Hash(String),
}

/// The PHC string (argon2id, default parameters, random salt) for `pin`.
pub fn hash_pin(pin: &str) -> Result<String, PinError> {
    if !valid_pin(pin) {
        return Err(PinError::Invalid);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PinError::Hash(e.to_string()))
}

/// Hash of no one's PIN, verified against when the staff id is unknown or has no usable
/// PIN, so that a wrong id costs as much time as a wrong PIN and does not reveal who
/// exists. Same parameters as [`hash_pin`].
pub const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$w/bpbn8gd6kjVCcWJKUWQA$0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw";

/// Whether `pin` matches `phc` (or, with `None`, spends the same effort and says no).
/// A hash that [`PinHash::parse`] refuses (not argon2, or above the cost caps) is never
/// computed: nobody logs in with it, and the decoy's effort is spent instead.
/// Blocking: call it from the blocking pool.
pub fn verify_pin(verifier: &Verifier, pin: &str, phc: Option<&str>) -> bool {
    let parsed = phc.and_then(|p| PinHash::parse(p).ok());
    verify(verifier, pin, parsed.as_ref())
}

/// [`verify_pin`] with the hash parsed already; `None` spends the decoy's effort.
pub fn verify(verifier: &Verifier, pin: &str, hash: Option<&PinHash>) -> bool {
    match hash {
        Some(hash) => verifier.verify(pin, hash),
        None => {
            if let Some(d) = decoy() {
                verifier.verify(pin, &d);
            }
            false
        }
    }
}

/// The decoy, parsed (it always parses: a unit test says so).
pub fn decoy() -> Option<PinHash> {
    PinHash::parse(DECOY_HASH).ok()
}

/// A random token: 32 bytes from the OS, hex.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether two secrets are equal, in time that depends on their lengths only (`subtle`):
/// a guesser cannot learn from the answer's timing how many leading characters were right.
pub fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The first characters of a session token name its table entry; the entry keeps the
/// whole token and the request's token is compared with it by [`same`]. So the lookup's
/// timing (a hash map's) can tell at most this public part; the other 48 hex characters
/// (192 bits) are only ever compared in constant time.
const LOOKUP_LEN: usize = 16;
#[derive(Debug, Clone)]
pub struct Session {
    pub staff: String,
    pub csrf: String,
    pub expires: Instant,
}

/// Logged-in staff, by the lookup part of their session token.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    token: String,
    session: Session,
}

impl Sessions {
    /// A new session for `staff`: (token, session).
    pub fn create(&self, staff: &str, now: Instant) -> (String, Session) {
        let session = Session {
            staff: staff.to_string(),
            csrf: token(),
            expires: now + SESSION_TTL,
        };
        let mut map = self.lock();
        map.retain(|_, e| e.session.expires > now);
        while map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.session.expires)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => map.remove(&k),
                None => break,
            };
        }
        // 64 random bits of lookup: a repeat is all but impossible, and then drawn again.
        let key = loop {
            let key = token();
            if !map.contains_key(&key[..LOOKUP_LEN]) {
                break key;
            }
        };
        let entry = Entry {
            token: key.clone(),
            session: session.clone(),
        };
        map.insert(key[..LOOKUP_LEN].to_string(), entry);
        (key, session)
    }

    /// The live session behind `token`, if any.
    pub fn get(&self, token: &str, now: Instant) -> Option<Session> {
        let lookup = token.get(..LOOKUP_LEN)?;
        let mut map = self.lock();
        let entry = map.get(lookup).filter(|e| same(&e.token, token))?;
        if entry.session.expires > now {
            return Some(entry.session.clone());
        }
        map.remove(lookup);
        None
    }

    /// Ends the session behind `token` (nothing happens for a token that is not one).
    pub fn remove(&self, token: &str) {
        let Some(lookup) = token.get(..LOOKUP_LEN) else {
            return;
        };
        let mut map = self.lock();
        if map.get(lookup).is_some_and(|e| same(&e.token, token)) {
            map.remove(lookup);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters (each operation is one insert or remove), so carry on with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// PIN attempts per client address in a sliding window.
#[derive(Default)]
pub struct Attempts {
    inner: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Attempts {
    /// Counts an attempt from `ip` at `now`; `Err(retry_after)` when it is one too many.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED_ADDRESSES && !map.contains_key(&ip) {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < ATTEMPT_WINDOW)
            });
            if map.len() >= MAX_TRACKED_ADDRESSES {
                // Still full of active addresses: refuse newcomers rather than forget
                // someone mid-guess.
                return Err(ATTEMPT_WINDOW);
            }
        }
        let q = map.entry(ip).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= ATTEMPT_WINDOW)
        {
            q.pop_front();
        }
        if q.len() >= MAX_ATTEMPTS {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = ATTEMPT_WINDOW.saturating_sub(now.duration_since(oldest));
            return Err(wait.max(Duration::from_secs(1)));
        }
        q.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_pin_verifies_and_a_wrong_one_does_not() {
        let phc = hash_pin("1234").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        let v = Verifier::default();
        assert!(verify_pin(&v, "1234", Some(&phc)));
        assert!(!verify_pin(&v, "4321", Some(&phc)));
        assert!(!verify_pin(&v, "1234", None));
        assert!(!verify_pin(&v, "1234", Some("not a phc string")));
        assert!(decoy().is_some());
        // What `hash-pin` makes is within the caps that `check-config` applies.
        assert!(PinHash::parse(&phc).is_ok());
    }

    #[test]
    fn a_roster_hash_above_the_cost_cap_is_never_computed() {
        let v = Verifier::default();
        let absurd = "$argon2id$v=19$m=4294967295,t=4294967295,p=255$c2FsdHNhbHRzYWx0$\
                      0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw";
        assert!(!verify_pin(&v, "1234", Some(absurd)));
        // Only the decoy's effort was spent (19 MiB), not 4 TiB.
        assert_eq!(v.held_bytes(), 19456 * 1024);
    }

    #[test]
    fn pins_are_four_to_twelve_digits() {
        assert!(hash_pin("12a4").is_err());
        assert!(hash_pin("123").is_err());
        assert!(valid_pin("000000"));
    }

    #[test]
    fn the_sixth_attempt_within_a_minute_is_refused_until_the_first_ages_out() {
        let a = Attempts::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(a.admit(ip, t0 + Duration::from_secs(i)).is_ok());
        }
        let wait = a.admit(ip, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(a.admit(other, t0 + Duration::from_secs(10)).is_ok());
        assert!(a.admit(ip, t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn sessions_expire_and_can_be_removed() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let (key, session) = s.create("s-01", t0);
        assert_eq!(s.get(&key, t0).unwrap().csrf, session.csrf);
        assert!(s.get(&key, t0 + SESSION_TTL).is_none());
        let (key, _) = s.create("s-01", t0);
        s.remove(&key);
        assert!(s.get(&key, t0).is_none());
    }

    #[test]
    fn a_token_with_the_right_lookup_part_but_a_wrong_secret_is_no_session() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let (key, _) = s.create("s-01", t0);
        let mut forged = key[..LOOKUP_LEN].to_string();
        forged.push_str(&"0".repeat(key.len() - LOOKUP_LEN));
        assert!(s.get(&forged, t0).is_none());
        assert!(s.get(&key[..LOOKUP_LEN], t0).is_none());
        assert!(s.get("", t0).is_none());
        assert!(s.get("短", t0).is_none());
        // Nor can it end the real session.
        s.remove(&forged);
        assert!(s.get(&key, t0).is_some());
    }

    #[test]
    fn comparison_needs_equal_strings() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
        assert!(same("", ""));
    }
}
