//! What a PIN hash may cost, and the one verifier that pays for it.
//!
//! A roster's `pin_hash` is an argon2 PHC string (`nursery-agent hash-pin` writes
//! `$argon2id$v=19$m=19456,t=2,p=1$…`). Its parameters are chosen by whoever wrote the
//! file, and argon2 allocates `m` KiB per verification: `m=4294967295` asks for 4 TiB and
//! aborts the daemon at the first login. So a hash is accepted only within [`MAX_M_KIB`]
//! and [`MAX_WORK`], by `check-config` (which asks [`PinHash::parse`]) and again here, before
//! any verification (defence in depth: nothing above the cap is ever attempted).
//!
//! The caps: the board has 512 MB and the agent lives in ~15 MB; one verification at a
//! time at [`MAX_M_KIB`] = 64 MiB keeps the worst case under a fifth of the board, while
//! leaving 3× headroom over the default (19 MiB, the OWASP recommendation). Time is capped
//! as work, `m × t` ≤ [`MAX_WORK`] (64 MiB × 2 passes, 3.4× the default's 38 MiB·passes),
//! so that one login cannot hold the verifier for more than about a second on the board.
//!
//! [`Verifier`] owns one block buffer, allocated on the first login and reused by every
//! later one: a verification allocates nothing large, so failed logins cannot leave freed
//! 19 MiB regions behind in the allocator's per-thread arenas (issue 11.7 measured
//! 13.6 MB → 240 MB resident after 100 failed logins when each one allocated its own).

use std::sync::Mutex;

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// Largest memory cost accepted, in KiB (argon2's unit): 64 MiB.
pub const MAX_M_KIB: u32 = 64 * 1024;
/// Largest `m × t` accepted (KiB × passes): 64 MiB with 2 passes, or 16 MiB with 8.
pub const MAX_WORK: u64 = 2 * MAX_M_KIB as u64;
/// Largest parallelism accepted. This build computes lanes one after the other, so lanes
/// buy an attacker nothing and only cost the board time.
pub const MAX_P: u32 = 8;

/// Why a `pin_hash` is refused. Never shows the hash itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinHashError {
    #[error(
        "is not a PHC string (`$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`; \
         make one with `nursery-agent hash-pin`): {0}"
    )]
    NotPhc(String),
    #[error("is a `{0}` hash, not argon2 (argon2id, argon2i or argon2d)")]
    NotArgon2(String),
    #[error("has unusable argon2 parameters: {0}")]
    Params(String),
    #[error("has no {0}")]
    Missing(&'static str),
    #[error(
        "costs too much: m={m} KiB, t={t}, p={p}; at most m={max_m} KiB, m×t={max_work}, p={max_p} \
         (the board has 512 MB; `nursery-agent hash-pin` makes m=19456,t=2,p=1)",
        max_m = MAX_M_KIB,
        max_work = MAX_WORK,
        max_p = MAX_P
    )]
    TooCostly { m: u32, t: u32, p: u32 },
}

/// A parsed `pin_hash` within the caps: everything a verification needs.
#[derive(Clone)]
pub struct PinHash {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

impl std::fmt::Debug for PinHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The salt and hash stay out of logs.
        f.debug_struct("PinHash")
            .field("algorithm", &self.algorithm)
            .field("m", &self.params.m_cost())
            .field("t", &self.params.t_cost())
            .field("p", &self.params.p_cost())
            .finish_non_exhaustive()
    }
}

impl PinHash {
    /// Parses `phc` and checks its cost against the caps, without hashing anything.
    pub fn parse(phc: &str) -> Result<PinHash, PinHashError> {
        let hash = PasswordHash::new(phc).map_err(|e| PinHashError::NotPhc(e.to_string()))?;
        let algorithm = Algorithm::try_from(hash.algorithm)
            .map_err(|_| PinHashError::NotArgon2(hash.algorithm.as_str().to_string()))?;
        let version = match hash.version {
            None => Version::default(),
            Some(v) => Version::try_from(v).map_err(|_| {
                PinHashError::Params(format!("version {v} (argon2 knows 16 and 19)"))
            })?,
        };
        let params = Params::try_from(&hash).map_err(|e| PinHashError::Params(e.to_string()))?;
        let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
        if m > MAX_M_KIB || u64::from(m) * u64::from(t) > MAX_WORK || p > MAX_P {
            return Err(PinHashError::TooCostly { m, t, p });
        }
        let salt = hash.salt.ok_or(PinHashError::Missing("salt"))?;
        let mut buf = [0u8; 64];
        let salt = salt
            .decode_b64(&mut buf)
            .map_err(|e| PinHashError::Params(format!("salt: {e}")))?;
        if salt.len() < argon2::MIN_SALT_LEN {
            return Err(PinHashError::Params(format!(
                "a salt of {} bytes (at least {})",
                salt.len(),
                argon2::MIN_SALT_LEN
            )));
        }
        let expected = hash.hash.ok_or(PinHashError::Missing("hash"))?;
        Ok(PinHash {
            algorithm,
            version,
            params,
            salt: salt.to_vec(),
            expected: expected.as_bytes().to_vec(),
        })
    }

    /// Memory blocks (1 KiB each) one verification needs.
    fn blocks(&self) -> usize {
        self.params.block_count()
    }
}

/// The one PIN verifier: one buffer, one verification at a time (a `Mutex`; callers queue
/// on a semaphore before they reach it, so no blocking thread waits here for long).
#[derive(Default)]
pub struct Verifier {
    memory: Mutex<Vec<Block>>,
}

impl Verifier {
    /// Whether `pin` matches `hash`. Blocking and CPU-bound: call it from the blocking pool.
    pub fn verify(&self, pin: &str, hash: &PinHash) -> bool {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let need = hash.blocks();
        if memory.len() < need {
            // Grows to the largest hash seen, at most MAX_M_KIB (checked by `parse`);
            // never shrinks, so the next login allocates nothing.
            memory.resize(need, Block::default());
        }
        let argon2 = Argon2::new(hash.algorithm, hash.version, hash.params.clone());
        let mut out = [0u8; 64];
        let Some(out) = out.get_mut(..hash.expected.len()) else {
            return false;
        };
        let hashed = argon2.hash_password_into_with_memory(
            pin.as_bytes(),
            &hash.salt,
            &mut *out,
            &mut memory[..need],
        );
        hashed.is_ok() && bool::from(out.ct_eq(&hash.expected))
    }

    /// Bytes held by the buffer (for tests and the log).
    pub fn held_bytes(&self) -> usize {
        self.memory.lock().unwrap_or_else(|e| e.into_inner()).len() * Block::SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cheap hash of "1234" (m=64,t=1), so these tests cost no time.
    fn cheap() -> String {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"saltsaltsalt").unwrap();
        let params = Params::new(64, 1, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"1234", &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_cheap_hash_verifies_its_pin_and_not_another() {
        let hash = PinHash::parse(&cheap()).unwrap();
        let v = Verifier::default();
        assert!(v.verify("1234", &hash));
        assert!(!v.verify("1235", &hash));
        assert_eq!(v.held_bytes(), 64 * 1024);
    }

    #[test]
    fn the_buffer_is_reused_not_grown_by_repeated_verifications() {
        let hash = PinHash::parse(&cheap()).unwrap();
        let v = Verifier::default();
        for _ in 0..20 {
            v.verify("0000", &hash);
        }
        assert_eq!(v.held_bytes(), 64 * 1024);
    }

    #[test]
    fn absurd_argon2_parameters_are_refused_before_any_allocation() {
        let absurd = "$argon2id$v=19$m=4294967295,t=4294967295,p=255$c2FsdHNhbHRzYWx0$\
                      0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw";
        let e = PinHash::parse(absurd).unwrap_err();
        assert!(
            matches!(e, PinHashError::TooCostly { m: 4294967295, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("at most m=65536 KiB"), "{e}");
        // Just over each cap.
        for params in ["m=65537,t=1,p=1", "m=65536,t=3,p=1", "m=16384,t=1,p=9"] {
            let phc = format!("$argon2id$v=19${params}$c2FsdHNhbHRzYWx0$0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw");
            assert!(
                matches!(PinHash::parse(&phc), Err(PinHashError::TooCostly { .. })),
                "{params}"
            );
        }
        // The default, as `hash-pin` makes it, is well inside.
        let demo = "$argon2id$v=19$m=19456,t=2,p=1$w/bpbn8gd6kjVCcWJKUWQA$\
                    0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw";
        assert!(PinHash::parse(demo).is_ok());
    }

    #[test]
    fn what_is_not_an_argon2_phc_string_is_refused_with_a_reason() {
        for (phc, want) in [
            ("1234", "is not a PHC string"),
            ("", "is not a PHC string"),
            (
                "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                "is not a PHC string",
            ),
            (
                "$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0$0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw",
                "not argon2",
            ),
            ("$argon2id$v=19$m=19456,t=2,p=1", "has no salt"),
            ("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0", "has no hash"),
            (
                "$argon2id$v=18$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw",
                "version 18",
            ),
            (
                "$argon2id$v=19$m=19456,t=2,p=1,x=3$c2FsdHNhbHRzYWx0$0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw",
                "unusable argon2 parameters",
            ),
            (
                "$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHRzYWx0$0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw",
                "unusable argon2 parameters",
            ),
        ] {
            let e = PinHash::parse(phc).unwrap_err().to_string();
            assert!(e.contains(want), "{phc:?}: {e}");
        }
    }
}
