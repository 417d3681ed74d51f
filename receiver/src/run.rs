//! The receiver at work: one MQTT subscription, every message stored before it is
//! acknowledged, and a tick that asks the agents for what is missing, one request at a time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use serde_json::{json, Value};
use tokio_postgres::Client;

use crate::envelope::{oldest_held, parse_envelope, parse_topic, Channel};
use crate::ranges::{subtract, Range};
use crate::store::{self, Stored};

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    /// `childcare/v1` by default (contract section 6).
    pub prefix: String,
    /// Subscribe as `$share/{group}/{prefix}/#`, so receivers of one group split the load.
    pub share_group: Option<String>,
    pub clean_session: bool,
    pub database: String,
    pub http: Option<SocketAddr>,
    /// How long a hole must have been there before it is asked for.
    pub grace: Duration,
    /// How long a request may go unfilled before it is asked again.
    pub resend_timeout: Duration,
    /// The most seqs one request asks for.
    pub max_range: i64,
    /// Requests for one gap that time out or are refused before it is given up as lost.
    pub max_attempts: i64,
    pub tick: Duration,
}

impl Settings {
    pub fn filter(&self) -> String {
        match &self.share_group {
            Some(g) => format!("$share/{g}/{}/#", self.prefix),
            None => format!("{}/#", self.prefix),
        }
    }
}

/// Runs until SIGTERM or Ctrl-C; an error from the database ends it (nothing is
/// acknowledged that was not stored, so the broker keeps it for the next start).
pub async fn run(s: Settings) -> anyhow::Result<()> {
    let db = Arc::new(store::connect(&s.database).await?);
    if let Some(addr) = s.http {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        println!("http http://{}/report", listener.local_addr()?);
        let app = crate::http::router(db.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("report server ended: {e}");
            }
        });
    }

    let mut o = MqttOptions::new(&s.client_id, &s.host, s.port);
    o.set_clean_session(s.clean_session);
    o.set_manual_acks(true);
    o.set_keep_alive(Duration::from_secs(10));
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(o, 256);
    let filter = s.filter();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Publish>(256);
    let sub_client = client.clone();
    let sub_filter = filter.clone();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p).await.is_err() {
                        break;
                    }
                }
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    // After every connection: a broker that lost the session lost the
                    // subscription with it.
                    if let Err(e) = sub_client.try_subscribe(&sub_filter, QoS::AtLeastOnce) {
                        tracing::error!("subscribing to {sub_filter}: {e}");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    println!("subscribed {sub_filter}");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("MQTT: {e}; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });

    let mut tick = tokio::time::interval(s.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            p = rx.recv() => {
                let Some(p) = p else { break };
                handle(&db, &s, &p).await?;
                client.ack(&p).await.context("acknowledging a message")?;
            }
            _ = tick.tick() => pace(&db, &client, &s).await?,
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let _ = client.disconnect().await;
    Ok(())
}

/// Stores one message as its topic says; what cannot be taken is kept in `rejected`.
pub async fn handle(db: &Client, s: &Settings, p: &Publish) -> anyhow::Result<()> {
    let payload = &p.payload[..];
    let (facility, channel) = match parse_topic(&s.prefix, &p.topic) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("rejected: {e}");
            return store::reject(db, None, &p.topic, payload, &e).await;
        }
    };
    match channel {
        Channel::Commands => Ok(()),
        Channel::Status | Channel::Telemetry => {
            if payload.is_empty() && channel == Channel::Status {
                return Ok(()); // a retained status being cleared
            }
            match serde_json::from_slice::<Value>(payload) {
                Ok(v @ Value::Object(_)) if channel == Channel::Status => {
                    store::status(db, facility, &v).await
                }
                Ok(v @ Value::Object(_)) => store::telemetry(db, facility, &v).await,
                Ok(_) => {
                    store::reject(db, Some(facility), &p.topic, payload, "not a JSON object").await
                }
                Err(e) => {
                    let e = format!("not JSON: {e}");
                    store::reject(db, Some(facility), &p.topic, payload, &e).await
                }
            }
        }
        _ => match parse_envelope(facility, channel, payload) {
            Err(e) => {
                tracing::warn!("rejected on {}: {e}", p.topic);
                store::reject(db, Some(facility), &p.topic, payload, &e).await
            }
            Ok(e) => {
                match store::store_envelope(db, &s.client_id, &p.topic, &e, payload).await? {
                    Stored::Conflict { stored_id } => tracing::warn!(
                        "{} seq {}: id {:?} but {:?} is stored; kept as a conflict",
                        e.facility,
                        e.seq,
                        e.id,
                        stored_id
                    ),
                    Stored::Duplicate | Stored::New => {}
                }
                if channel == Channel::CommandResults {
                    answer(db, s, &e.facility, &e.body).await?;
                }
                Ok(())
            }
        },
    }
}

/// A command result that answers one of our resend requests: recorded, and what the agent
/// says it no longer holds is marked lost, so it is not asked for again.
async fn answer(db: &Client, s: &Settings, facility: &str, body: &Value) -> anyhow::Result<()> {
    let Some(command_id) = body["command_id"].as_str() else {
        return Ok(());
    };
    let ok = body["ok"].as_bool().unwrap_or(false);
    let Some(r) = store::answer_resend(db, command_id, ok, body).await? else {
        return Ok(());
    };
    if r.facility != facility {
        tracing::warn!(
            "{command_id} was sent to {} but answered by {facility}",
            r.facility
        );
    }
    println!("answer {} {command_id} {body}", r.facility);
    if !ok {
        store::close_resend(db, command_id, "refused").await?;
        let failed = store::failed_attempts(db, &r.facility, r.from).await?;
        if failed >= s.max_attempts {
            let reason = format!(
                "refused {failed} times, last: {}",
                body["error"].as_str().unwrap_or("no error given")
            );
            store::mark_unrecoverable(db, &r.facility, Range::new(r.from, r.to), &reason).await?;
        }
        return Ok(());
    }
    if let Some(oldest) = oldest_held(body) {
        if oldest > r.from {
            let lost = Range::new(r.from, (oldest - 1).min(r.to));
            let reason = format!("no longer held by the agent (oldest held: {oldest})");
            store::mark_unrecoverable(db, &r.facility, lost, &reason).await?;
        }
    }
    Ok(())
}

/// Once per tick and facility: closes the outstanding request when its range is filled or
/// it timed out, else asks for the first ripe gap (at most `max_range` seqs).
pub async fn pace(db: &Client, mqtt: &AsyncClient, s: &Settings) -> anyhow::Result<()> {
    for f in store::facilities(db).await? {
        let lost: Vec<Range> = store::unrecoverable(db, &f)
            .await?
            .iter()
            .map(|u| Range::new(u.from, u.to))
            .collect();
        let holes = store::holes(db, &f, s.grace.as_secs_f64()).await?;
        let all: Vec<Range> = holes.iter().map(|h| h.range).collect();
        let open = subtract(&all, &lost);
        let timeout = chrono::Duration::from_std(s.resend_timeout)?;
        if let Some(r) = store::outstanding(db, &f).await? {
            let asked = Range::new(r.from, r.to);
            let still: Vec<Range> = open
                .iter()
                .filter(|g| g.to >= asked.from && g.from <= asked.to)
                .map(|g| Range::new(g.from.max(asked.from), g.to.min(asked.to)))
                .collect();
            if still.is_empty() {
                store::close_resend(db, &r.command_id, "filled").await?;
                println!("filled {f} {asked} {}", r.command_id);
            } else if Utc::now() - r.sent_at > timeout {
                store::close_resend(db, &r.command_id, "timed out").await?;
                let failed = store::failed_attempts(db, &f, r.from).await?;
                println!("timed out {f} {asked} {} (attempt {failed})", r.command_id);
                if failed >= s.max_attempts {
                    let reason = format!("not resent after {failed} requests");
                    for g in still {
                        store::mark_unrecoverable(db, &f, g, &reason).await?;
                    }
                }
            }
            continue;
        }
        if store::state(db, &f).await?.as_deref() == Some("offline") {
            continue;
        }
        if let Some(last) = store::last_resend(db, &f).await? {
            if last.outcome.as_deref() == Some("refused") && Utc::now() - last.sent_at < timeout {
                continue;
            }
        }
        let ripe: Vec<Range> = holes.iter().filter(|h| h.ripe).map(|h| h.range).collect();
        let Some(gap) = subtract(&ripe, &lost).first().copied() else {
            continue;
        };
        let range = gap.first(s.max_range);
        let command_id = format!(
            "rcv-{}-{:08x}",
            Utc::now().timestamp_millis(),
            rand::random::<u32>()
        );
        if !store::open_resend(db, &command_id, &f, range).await? {
            continue; // another receiver sharing the database asked first
        }
        let command = json!({"id": command_id, "command": "resend",
                             "from_seq": range.from, "to_seq": range.to});
        mqtt.publish(
            format!("{}/{f}/commands", s.prefix),
            QoS::AtLeastOnce,
            false,
            command.to_string(),
        )
        .await
        .context("publishing a resend")?;
        println!("resend {f} {range} {command_id}");
    }
    Ok(())
}
