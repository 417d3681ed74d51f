//! The JSON API behind the page. Every handler answers a bad request with a 4xx and a
//! JSON `{"error": ...}`; none of them can panic on what a client sends.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum_extra::extract::cookie::CookieJar;
use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use super::auth::Session;
use super::session::{self, CsrfChecked, LoggedIn};
use super::slots::Holder;
use super::{history, view, App};
use crate::event::{Event, EventKind};
use crate::input::Input;

/// How long an acknowledgement may wait for the core to journal it.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Keep-alive comments on idle streams, so that proxies and phones keep them open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A 4xx/5xx answer with a JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The status it answers with.
    #[cfg(test)]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// With a `Retry-After` of `secs` seconds.
    pub fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> ApiError {
        let status = r.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(
                "request body too large (at most {} bytes)",
                super::MAX_BODY_BYTES
            )
        } else {
            format!("cannot read the request body: {}", r.body_text())
        };
        ApiError::new(status, message)
    }
}

pub(super) type ApiResult<T> = Result<T, ApiError>;

pub async fn view(State(app): State<App>) -> Json<Value> {
    Json(view::public(&app.cfg, &app.live.view()))
}

/// Server-sent events: the view now and after every change (`view`), and every alert
/// transition (`transition`). One small task per client, bounded; it ends with the client
/// or at shutdown, so a graceful shutdown never waits on an open stream.
///
/// Slots are shared as `slots.rs` says: logged-in staff always find one that anonymous
/// clients cannot take.
pub async fn stream(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    who: Option<LoggedIn>,
) -> ApiResult<impl IntoResponse> {
    let holder = match who {
        Some(w) => Holder::Staff(w.session.staff),
        None => Holder::Anonymous(peer.ip()),
    };
    let permit = app
        .streams
        .take(holder)
        .map_err(|why| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why).retry_after(5))?;
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(8);
    let mut watch = app.live.watch();
    let mut transitions = app.live.transitions();
    let shutdown = app.shutdown.clone();
    let cfg = app.cfg.clone();
    tokio::spawn(async move {
        let _permit = permit;
        loop {
            let current = watch.borrow_and_update().clone();
            let data = view::public(&cfg, &current).to_string();
            if tx
                .send(Ok(SseEvent::default().event("view").data(data)))
                .await
                .is_err()
            {
                return;
            }
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tx.closed() => return,
                    changed = watch.changed() => {
                        if changed.is_err() { return; }
                        break;
                    }
                    t = transitions.recv() => match t {
                        Ok(t) => {
                            let body = serde_json::to_value(&t).unwrap_or(Value::Null);
                            let data = view::public_transition(body).to_string();
                            let ev = SseEvent::default().event("transition").data(data);
                            if tx.send(Ok(ev)).await.is_err() { return; }
                        }
                        // Missed some: the page re-reads the history on `resync`.
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let ev = SseEvent::default().event("resync").data("{}");
                            if tx.send(Ok(ev)).await.is_err() { return; }
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Today's alert timeline (from the journal) and ratio samples (from memory).
pub async fn history(State(app): State<App>, who: Option<LoggedIn>) -> ApiResult<Json<Value>> {
    let staff = who.is_some();
    let clock = app
        .live
        .view()
        .clock
        .map_or_else(Utc::now, |c| c.with_timezone(&Utc));
    let dir = app.cfg.storage.dir.clone();
    let tz = app.cfg.facility.timezone;
    let transitions =
        tokio::task::spawn_blocking(move || history::transitions_of_day(dir, tz, clock))
            .await
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "history failed"))?
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    let transitions: Vec<Value> = if staff {
        transitions
    } else {
        transitions
            .into_iter()
            .map(view::public_transition)
            .collect()
    };
    Ok(Json(json!({
        "transitions": transitions,
        "ratios": app.ratios.today(),
    })))
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON body: {e}")))
}

pub(super) fn session_body(app: &App, s: &Session) -> Value {
    let name = app
        .staff
        .get(&s.staff)
        .map(|&i| app.cfg.staff[i].name.clone());
    json!({ "staff": s.staff, "name": name, "csrf": s.csrf })
}

pub async fn session(State(app): State<App>, who: LoggedIn) -> Json<Value> {
    Json(session_body(&app, &who.session))
}

pub async fn logout(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    jar: CookieJar,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(CookieJar, Json<Value>)> {
    body?;
    app.sessions.remove(&who.token);
    Ok((session::removed(jar), Json(json!({ "ok": true }))))
}

pub async fn names(State(app): State<App>, _staff: LoggedIn) -> Json<Value> {
    Json(view::names(&app.cfg, &app.live.view()))
}

/// Alert ids the agent makes are short and plain; anything else is not one of ours.
pub(super) fn plausible_alert_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b))
}

pub async fn acknowledge(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    body?;
    let s = who.session;
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no open alert with id `{}`",
                id.chars().take(128).collect::<String>()
            ),
        )
    };
    if !plausible_alert_id(&id) {
        return Err(unknown());
    }
    let now = app.live.view();
    let Some(open) = now.alerts.iter().find(|a| a.alert_id == id) else {
        return Err(unknown());
    };
    if let Some((by, _)) = &open.acknowledged {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("alert already acknowledged by {by}"),
        ));
    }
    // Any time will do: the core stamps local events with its own clock.
    let ts = now.clock.unwrap_or_else(|| {
        Utc::now()
            .with_timezone(&app.cfg.facility.timezone)
            .fixed_offset()
    });
    let event = Event::at(
        ts,
        EventKind::Acknowledge {
            alert_id: id.clone(),
            by: s.staff.clone(),
        },
    );
    let transitions = journal(&app, event, "acknowledgement").await?;
    tracing::info!(alert = %id, staff = %s.staff, "staff page: alert acknowledged");
    let at = transitions
        .iter()
        .find(|t| t.alert_id == id)
        .map(|t| t.ts.to_rfc3339());
    Ok(Json(json!({
        "alert_id": id,
        "acknowledged": { "by": s.staff, "at": at },
    })))
}

/// The moment for an event the page makes: any will do, since the core stamps local
/// events with its own clock.
pub(super) fn page_ts(app: &App) -> chrono::DateTime<chrono::FixedOffset> {
    app.live.view().clock.unwrap_or_else(|| {
        Utc::now()
            .with_timezone(&app.cfg.facility.timezone)
            .fixed_offset()
    })
}

/// Hands an event the page made (`what`, for the error) to the core and waits until it is
/// journalled: its transitions, or why the rules rejected it (409), or 503/504 when the
/// core is busy or slow.
pub(super) async fn journal(
    app: &App,
    event: Event,
    what: &str,
) -> ApiResult<Vec<crate::alert::Transition>> {
    let (tx, rx) = oneshot::channel();
    let busy = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent is busy; try again",
        )
    };
    app.inputs
        .try_send(Input::Local {
            event,
            reply: Some(tx),
        })
        .map_err(|_| busy())?;
    match tokio::time::timeout(ACK_TIMEOUT, rx).await {
        Ok(Ok(Ok(transitions))) => Ok(transitions),
        Ok(Ok(Err(reason))) => Err(ApiError::new(StatusCode::CONFLICT, reason)),
        Ok(Err(_)) => Err(busy()),
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!("the {what} was not confirmed in time; reload to see whether it was recorded"),
        )),
    }
}
