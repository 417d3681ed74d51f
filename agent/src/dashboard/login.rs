//! `POST /api/login`: the brakes in order, then one PIN verification off the runtime.
//!
//! 1. the per-address limit (`auth::Attempts`);
//! 2. the per-account backoff (`throttle::Accounts`);
//! 3. a place in the verifier's queue ([`MAX_WAITING`]; beyond it 503 at once, so a flood
//!    of logins costs a queue of bounded length, not memory);
//! 4. the verification itself on the blocking pool, one at a time in one reused buffer
//!    (`pin::Verifier`). The permit travels into the blocking task, so a client that
//!    hangs up mid-verification cannot let a second verification start beside the first.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::api::{parse, session_body, ApiError, ApiResult};
use super::{auth, session, App};
use crate::pin::{PinHash, Verifier};

/// Logins waiting for the verifier at most; more are told to try again.
pub const MAX_WAITING: usize = 16;

/// The one verifier and its queue, with every roster PIN parsed once.
pub struct PinCheck {
    verifier: Arc<Verifier>,
    turn: Arc<Semaphore>,
    waiting: AtomicUsize,
    /// By index in `cfg.staff`: the parsed hash, or `None` (no PIN, or one refused by
    /// the cost caps: nobody logs in with it, and the decoy's effort is spent instead).
    hashes: Vec<Option<Arc<PinHash>>>,
    decoy: Option<Arc<PinHash>>,
}

/// A place in the queue; leaving it (or being dropped) gives it back.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PinCheck {
    /// Parses each staff member's `pin_hash`; one that does not parse is logged (by staff
    /// id, never the hash) and unusable.
    pub fn new<'a>(staff: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> PinCheck {
        let hashes = staff
            .map(|(id, phc)| {
                let phc = phc?;
                match PinHash::parse(phc) {
                    Ok(h) => Some(Arc::new(h)),
                    Err(e) => {
                        tracing::error!(staff = %id, "staff page: pin_hash {e}; this PIN cannot log in");
                        None
                    }
                }
            })
            .collect();
        PinCheck {
            verifier: Arc::new(Verifier::default()),
            turn: Arc::new(Semaphore::new(1)),
            waiting: AtomicUsize::new(0),
            hashes,
            decoy: auth::decoy().map(Arc::new),
        }
    }

    /// Whether `pin` is the PIN of staff number `staff` (`None`: an unknown id, which
    /// costs the same). `Err` when the queue is full or the agent is shutting down.
    async fn check(&self, pin: String, staff: Option<usize>) -> Result<bool, ApiError> {
        let busy = || {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many logins at once; try again in a moment",
            )
            .retry_after(2)
        };
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        let place = Waiting(&self.waiting);
        let turn = self
            .turn
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
        drop(place);
        let real = staff.and_then(|i| self.hashes.get(i).cloned().flatten());
        let target = real.clone().or_else(|| self.decoy.clone());
        let verifier = self.verifier.clone();
        let matched = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            target.is_some_and(|h| verifier.verify(&pin, &h))
        })
        .await
        .unwrap_or(false);
        Ok(matched && real.is_some())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    staff: String,
    pin: String,
}

pub async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(CookieJar, Json<Value>)> {
    let body = body?;
    // A JSON content type cannot be sent cross-site without the browser asking first.
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the login as Content-Type: application/json",
        ));
    }
    let login: Login = parse(&body)?;
    let ip = peer.ip();
    if let Err(wait) = app.attempts.admit(ip, Instant::now()) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many PIN attempts from this device; wait and try again",
        )
        .retry_after(wait.as_secs().max(1)));
    }
    let account = app.staff.get(&login.staff).copied();
    if let Some(i) = account {
        if let Err(wait) = app.accounts.admit(i, ip, Instant::now()) {
            tracing::warn!(staff = %login.staff, ip = %ip, "staff page: PIN attempt while this account backs off");
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many wrong PINs for this staff member; wait and try again",
            )
            .retry_after(wait.as_secs_f64().ceil().max(1.0) as u64));
        }
    }
    if !app.pins.check(login.pin, account).await? {
        tracing::warn!(staff = %login.staff, ip = %ip, "staff page: wrong staff id or PIN");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong staff id or PIN",
        ));
    }
    if let Some(i) = account {
        app.accounts.succeeded(i, ip, Instant::now());
    }
    let (token, s) = app.sessions.create(&login.staff, Instant::now());
    tracing::info!(staff = %login.staff, ip = %ip, "staff page: logged in");
    Ok((
        jar.add(session::cookie(token)),
        Json(session_body(&app, &s)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_logins_queues_sixteen_and_turns_the_rest_away_at_once() {
        let check = Arc::new(PinCheck::new(
            [("s-01", Some(auth::DECOY_HASH))].into_iter(),
        ));
        let tries: Vec<_> = (0..40)
            .map(|_| {
                let check = check.clone();
                tokio::spawn(async move { check.check("9876".into(), Some(0)).await })
            })
            .collect();
        let mut answered = 0;
        let mut busy = 0;
        for t in tries {
            match t.await.unwrap() {
                Ok(matched) => {
                    assert!(!matched);
                    answered += 1;
                }
                Err(e) => {
                    assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
                    busy += 1;
                }
            }
        }
        // One verifying, sixteen waiting; each verification takes tens of milliseconds,
        // far longer than the forty arrive in.
        assert!(
            answered <= MAX_WAITING + 1,
            "{answered} answered, {busy} busy"
        );
        assert!(
            busy >= 40 - MAX_WAITING - 2,
            "{answered} answered, {busy} busy"
        );
        // One buffer, the decoy's size, whatever the flood.
        assert_eq!(check.verifier.held_bytes(), 19456 * 1024);
    }

    #[tokio::test]
    async fn a_refused_roster_hash_never_logs_in_even_with_its_pin() {
        let absurd = "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$\
                      0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw";
        let check = PinCheck::new([("s-01", Some(absurd))].into_iter());
        assert!(!check.check("1234".into(), Some(0)).await.unwrap());
        assert!(!check.check("1234".into(), Some(7)).await.unwrap());
    }
}
