//! The MQTT link to the regulator's broker: store-and-forward from the outbox (contract
//! section 6).
//!
//! # Integration (the daemon)
//! ```text
//! let settings = UplinkSettings::from_config(&cfg)?;        // reads the password / TLS files
//! let status = UplinkStatus::new(Utc::now());               // share with the dashboard
//! let wake = Arc::new(Notify::new());                       // the core: notify_one() after
//!                                                           // each commit that enqueued
//! let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel::<Command>(16);
//! tracker.spawn(uplink::run(settings, db_path, wake.clone(), cmd_tx, status.clone(),
//!                           shutdown.clone()));             // Err(_) is fatal: cancel
//! ```
//! The core answers each [`Command`] it receives by enqueueing a `Kind::CommandResult`
//! with `outbox::command_result_body(cmd.id(), Ok(()))` (or `Err("…")`), in its own batch.
//! What is published is in [`crate::wire`]; the link sends the outbox's rows as they are.
//! Commands the uplink rejects itself (malformed, unknown, too large, bad date) never reach
//! the core: the uplink enqueues their error results. A repeated command id is ignored.
//! `run` applies the outbox migrations itself (idempotent), so it can start before or after
//! the core's `outbox::migrate`.
//!
//! # How it works
//! - **One task owns the rumqttc event loop.** `EventLoop::poll` is not cancel-safe (a
//!   half-written packet would be written again), so it is never dropped mid-way: the task
//!   keeps one boxed poll future alive across `select!` iterations and publishes with
//!   `try_publish` only, so it never waits inside the loop.
//! - **One thread owns the uplink's SQLite connection** (`uplink-store`): page reads, deletes
//!   on PUBACK (coalesced into one transaction), command bookkeeping. It talks to the task over
//!   channels, so no SQLite call runs on the async runtime.
//! - **Nothing relies on rumqttc's session.** Each connection gets a fresh client and event
//!   loop with a clean session (MQTT 5, `protocol = 5`: clean start off, the broker keeps the
//!   session a day, so the commands subscription and commands sent meanwhile outlive a lost
//!   connection; `client.rs` puts both clients behind one face); after every
//!   (re)connect, everything not yet acknowledged is read again from the outbox and
//!   re-sent (the same envelope: same `seq`, same `id`). A publish is matched to its packet
//!   id by order (`Outgoing::Publish(pkid)` events come in request order), and a PUBACK for
//!   that pkid moves the row to `outbox_sent`.
//! - **Order.** Every durable message keeps its `seq` (given at enqueue, contiguous), and
//!   the outbox is read in `seq` order. Within what has been read ahead (up to two pages of
//!   256), alerts go first, then command results, then summaries — so after an outage the
//!   platform learns of the alerts before it gets the summary queued ahead of them; once all
//!   have arrived there is no gap. Telemetry goes only once the durable stream has caught
//!   up, newest first.
//! - **Bounded memory.** At most `max_inflight` messages in flight and two pages buffered,
//!   whatever the backlog on disk.
//! - **Reconnects** back off exponentially from `reconnect_min` to `reconnect_max`, with
//!   full jitter (each delay is drawn in [10 ms, d]).
//! - **Resend** (contract 1.1 section 12). A message acknowledged by the broker leaves the
//!   outbox for `outbox_sent`, kept `keep_sent`; `resend` is answered by the store thread
//!   (the range held, the oldest seq held), which then hands out its copies a page at a
//!   time. They go out with their original envelope, only while the live stream has caught
//!   up, within half the window and at most `resend_per_second`: a live alert always goes
//!   first. At most four `resend`s are under way; one more is refused with a result.
//! - **Status.** `status` is published retained `online` on connect, the last will is
//!   retained `offline`, and a clean shutdown publishes `offline` then disconnects.
//! - **Hostile input.** Packets up to 4 MiB (`MAX_INCOMING_PACKET`) are read, so a command over
//!   `command_max_bytes` is refused by its id while the connection stays up; a larger packet
//!   fails the connection inside rumqttc, and the next connection clears the retained
//!   message on `commands` before subscribing. An id with control or bidirectional
//!   characters is never echoed.
//! - **Client-id takeover.** Connections the broker keeps closing seconds after their
//!   CONNACK are what a second client with the same id looks like: the link logs it as an
//!   error and sets [`UplinkStatusSnapshot::client_id_conflict`] (and the `uplink_link` row
//!   that `nursery-agent status` reads) until a connection lasts.

//!
//! # Files
//! - `settings.rs` — [`UplinkSettings`] from `[mqtt]`, and the rumqttc options built from it.
//! - `link.rs` — [`run`]: the task that owns the event loop.
//! - `client.rs` — rumqttc's 3.1.1 and MQTT 5 clients, and their events, as one.
//! - `store.rs` — the thread that owns the uplink's SQLite connection.
//! - `commands.rs` — [`parse_command`]: what a `commands` payload is.
//! - `status.rs` — [`UplinkStatus`], shared with the daemon and the staff page.

mod client;
mod commands;
mod link;
mod settings;
mod status;
mod store;

use std::path::PathBuf;
use std::time::Duration;

use crate::outbox::OutboxError;

pub use commands::{parse_command, Command, ParsedCommand, Resend};
pub use link::run;
pub use settings::{Credentials, TlsMaterial, UplinkSettings};
pub use status::{UplinkStatus, UplinkStatusSnapshot};

/// Rows read from the outbox per page.
const PAGE: usize = 256;
/// Largest incoming packet rumqttc accepts before dropping the connection: sixteen times
/// the largest `command_max_bytes` the configuration allows (256 KiB), so a command over
/// its limit is still read whole and refused with a result naming the limit, while the
/// connection stays up. A packet above even this fails the connection inside rumqttc (it
/// cannot skip a packet); the link then clears the retained message on `commands` when it
/// reconnects, so a retained one cannot keep the link down (see `link.rs`).
const MAX_INCOMING_PACKET: usize = 4 * 1024 * 1024;
/// MQTT's own maximum; an outbox row is never too large to leave.
const MAX_OUTGOING_PACKET: usize = 268_435_455;
/// Longest command id echoed back in a result.
const MAX_COMMAND_ID: usize = 128;
/// How long a clean shutdown waits for `offline` and DISCONNECT to go out.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Why the link stopped, or could not start.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error("mqtt: cannot read {what} {path}: {source}")]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("mqtt: {what} {path} is not a PEM file")]
    NotPem { what: &'static str, path: PathBuf },
    #[error("mqtt: mqtt.tls.cert_file and mqtt.tls.key_file go together")]
    CertWithoutKey,
    #[error("mqtt: mqtt.password_file {path} is not UTF-8")]
    PasswordNotUtf8 {
        path: PathBuf,
        source: std::str::Utf8Error,
    },
    #[error("mqtt: mqtt.password_file needs mqtt.username")]
    PasswordWithoutUsername,
    #[error(
        "mqtt: mqtt.topic_prefix and facility.id must not contain '+', '#' (nor '/' in the id)"
    )]
    TopicWildcards,
    #[error("outbox database {path}: {source}")]
    Open { path: PathBuf, source: OutboxError },
    #[error("outbox: opening the database did not finish: {0}")]
    OpenAborted(#[source] tokio::task::JoinError),
    #[error("outbox: cannot start the store thread: {0}")]
    StoreThread(#[source] std::io::Error),
    #[error("outbox: {0}")]
    Store(#[source] OutboxError),
    #[error("the outbox thread stopped unexpectedly")]
    StoreGone,
    #[error("mqtt client: {0}")]
    Client(#[from] rumqttc::ClientError),
    #[error("mqtt 5 client: {0}")]
    Client5(String),
}
