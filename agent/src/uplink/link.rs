//! [`run`]: the one task that owns the rumqttc event loop (see the module docs of `uplink`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rumqttc::QoS;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::client::{poll_once, Client, Ev, LinkLost, PollFuture};
use super::commands::Command;
use super::settings::UplinkSettings;
use super::status::UplinkStatus;
use super::store::{Store, StoreReply, StoreReq};
use super::{UplinkError, MAX_INCOMING_PACKET, PAGE, SHUTDOWN_GRACE};
use crate::outbox::{Kind, PendingMessage, PendingTelemetry};
use crate::wire::{self, LinkState, Status};

/// A connection the broker closes this soon after its CONNACK looks taken over: with the
/// same client id, a broker accepts the newcomer and closes the older connection (MQTT
/// 3.1.1 section 3.1.4), so two agents with one id each kick the other out within seconds
/// — within one `reconnect_min` of the other's, so the window is at least twice that.
const TAKEOVER_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);
/// Short-lived connections in a row before the link says a takeover is likely.
const TAKEOVER_AFTER: u32 = 3;

/// One MQTT connection attempt or connection: a fresh client and event loop.
struct Session {
    client: Client,
    poll: PollFuture,
}

/// The link's long-lived state.
enum Link {
    /// Waiting out the reconnect delay.
    BackingOff { until: tokio::time::Instant },
    /// TCP, TLS and CONNECT under way; no CONNACK yet.
    Connecting(Session),
    /// CONNACK received: draining the outbox.
    Connected(Session),
}

/// What a publish was, until its `Outgoing::Publish(pkid)` and then its PUBACK.
#[derive(Debug, Clone, Copy)]
enum Sent {
    Durable(u64),
    /// A copy published again for `resend`: already acknowledged once, kept as it was.
    Resent,
    Telemetry(i64),
    Status,
}

/// Per-connection drain state; reset on every (re)connect.
struct Drain {
    epoch: u64,
    /// Highest seq read from the outbox this connection.
    durable_after: u64,
    durable: VecDeque<PendingMessage>,
    durable_fetching: bool,
    /// The last page was short: nothing more until a wake.
    durable_done: bool,
    durable_woken: bool,
    /// Urgent alerts (panic, fire) beyond the read-ahead are looked for on connect and on
    /// every wake, and published ahead of the backlog before them.
    urgent_wanted: bool,
    urgent_fetching: bool,
    /// Urgent seqs taken ahead of the pages; a page that reaches them skips them.
    urgent_taken: HashSet<u64>,
    telemetry_before: i64,
    telemetry: VecDeque<PendingTelemetry>,
    telemetry_fetching: bool,
    telemetry_done: bool,
    telemetry_restart: bool,
    /// Telemetry published and not yet deleted, to skip when a pass restarts from the top.
    telemetry_out: HashSet<i64>,
    /// Telemetry acknowledged since the last telemetry page was asked for: that page may
    /// have been read before their deletion and must not send them again.
    telemetry_acked_since_fetch: HashSet<i64>,
    /// Publishes handed to rumqttc, waiting for their packet id, in order.
    awaiting_pkid: VecDeque<Sent>,
    /// Publishes waiting for their PUBACK.
    awaiting_ack: HashMap<u16, Sent>,
    acked_seqs: Vec<u64>,
    acked_telemetry: Vec<i64>,
    /// Copies for `resend` in flight: at most half the window, so live messages always
    /// find room.
    resent_in_flight: usize,
}

impl Drain {
    fn new(epoch: u64) -> Drain {
        Drain {
            epoch,
            durable_after: 0,
            durable: VecDeque::new(),
            durable_fetching: false,
            durable_done: false,
            durable_woken: false,
            urgent_wanted: true,
            urgent_fetching: false,
            urgent_taken: HashSet::new(),
            telemetry_before: i64::MAX,
            telemetry: VecDeque::new(),
            telemetry_fetching: false,
            telemetry_done: false,
            telemetry_restart: false,
            telemetry_out: HashSet::new(),
            telemetry_acked_since_fetch: HashSet::new(),
            awaiting_pkid: VecDeque::new(),
            awaiting_ack: HashMap::new(),
            acked_seqs: Vec::new(),
            acked_telemetry: Vec::new(),
            resent_in_flight: 0,
        }
    }

    fn in_flight(&self) -> usize {
        self.awaiting_pkid.len() + self.awaiting_ack.len()
    }
}

struct Uplink {
    settings: UplinkSettings,
    /// Failed connection attempts since the last CONNACK: how long to back off.
    attempt: u32,
    status: Arc<UplinkStatus>,
    commands: mpsc::Sender<Command>,
    store: std::sync::mpsc::Sender<StoreReq>,
    drain: Drain,
    topics: Topics,
    /// The last connection failed on a packet over [`MAX_INCOMING_PACKET`]: clear the
    /// retained message on `commands` before subscribing again.
    clear_retained_commands: bool,
    /// When the current connection got its CONNACK.
    connected_at: Option<tokio::time::Instant>,
    /// Connections in a row that the broker closed within the takeover window.
    short_sessions: u32,
    /// Copies being published again for `resend`; kept across reconnects.
    resend: ResendFlow,
}

/// Copies read for `resend`, and the pace they go at: a token bucket of
/// `resend_per_second`, a tenth of a second deep.
struct ResendFlow {
    buf: VecDeque<PendingMessage>,
    fetching: bool,
    /// A `resend` is under way with copies still to read.
    more: bool,
    tokens: f64,
    refilled: tokio::time::Instant,
    per_second: f64,
    /// `buf.len()`, for the store (a `resend` is under way while copies wait).
    buffered: Arc<std::sync::atomic::AtomicUsize>,
}

/// Copies read for `resend` per page.
const RESEND_PAGE: usize = 64;

impl ResendFlow {
    fn new(per_second: u32, buffered: Arc<std::sync::atomic::AtomicUsize>) -> ResendFlow {
        ResendFlow {
            buffered,
            buf: VecDeque::new(),
            fetching: false,
            more: false,
            tokens: 0.0,
            refilled: tokio::time::Instant::now(),
            per_second: f64::from(per_second.max(1)),
        }
    }

    fn burst(&self) -> f64 {
        (self.per_second / 10.0).max(1.0)
    }

    /// Takes one token if there is one.
    fn take(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let gained = now.duration_since(self.refilled).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + gained).min(self.burst());
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next token is there, if copies wait for one.
    fn next_token(&self) -> Option<tokio::time::Instant> {
        if self.buf.is_empty() {
            return None;
        }
        let missing = (1.0 - self.tokens).max(0.0) / self.per_second;
        Some(self.refilled + std::time::Duration::from_secs_f64(missing))
    }
}

struct Topics {
    status: String,
    commands: String,
    telemetry: String,
    alerts: String,
    summaries: String,
    command_results: String,
}

impl Topics {
    fn of(kind: Kind, t: &Topics) -> &str {
        match kind {
            Kind::Alert => &t.alerts,
            Kind::Summary => &t.summaries,
            Kind::CommandResult => &t.command_results,
        }
    }
}

/// Runs the link until `shutdown` is cancelled (then publishes `offline`, disconnects and
/// returns `Ok`). Returns `Err` only for what retrying cannot fix (the database); network
/// trouble is retried forever.
pub async fn run(
    settings: UplinkSettings,
    db_path: PathBuf,
    wake: Arc<Notify>,
    commands: mpsc::Sender<Command>,
    status: Arc<UplinkStatus>,
    shutdown: CancellationToken,
) -> Result<(), UplinkError> {
    let conn = loop {
        let path = db_path.clone();
        let opened = tokio::task::spawn_blocking(move || Store::open_created(&path))
            .await
            .map_err(UplinkError::OpenAborted)?;
        match opened {
            Ok(conn) => break conn,
            // A full disk (the agent runs on, holding its journal): try again later.
            Err(source) if super::store::storage_error(&source) => {
                tracing::warn!(error = %source, "outbox cannot be opened yet (storage); retrying in 5 s");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                }
            }
            Err(source) => {
                return Err(UplinkError::Open {
                    path: db_path.clone(),
                    source,
                })
            }
        }
    };
    let (replies_tx, mut replies) = mpsc::unbounded_channel();
    let resend_buffered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (req_tx, req_rx) = std::sync::mpsc::channel();
    let store = Store {
        conn,
        facility: settings.facility.clone(),
        cap: settings.cap,
        command_max_bytes: settings.command_max_bytes,
        forwarded: Default::default(),
        replies: replies_tx,
        keep_sent: settings.keep_sent,
        // Copies are bounded like what waits: at most the outbox's cap of them.
        sent_max_bytes: settings.cap.max_bytes,
        last_prune: None,
        resends: Default::default(),
        resend_buffered: resend_buffered.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("uplink-store".into())
        .spawn(move || store.run(req_rx))
        .map_err(UplinkError::StoreThread)?;

    let topics = Topics {
        status: settings.topic(wire::STATUS_TOPIC),
        commands: settings.topic(wire::COMMANDS_TOPIC),
        telemetry: settings.topic(wire::TELEMETRY_TOPIC),
        alerts: settings.topic(Kind::Alert.topic_suffix()),
        summaries: settings.topic(Kind::Summary.topic_suffix()),
        command_results: settings.topic(Kind::CommandResult.topic_suffix()),
    };
    let mut up = Uplink {
        settings,
        attempt: 0,
        status,
        commands,
        store: req_tx,
        drain: Drain::new(0),
        topics,
        clear_retained_commands: false,
        connected_at: None,
        short_sessions: 0,
        resend: ResendFlow::new(0, resend_buffered.clone()),
    };
    up.resend = ResendFlow::new(up.settings.resend_per_second, resend_buffered);
    let mut signals = Signals {
        wake: &wake,
        replies: &mut replies,
        shutdown: &shutdown,
    };
    let result = up.run(&mut signals).await;
    up.flush_acks();
    drop(up);
    // Let the store thread commit the last deletes before returning.
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    result
}

/// What the link waits on besides its connection.
struct Signals<'a> {
    /// The core enqueued something.
    wake: &'a Notify,
    replies: &'a mut mpsc::UnboundedReceiver<StoreReply>,
    shutdown: &'a CancellationToken,
}

impl Uplink {
    async fn run(&mut self, signals: &mut Signals<'_>) -> Result<(), UplinkError> {
        let mut link = self.connect();
        loop {
            if signals.shutdown.is_cancelled() {
                if let Link::Connected(session) = link {
                    self.goodbye(session).await;
                }
                self.status.set_connected(false, Utc::now());
                return Ok(());
            }
            link = match link {
                Link::BackingOff { until } => self.back_off(until, signals).await?,
                Link::Connecting(session) => self.connecting(session, signals).await?,
                Link::Connected(session) => self.connected(session, signals).await?,
            };
        }
    }

    /// One wait while backing off: until the delay is over (then a new attempt), a store
    /// reply, a wake (ignored until connected) or shutdown.
    async fn back_off(
        &mut self,
        until: tokio::time::Instant,
        signals: &mut Signals<'_>,
    ) -> Result<Link, UplinkError> {
        tokio::select! {
            _ = signals.shutdown.cancelled() => Ok(Link::BackingOff { until }),
            _ = tokio::time::sleep_until(until) => Ok(self.connect()),
            r = signals.replies.recv() => {
                self.reply(r, None)?;
                Ok(Link::BackingOff { until })
            }
            _ = signals.wake.notified() => Ok(Link::BackingOff { until }),
        }
    }

    /// One wait while connecting: the next event (CONNACK: connected; an error: back off),
    /// a store reply, a wake or shutdown.
    async fn connecting(
        &mut self,
        mut session: Session,
        signals: &mut Signals<'_>,
    ) -> Result<Link, UplinkError> {
        tokio::select! {
            _ = signals.shutdown.cancelled() => Ok(Link::Connecting(session)),
            (el, r) = &mut session.poll => match r {
                Ok(Ev::ConnAck { session_present }) => {
                    session.poll = poll_once(el);
                    if self.settings.mqtt5 {
                        tracing::info!(session_present, "mqtt 5: CONNACK");
                    }
                    self.attempt = 0;
                    self.on_connected(&session)?;
                    self.fill(&session)?;
                    Ok(Link::Connected(session))
                }
                Ok(_) => {
                    session.poll = poll_once(el);
                    Ok(Link::Connecting(session))
                }
                Err(e) => {
                    let delay = self.next_delay();
                    tracing::warn!(
                        "mqtt: cannot connect to {}:{}: {e}; retrying in {:.1}s",
                        self.settings.host,
                        self.settings.port,
                        delay.as_secs_f64()
                    );
                    Ok(Link::BackingOff { until: tokio::time::Instant::now() + delay })
                }
            },
            r = signals.replies.recv() => {
                self.reply(r, None)?;
                Ok(Link::Connecting(session))
            }
            _ = signals.wake.notified() => Ok(Link::Connecting(session)),
        }
    }

    /// One wait while connected: the next event, a store reply, a wake or shutdown; then
    /// publish what the window allows. A connection error: back off.
    async fn connected(
        &mut self,
        mut session: Session,
        signals: &mut Signals<'_>,
    ) -> Result<Link, UplinkError> {
        let lost = tokio::select! {
            _ = signals.shutdown.cancelled() => None,
            (el, r) = &mut session.poll => match r {
                Ok(ev) => {
                    session.poll = poll_once(el);
                    self.on_event(ev);
                    None
                }
                Err(e) => Some(e),
            },
            r = signals.replies.recv() => {
                self.reply(r, Some(&session))?;
                None
            }
            _ = signals.wake.notified() => {
                self.on_wake();
                self.report_dropped(&session);
                None
            }
            _ = sleep_until_some(self.resend_timer()) => None,
        };
        let Some(e) = lost else {
            self.stable_again();
            self.fill(&session)?;
            self.flush_acks();
            return Ok(Link::Connected(session));
        };
        self.flush_acks();
        self.on_disconnected();
        self.on_lost(&e);
        let delay = self.next_delay();
        tracing::warn!(
            "mqtt: connection lost: {e}; reconnecting in {:.1}s",
            delay.as_secs_f64()
        );
        Ok(Link::BackingOff {
            until: tokio::time::Instant::now() + delay,
        })
    }

    /// When copies for `resend` wait only for the pace (not for a PUBACK, nor for the live
    /// stream, whose events wake the link anyway): the next token.
    fn resend_timer(&self) -> Option<tokio::time::Instant> {
        let d = &self.drain;
        let blocked = d.resent_in_flight >= (self.settings.window() / 2).max(1)
            || !d.durable_done
            || d.durable_fetching
            || d.in_flight() >= self.settings.window();
        if blocked {
            None
        } else {
            self.resend.next_token()
        }
    }

    /// The delay before the next attempt, growing with each failure.
    fn next_delay(&mut self) -> std::time::Duration {
        let delay = self.settings.backoff(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Telemetry dropped since the last status: say so, retained. Only with room in the
    /// window; otherwise at a later wake.
    fn report_dropped(&mut self, session: &Session) {
        let dropped = self.status.telemetry_dropped();
        let changed = dropped != self.status.dropped_reported.load(Ordering::Relaxed)
            || self.status.journal_changed();
        if changed && self.drain.in_flight() < self.settings.window() {
            let since = self.status.connected_since().unwrap_or_else(Utc::now);
            if let Err(e) = self.publish_online(session, since) {
                tracing::warn!(error = %e, "mqtt: status not republished");
            }
        }
    }

    /// A fresh client and event loop: nothing carried over from an earlier session.
    fn connect(&mut self) -> Link {
        let will = Status::new(LinkState::Offline, Utc::now());
        let (client, el) = self.settings.client(&will);
        Link::Connecting(Session {
            client,
            poll: poll_once(el),
        })
    }

    fn on_connected(&mut self, session: &Session) -> Result<(), UplinkError> {
        let now = Utc::now();
        tracing::info!(
            "mqtt: connected to {}:{}",
            self.settings.host,
            self.settings.port
        );
        self.status.set_connected(true, now);
        self.connected_at = Some(tokio::time::Instant::now());
        self.drain = Drain::new(self.drain.epoch + 1);
        if std::mem::take(&mut self.clear_retained_commands) {
            // Published before the subscription, so the broker has dropped the retained
            // message by the time it sends us what `commands` retains.
            tracing::warn!(
                topic = %self.topics.commands,
                "mqtt: clearing the retained command that was too large to read"
            );
            session.client.try_publish(
                self.topics.commands.clone(),
                QoS::AtLeastOnce,
                true,
                Vec::new(),
            )?;
            self.drain.awaiting_pkid.push_back(Sent::Status);
        }
        session
            .client
            .try_subscribe(self.topics.commands.clone(), QoS::AtLeastOnce)?;
        self.publish_online(session, now)
    }

    /// Publishes the retained `online` status, with the telemetry dropped so far.
    fn publish_online(
        &mut self,
        session: &Session,
        since: DateTime<Utc>,
    ) -> Result<(), UplinkError> {
        let dropped = self.status.telemetry_dropped();
        session.client.try_publish(
            self.topics.status.clone(),
            QoS::AtLeastOnce,
            true,
            Status::new(LinkState::Online, since)
                .with_dropped(dropped)
                .with_journal(self.status.journal_report())
                .to_json()
                .into_bytes(),
        )?;
        self.drain.awaiting_pkid.push_back(Sent::Status);
        self.status
            .dropped_reported
            .store(dropped, Ordering::Relaxed);
        Ok(())
    }

    /// After a lost connection: an oversize packet (clear a retained one on reconnect), or
    /// a connection closed seconds after its CONNACK (count it toward a takeover).
    fn on_lost(&mut self, e: &LinkLost) {
        let connected_for = self.connected_at.take().map(|t| t.elapsed());
        if let Some(size) = e.oversize {
            tracing::error!(
                topic = %self.topics.commands,
                "mqtt: a message of {size} bytes exceeds the {MAX_INCOMING_PACKET}-byte incoming \
                 packet limit; the connection failed reading it. If it is a retained command it \
                 is cleared on reconnect"
            );
            self.clear_retained_commands = true;
            return;
        }
        let window = self.takeover_window();
        if connected_for.is_none_or(|d| d >= window) {
            self.short_sessions = 0;
            return;
        }
        self.short_sessions = self.short_sessions.saturating_add(1);
        if self.short_sessions >= TAKEOVER_AFTER {
            if !self.status.client_id_conflict() || self.short_sessions.is_multiple_of(30) {
                tracing::error!(
                    client_id = %self.settings.client_id,
                    "mqtt: the broker closed the connection {} times in a row within {}s of \
                     accepting it: another client with the same client id `{}` is probably \
                     connected (two agents with the same facility.id or mqtt.client_id?); \
                     each takes the connection from the other",
                    self.short_sessions,
                    window.as_secs(),
                    self.settings.client_id
                );
            }
            if !self.status.client_id_conflict() {
                self.status.set_client_id_conflict(true);
                let _ = self.store.send(StoreReq::ClientIdConflict(Some(
                    self.settings.client_id.clone(),
                )));
            }
        }
    }

    /// How soon after its CONNACK a closed connection counts toward a takeover.
    fn takeover_window(&self) -> std::time::Duration {
        TAKEOVER_WINDOW.max(self.settings.reconnect_min.saturating_mul(2))
    }

    /// A connection that has lasted the takeover window ends a suspected takeover.
    fn stable_again(&mut self) {
        if self.short_sessions == 0
            || self
                .connected_at
                .is_none_or(|t| t.elapsed() < self.takeover_window())
        {
            return;
        }
        self.short_sessions = 0;
        if self.status.client_id_conflict() {
            tracing::info!(
                client_id = %self.settings.client_id,
                "mqtt: the connection is stable again; no client with the same client id now"
            );
            self.status.set_client_id_conflict(false);
            let _ = self.store.send(StoreReq::ClientIdConflict(None));
        }
    }

    fn on_disconnected(&mut self) {
        self.status.set_connected(false, Utc::now());
        // Everything unacknowledged stays in the outbox and is read again on reconnect.
        self.drain = Drain::new(self.drain.epoch + 1);
    }

    fn on_wake(&mut self) {
        let d = &mut self.drain;
        d.urgent_wanted = true;
        d.durable_done = false;
        d.durable_woken = d.durable_fetching;
        if d.telemetry_fetching {
            d.telemetry_restart = true;
        } else {
            d.telemetry_before = i64::MAX;
            d.telemetry.clear();
            d.telemetry_done = false;
        }
    }

    fn on_event(&mut self, ev: Ev) {
        match ev {
            Ev::OutgoingPublish(pkid) => {
                let Some(sent) = self.drain.awaiting_pkid.pop_front() else {
                    tracing::error!("mqtt: publish {pkid} that was not ours");
                    return;
                };
                self.status.published.fetch_add(1, Ordering::Relaxed);
                if pkid == 0 {
                    // QoS 0: gone once written; nothing will acknowledge it.
                    self.acked(sent);
                } else {
                    self.drain.awaiting_ack.insert(pkid, sent);
                }
            }
            Ev::PubAck {
                pkid,
                refused: None,
            } => {
                if let Some(sent) = self.drain.awaiting_ack.remove(&pkid) {
                    self.acked(sent);
                }
            }
            Ev::PubAck {
                pkid,
                refused: Some(reason),
            } => {
                // MQTT 5: the broker did not take it. A durable message stays in the
                // outbox and goes again with the next connection; never lost.
                let sent = self.drain.awaiting_ack.remove(&pkid);
                tracing::error!(
                    ?sent,
                    "mqtt 5: the broker refused a message, reason code {reason}; it stays \
                     in the outbox"
                );
                if let Some(Sent::Resent) = sent {
                    self.acked(Sent::Resent);
                }
            }
            Ev::Publish { topic, payload } => {
                if topic == self.topics.commands {
                    let _ = self.store.send(StoreReq::Command(payload));
                } else {
                    tracing::debug!(%topic, "mqtt: message on an unexpected topic");
                }
            }
            Ev::SubAckRefused(reason) => {
                tracing::warn!("mqtt: the broker refused the commands subscription: {reason}");
            }
            Ev::ServerDisconnect(reason) => {
                tracing::warn!("mqtt 5: the broker closes the connection, reason code {reason}");
            }
            Ev::ConnAck { .. } | Ev::OutgoingDisconnect | Ev::Other => {}
        }
        self.status
            .in_flight
            .store(self.drain.in_flight() as u64, Ordering::Relaxed);
    }

    fn acked(&mut self, sent: Sent) {
        match sent {
            Sent::Resent => {
                self.drain.resent_in_flight = self.drain.resent_in_flight.saturating_sub(1);
            }
            Sent::Durable(seq) => {
                self.status.acknowledged.fetch_add(1, Ordering::Relaxed);
                self.drain.acked_seqs.push(seq);
            }
            Sent::Telemetry(id) => {
                self.status.acknowledged.fetch_add(1, Ordering::Relaxed);
                self.drain.telemetry_out.remove(&id);
                self.drain.telemetry_acked_since_fetch.insert(id);
                self.drain.acked_telemetry.push(id);
            }
            Sent::Status => {}
        }
    }

    fn flush_acks(&mut self) {
        let d = &mut self.drain;
        if d.acked_seqs.is_empty() && d.acked_telemetry.is_empty() {
            return;
        }
        let _ = self.store.send(StoreReq::Acked {
            seqs: std::mem::take(&mut d.acked_seqs),
            telemetry: std::mem::take(&mut d.acked_telemetry),
        });
    }

    fn reply(
        &mut self,
        reply: Option<StoreReply>,
        session: Option<&Session>,
    ) -> Result<(), UplinkError> {
        let Some(reply) = reply else {
            return Err(UplinkError::StoreGone);
        };
        let d = &mut self.drain;
        match reply {
            StoreReply::Failed(e) => return Err(UplinkError::Store(e)),
            StoreReply::Durable { epoch, rows } if epoch == d.epoch => {
                d.durable_fetching = false;
                d.durable_done = rows.len() < PAGE && !d.durable_woken;
                d.durable_woken = false;
                if let Some(last) = rows.last() {
                    d.durable_after = last.seq;
                }
                let taken = &d.urgent_taken;
                d.durable
                    .extend(rows.into_iter().filter(|m| !taken.contains(&m.seq)));
                let after = d.durable_after;
                d.urgent_taken.retain(|&s| s > after);
            }
            StoreReply::Urgent { epoch, rows } if epoch == d.epoch => {
                d.urgent_fetching = false;
                // Rows a page has read meanwhile are in the read-ahead already.
                let after = d.durable_after;
                let ahead: Vec<PendingMessage> = rows
                    .into_iter()
                    .filter(|m| m.seq > after && d.urgent_taken.insert(m.seq))
                    .collect();
                if !ahead.is_empty() {
                    tracing::info!(
                        seqs = ?ahead.iter().map(|m| m.seq).collect::<Vec<_>>(),
                        "mqtt: urgent alerts go ahead of the backlog"
                    );
                }
                for m in ahead.into_iter().rev() {
                    d.durable.push_front(m);
                }
            }
            StoreReply::Telemetry { epoch, rows } if epoch == d.epoch => {
                d.telemetry_fetching = false;
                if d.telemetry_restart {
                    d.telemetry_restart = false;
                    d.telemetry_before = i64::MAX;
                    d.telemetry.clear();
                    d.telemetry_done = false;
                } else {
                    d.telemetry_done = rows.len() < PAGE;
                    if let Some(last) = rows.last() {
                        d.telemetry_before = last.id;
                    }
                    let (out, acked) = (&d.telemetry_out, &d.telemetry_acked_since_fetch);
                    d.telemetry.extend(
                        rows.into_iter()
                            .filter(|t| !out.contains(&t.id) && !acked.contains(&t.id)),
                    );
                }
            }
            StoreReply::Durable { .. }
            | StoreReply::Telemetry { .. }
            | StoreReply::Urgent { .. } => {}
            StoreReply::Forward(cmd) => {
                if let Err(e) = self.commands.try_send(cmd) {
                    let (cmd, error) = match e {
                        mpsc::error::TrySendError::Full(c) => (c, "agent busy; try again"),
                        mpsc::error::TrySendError::Closed(c) => (c, "agent shutting down"),
                    };
                    let _ = self.store.send(StoreReq::CommandFailed {
                        id: cmd.id().to_owned(),
                        error: error.into(),
                    });
                }
            }
            StoreReply::Enqueued => self.on_wake(),
            StoreReply::ResendQueued => self.resend.more = true,
            StoreReply::Resend { rows, more } => {
                let r = &mut self.resend;
                r.fetching = false;
                r.more = more;
                r.buf.extend(rows);
                r.buffered.store(r.buf.len(), Ordering::Relaxed);
            }
        }
        if let Some(s) = session {
            self.fill(s)?;
        }
        Ok(())
    }

    /// Publishes from the buffers up to the window, and asks for the next pages.
    fn fill(&mut self, session: &Session) -> Result<(), UplinkError> {
        let window = self.settings.window();
        loop {
            let d = &mut self.drain;
            if d.in_flight() >= window {
                break;
            }
            if let Some(m) = next_durable(&mut d.durable) {
                let topic = Topics::of(m.kind, &self.topics).to_owned();
                session.client.try_publish(
                    topic,
                    QoS::AtLeastOnce,
                    false,
                    m.payload.into_bytes(),
                )?;
                d.awaiting_pkid.push_back(Sent::Durable(m.seq));
                continue;
            }
            // Copies for `resend` and telemetry wait until the live stream has caught up.
            if !d.durable_done || d.durable_fetching {
                break;
            }
            if !self.resend.buf.is_empty() {
                if d.resent_in_flight >= (window / 2).max(1) || !self.resend.take() {
                    break;
                }
                if let Some(m) = self.resend.buf.pop_front() {
                    self.resend
                        .buffered
                        .store(self.resend.buf.len(), Ordering::Relaxed);
                    let topic = Topics::of(m.kind, &self.topics).to_owned();
                    session.client.try_publish(
                        topic,
                        QoS::AtLeastOnce,
                        false,
                        m.payload.into_bytes(),
                    )?;
                    d.awaiting_pkid.push_back(Sent::Resent);
                    d.resent_in_flight += 1;
                }
                continue;
            }
            if self.resend.more {
                // Telemetry waits for the rest of the resend too.
                break;
            }
            let Some(t) = d.telemetry.pop_front() else {
                break;
            };
            session.client.try_publish(
                self.topics.telemetry.clone(),
                self.settings.telemetry_qos,
                false,
                t.payload.into_bytes(),
            )?;
            d.telemetry_out.insert(t.id);
            d.awaiting_pkid.push_back(Sent::Telemetry(t.id));
        }
        let r = &mut self.resend;
        if r.more && !r.fetching && r.buf.len() < RESEND_PAGE / 2 {
            r.fetching = true;
            let _ = self.store.send(StoreReq::ResendPage { max: RESEND_PAGE });
        }
        let d = &mut self.drain;
        if d.urgent_wanted && !d.urgent_fetching {
            d.urgent_wanted = false;
            d.urgent_fetching = true;
            let _ = self.store.send(StoreReq::Urgent {
                epoch: d.epoch,
                after: d.durable_after,
            });
        }
        let d = &mut self.drain;
        if d.durable.len() < PAGE && !d.durable_fetching && !d.durable_done {
            // Deletes queued so far go first (the store thread keeps order).
            self.flush_acks();
            let d = &mut self.drain;
            d.durable_fetching = true;
            let _ = self.store.send(StoreReq::Durable {
                epoch: d.epoch,
                after: d.durable_after,
            });
        }
        let d = &mut self.drain;
        if d.durable_done
            && d.durable.is_empty()
            && d.telemetry.len() < PAGE
            && !d.telemetry_fetching
            && !d.telemetry_done
        {
            self.flush_acks();
            let d = &mut self.drain;
            // Deletes flushed so far are done before this read (the store keeps order).
            d.telemetry_acked_since_fetch.clear();
            d.telemetry_fetching = true;
            let _ = self.store.send(StoreReq::Telemetry {
                epoch: d.epoch,
                before: d.telemetry_before,
            });
        }
        self.status
            .in_flight
            .store(self.drain.in_flight() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Clean shutdown: retained `offline`, then DISCONNECT (so the will is not sent).
    async fn goodbye(&mut self, mut session: Session) {
        let offline = Status::new(LinkState::Offline, Utc::now()).to_json();
        let queued = session
            .client
            .try_publish(
                self.topics.status.clone(),
                QoS::AtLeastOnce,
                true,
                offline.into_bytes(),
            )
            .is_ok();
        if queued {
            self.drain.awaiting_pkid.push_back(Sent::Status);
        }
        if !session.client.try_disconnect() {
            return;
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while let Ok((el, Ok(ev))) = tokio::time::timeout_at(deadline, &mut session.poll).await {
            let done = matches!(ev, Ev::OutgoingDisconnect);
            self.on_event(ev);
            if done {
                break;
            }
            session.poll = poll_once(el);
        }
        tracing::info!("mqtt: disconnected");
    }
}

/// Sleeps until `at`, or forever when there is none.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The next durable message to send from the read-ahead buffer (up to two pages, in `seq`
/// order): alerts first, then command results, then summaries, each in `seq` order. A
/// backlog therefore delivers its alerts before the summary queued ahead of them, while
/// every message still carries its own `seq` (the platform sees no gap once all arrive).
fn next_durable(q: &mut VecDeque<PendingMessage>) -> Option<PendingMessage> {
    let rank = |k: Kind| match k {
        Kind::Alert => 0,
        Kind::CommandResult => 1,
        Kind::Summary => 2,
    };
    match q.front() {
        None => None,
        Some(m) if m.kind == Kind::Alert => q.pop_front(),
        Some(_) => {
            let best = q
                .iter()
                .enumerate()
                .min_by_key(|(i, m)| (rank(m.kind), *i))
                .map(|(i, _)| i)?;
            q.remove(best)
        }
    }
}
