//! The staff page, served on `[dashboard] listen` on the nursery's own network.
//!
//! One page (`/`, and a read-only `/wall` for a wall display) and the JSON API behind it:
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /`, `GET /wall` | anyone | the page; every asset is compiled into the binary |
//! | `GET /api/view` | anyone | rooms, doors and open alerts: ids, room names and counts, no personal names; the agent's own state (`operations`) |
//! | `GET /api/stream` | anyone, slots kept for staff | the same view as server-sent events (`view`), and each alert transition (`transition`) |
//! | `GET /api/history` | anyone | today's alert transitions and each room's ratio samples |
//! | `POST /api/login` | anyone, limited per address and per account | `{"staff","pin"}` → session cookie and CSRF token |
//! | `GET /api/session` | staff | who is logged in, and the CSRF token |
//! | `GET /api/names` | staff | names of children and staff, who is in which room, who counts and why not, and a refused reload's problems |
//! | `POST /api/alerts/{id}/ack` | staff + CSRF | acknowledges an open alert, once journalled |
//! | `POST /api/rooms/{id}/sleep-check` | staff + CSRF | a sleep check by the logged-in staff member, during a nap |
//! | `POST /api/rooms/{id}/nap/{start\|end}` | staff + CSRF | starts or ends the room's nap |
//! | `POST /api/emergency/{kind}/{start\|end}` | staff + CSRF | starts or ends an emergency or drill (`evacuation`, `lockdown`, `fire`, `drill`) |
//! | `POST /api/roll-call/{person}` | staff + CSRF | accounts for a child or member of staff in the roll call under way |
//! | `GET /api/health` | staff | each child's health check (晨午检) and arrival today, with names |
//! | `POST /api/children/{id}/health-check` | staff + CSRF | `{"celsius"?, "result"}`: a health check of the child |
//! | `POST /api/children/{id}/absence` | staff + CSRF | `{"reason", "date"?}`: the child reported absent (today by default) |
//! | `POST /api/staff/{id}/presence/{on_duty\|break\|other_work}` | staff + CSRF | a checked-in member of staff's presence |
//! | `POST /api/logout` | staff + CSRF | ends the session |
//! | `GET /ledger`, `GET /ledger.csv` | staff (else a 401 page) | the daily ledger (台账) of `?date=`, to print, or as CSV (`ledger.rs`) |
//!
//! Errors are JSON, `{"error": "..."}`, with a 4xx status for anything the client got
//! wrong. The page talks only to the agent: nothing here goes upstream except what the
//! core itself sends for an acknowledgement.
//!
//! Hostile clients on the LAN are bounded everywhere: connections and their header time
//! (`server.rs`), PIN guesses per address and per account (`auth.rs`, `throttle.rs`), the
//! cost and memory of a PIN verification (`pin.rs`, `login.rs`), live-stream slots
//! (`slots.rs`), request bodies ([`MAX_BODY_BYTES`]).

mod api;
pub mod auth;
mod dispositions;
mod emergency;
mod health;
pub mod history;
mod inputs;
mod ledger;
mod login;
mod naps;
mod people;
mod server;
mod session;
pub mod slots;
pub mod throttle;
mod view;

use std::collections::HashMap;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::input::Input;
use crate::live::Live;

/// What the page needs from the daemon.
#[derive(Clone)]
pub struct DashboardState {
    pub cfg: Arc<Config>,
    pub live: Live,
    /// To the core: acknowledgements, as `Input::Local` with a reply.
    pub inputs: SyncSender<Input>,
}

/// Request bodies larger than this are refused with 413: a login is a few dozen bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024;
pub use server::{HEADER_TIMEOUT, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS};
/// A request, body included, must be answered within this (a login waiting for the
/// verifier's queue takes a few seconds at worst on the board).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// Live-update streams open at once; more are refused with 503 rather than growing memory.
pub use slots::MAX_STREAMS;

/// Everything the handlers share.
struct Inner {
    cfg: Arc<Config>,
    live: Live,
    inputs: SyncSender<Input>,
    sessions: auth::Sessions,
    attempts: auth::Attempts,
    accounts: throttle::Accounts,
    /// One PIN verification at a time, in one buffer: each takes ~19 MiB on a board with
    /// 512 MiB.
    pins: login::PinCheck,
    streams: slots::Slots,
    ratios: history::Ratios,
    shutdown: CancellationToken,
    /// Staff id → index in `cfg.staff`.
    staff: HashMap<String, usize>,
}

type App = Arc<Inner>;

/// Serves the page on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: DashboardState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let live = state.live.clone();
    let (app, ratios) = app(state, shutdown.clone());
    let sampler = tokio::spawn(history::sample(live, ratios, shutdown.clone()));
    let result = server::run(listener, router(app), shutdown.clone()).await;
    shutdown.cancel();
    let _ = sampler.await;
    result
}

/// The page without a listener: one connection's bytes, served exactly as the accept loop
/// serves a socket's (hyper's HTTP/1 parser, the router, every handler). The fuzz target
/// and the corpus test feed it raw requests; no socket, no ratio sampler.
pub struct Page {
    router: Router,
    shutdown: CancellationToken,
}

impl Page {
    pub fn new(state: DashboardState, shutdown: CancellationToken) -> Page {
        let (app, _ratios) = app(state, shutdown.clone());
        Page {
            router: router(app),
            shutdown,
        }
    }

    /// Serves one connection on `io` as if it came from `peer`, until it ends (or the
    /// shutdown given to [`Page::new`]).
    pub async fn connection<IO>(&self, io: IO, peer: std::net::SocketAddr)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        server::serve_one(io, peer, self.router.clone(), self.shutdown.clone()).await;
    }
}

/// The handlers' shared state, and the ratio timeline the sampler fills.
fn app(state: DashboardState, shutdown: CancellationToken) -> (App, history::Ratios) {
    let staff = state
        .cfg
        .staff
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    let ratios = history::Ratios::default();
    let pins = login::PinCheck::new(
        state
            .cfg
            .staff
            .iter()
            .map(|s| (s.id.as_str(), s.pin_hash.as_deref())),
    );
    let accounts = throttle::Accounts::new(state.cfg.staff.len());
    let app: App = Arc::new(Inner {
        cfg: state.cfg,
        live: state.live,
        inputs: state.inputs,
        sessions: auth::Sessions::default(),
        attempts: auth::Attempts::default(),
        accounts,
        pins,
        streams: slots::Slots::default(),
        ratios: ratios.clone(),
        shutdown,
        staff,
    });
    (app, ratios)
}

fn router(app: App) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/wall", get(page))
        .route("/assets/app.js", get(script))
        .route("/assets/app.css", get(style))
        .route("/ledger", get(ledger::page))
        .route("/ledger.csv", get(ledger::csv))
        .route("/api/view", get(api::view))
        .route("/api/stream", get(api::stream))
        .route("/api/history", get(api::history))
        .route("/api/login", post(login::login))
        .route("/api/logout", post(api::logout))
        .route("/api/session", get(api::session))
        .route("/api/names", get(api::names))
        .route("/api/alerts/{id}/ack", post(api::acknowledge))
        .route("/api/alerts/{id}/disposition", post(dispositions::record))
        .route("/api/inputs/{id}/test", post(inputs::arm_test))
        .route("/api/rooms/{id}/sleep-check", post(naps::sleep_check))
        .route("/api/rooms/{id}/nap/{action}", post(naps::nap))
        .route("/api/emergency/{kind}/{action}", post(emergency::emergency))
        .route("/api/roll-call/{person}", post(emergency::roll_call))
        .route("/api/health", get(health::list))
        .route("/api/children/{id}/health-check", post(health::check))
        .route("/api/children/{id}/absence", post(health::absence))
        .route("/api/staff/{id}/presence/{state}", post(people::presence))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_deadline))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

async fn page() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

async fn script() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Assets change only with the binary; a reload after an upgrade must see them.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn not_found() -> api::ApiError {
    api::ApiError::new(StatusCode::NOT_FOUND, "no such page or API route")
}

async fn method_not_allowed() -> api::ApiError {
    api::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route",
    )
}

/// A request must be answered within [`REQUEST_TIMEOUT`], its body read included: the
/// header timeout (`server.rs`) does not cover a body trickled a byte at a time. A live
/// stream's answer is its head, which comes at once; its events are not bounded by this.
async fn request_deadline(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            let mut res = api::ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "the request took too long to arrive",
            )
            .into_response();
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            res
        }
    }
}

/// Headers that keep the page to itself: no framing, no foreign scripts, no sniffing, no
/// referrer leaving the network.
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // A page with its own policy (the ledger's inline style) keeps it.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

#[cfg(test)]
mod tests {
    use super::APP_JS;
    use crate::alert::AlertType;

    #[test]
    fn the_page_names_every_alert_type_in_both_languages() {
        for ty in AlertType::ALL {
            let key = format!("{}: ['", ty.as_str());
            assert!(
                APP_JS.contains(&key),
                "app.js's TYPES has no label for {}: the page would show the raw type",
                ty.as_str()
            );
        }
    }
}
