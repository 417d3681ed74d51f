//! The staff page's HTTP/1.1 server: accepting connections, and cutting off the ones that
//! would hold a descriptor for nothing.
//!
//! `axum::serve` has no header timeout and no connection cap: issue 11.8 held 1,000
//! connections open by sending a header byte every 5 s, and with the board's
//! 1,024-descriptor limit the page stopped answering. So the accept loop is ours (in the
//! manner of mini-redis's `Listener::run`):
//!
//! - every connection is served by hyper with a [`HEADER_TIMEOUT`]: a request's head must
//!   arrive whole within it, counted from the connection's start or the end of the previous
//!   response (so an idle keep-alive connection is closed after it too). A slow client is
//!   then disconnected without an answer (hyper closes the socket).
//! - at most [`MAX_CONNECTIONS`] are open at once, [`MAX_CONNECTIONS_PER_ADDRESS`] from one
//!   address; a connection over either cap gets a short 503 and is closed at once, and a
//!   warning is logged (at most every [`REFUSAL_LOG_EVERY`], with the count).
//!
//! A body trickled after a prompt head is bounded by the router's request deadline
//! (`REQUEST_TIMEOUT` in `mod.rs`, 408). Live streams (`/api/stream`) hold their
//! connection for as long as the page is open; they have their own cap (`slots.rs`), well
//! below these.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A request's head must arrive within this (a tablet on the LAN sends it in milliseconds).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once. With `LimitNOFILE=2048` in the unit this leaves room for the
/// journal, the uplink and the hardware.
pub const MAX_CONNECTIONS: usize = 512;
/// Connections from one address at once: a browser opens six, a nursery has a few tablets.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 64;
/// Refused connections are logged at most this often.
pub const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);
/// How long a shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(5);

const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
Content-Length: 43\r\nRetry-After: 5\r\nConnection: close\r\n\r\n\
{\"error\":\"too many connections; try again\"}";

/// Open connections, in all and by address.
#[derive(Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The caps, and the refusals not yet logged.
#[derive(Default)]
struct Limits {
    open: Mutex<Open>,
    refused: Mutex<(usize, Option<Instant>)>,
}

/// One admitted connection; dropping it frees its place.
struct Admitted {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Limits {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mine = open.by_address.get(&ip).copied().unwrap_or(0);
        if open.total >= MAX_CONNECTIONS || mine >= MAX_CONNECTIONS_PER_ADDRESS {
            return None;
        }
        open.total += 1;
        *open.by_address.entry(ip).or_default() += 1;
        Some(Admitted {
            limits: self.clone(),
            ip,
        })
    }

    /// Counts a refusal, and logs the count when the last log is old enough.
    fn refused(&self, ip: IpAddr) {
        let mut r = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        r.0 += 1;
        let now = Instant::now();
        if r.1
            .is_none_or(|t| now.duration_since(t) >= REFUSAL_LOG_EVERY)
        {
            let (total, from) = {
                let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
                (open.total, open.by_address.get(&ip).copied().unwrap_or(0))
            };
            tracing::warn!(
                refused = r.0, last_from = %ip, open = total, open_from_it = from,
                max = MAX_CONNECTIONS, max_per_address = MAX_CONNECTIONS_PER_ADDRESS,
                "staff page: refusing connections over the cap"
            );
            *r = (0, Some(now));
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_address.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets requests in flight finish
/// (at most [`DRAIN`]).
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let limits = Arc::new(Limits::default());
    let tracker = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: both pass.
                    tracing::warn!(error = %e, "staff page: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(admitted) = limits.admit(peer.ip()) else {
            limits.refused(peer.ip());
            refuse(tcp);
            continue;
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let _admitted = admitted;
            serve_tcp(tcp, peer, router, shutdown).await;
        });
    }
    tracker.close();
    if tokio::time::timeout(DRAIN, tracker.wait()).await.is_err() {
        tracing::warn!("staff page: requests still in flight at shutdown, dropped");
    }
    Ok(())
}

/// A 503 if the socket takes it at once (it never waits on a client), then closed.
fn refuse(tcp: TcpStream) {
    let _ = tcp.try_write(REFUSAL);
}

/// One connection, with the header timeout, until it ends or the shutdown.
async fn serve_tcp(tcp: TcpStream, peer: SocketAddr, router: Router, shutdown: CancellationToken) {
    let _ = tcp.set_nodelay(true);
    serve_one(tcp, peer, router, shutdown).await;
}

/// One connection on any byte stream (a socket, or the fuzz target's in-memory pipe).
pub(super) async fn serve_one<IO>(
    io: IO,
    peer: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // What `into_make_service_with_connect_info` did: handlers see the peer address.
        req.extensions_mut().insert(ConnectInfo(peer));
        hyper::service::Service::call(&service, req)
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Slow or vanished clients; nothing the agent can do about them.
        tracing::debug!(peer = %peer, error = %e, "staff page: connection ended");
    }
}
