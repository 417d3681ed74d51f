//! The MQTT uplink against a real broker (started by each test on free ports): delivery in
//! `seq` order through outages, the storage cap, status and last will, hostile commands, and
//! mutual TLS. Every scenario but TLS (Mosquitto's listener configuration) runs once per
//! broker: `mosquitto::…`, `nats::…`, `rabbitmq::…` (see `per_broker!`).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use nursery_agent::outbox::{self, Cap, Kind};
use nursery_agent::uplink::{self, Command, TlsMaterial, UplinkSettings, UplinkStatus};
use nursery_agent_tests::broker::{self, Broker, Collector, Kind as BrokerKind, Seen};
use nursery_testkit::{Room, Roster};
use rumqttc::QoS;
use rusqlite::Connection;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

const FACILITY: &str = "310115-0042";
const PREFIX: &str = "test/v1";
const WITHIN: Duration = Duration::from_secs(30);

fn cap(max_bytes: u64) -> Cap {
    Cap {
        max_bytes,
        tz: chrono_tz::Asia::Shanghai,
    }
}

fn settings(port: u16) -> UplinkSettings {
    UplinkSettings {
        host: "127.0.0.1".into(),
        port,
        client_id: format!("agent-{port}"),
        facility: FACILITY.into(),
        topic_prefix: PREFIX.into(),
        tls: None,
        credentials: None,
        keep_alive: Duration::from_secs(5),
        max_inflight: 16,
        telemetry_qos: QoS::AtLeastOnce,
        command_max_bytes: 4096,
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(400),
        keep_sent: Duration::from_secs(30 * 24 * 3600),
        resend_per_second: 500,
        mqtt5: false,
        cap: cap(64 << 20),
    }
}

/// The daemon's side of the outbox: its own connection, one transaction per batch.
struct Core {
    conn: Connection,
    wake: Arc<Notify>,
    cap: Cap,
}

impl Core {
    fn open(db: &Path, cap: Cap) -> Core {
        let conn = Connection::open(db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.busy_timeout(Duration::from_secs(30)).unwrap();
        outbox::migrate(&conn).unwrap();
        Core {
            conn,
            wake: Arc::new(Notify::new()),
            cap,
        }
    }

    fn alerts(&mut self, ids: impl IntoIterator<Item = String>) -> Vec<outbox::Enqueued> {
        let tx = self.conn.transaction().unwrap();
        let out = ids
            .into_iter()
            .map(|id| {
                outbox::enqueue(
                    &tx,
                    FACILITY,
                    Kind::Alert,
                    &id,
                    Utc::now(),
                    &serde_json::json!({"type": "door_forced", "subject": "entrance", "alert_id": id}),
                    &self.cap,
                )
                .unwrap()
            })
            .collect();
        tx.commit().unwrap();
        self.wake.notify_one();
        out
    }

    fn telemetry(&mut self, n: u64) -> outbox::Enqueued {
        let tx = self.conn.transaction().unwrap();
        let e = outbox::enqueue_telemetry(
            &tx,
            Utc::now(),
            &serde_json::json!({"n": n, "rooms": [{"room": "infant", "children": 3}]}),
            &self.cap,
        )
        .unwrap();
        tx.commit().unwrap();
        self.wake.notify_one();
        e
    }

    fn stats(&self) -> outbox::OutboxStats {
        outbox::stats(&self.conn).unwrap()
    }
}

/// A running uplink task and what it was given.
struct Running {
    task: tokio::task::JoinHandle<Result<(), uplink::UplinkError>>,
    shutdown: CancellationToken,
    status: Arc<UplinkStatus>,
    commands: mpsc::Receiver<Command>,
}

fn spawn(settings: UplinkSettings, db: PathBuf, wake: Arc<Notify>) -> Running {
    let shutdown = CancellationToken::new();
    let status = UplinkStatus::new(Utc::now());
    let (tx, rx) = mpsc::channel(8);
    let task = tokio::spawn(uplink::run(
        settings,
        db,
        wake,
        tx,
        status.clone(),
        shutdown.clone(),
    ));
    Running {
        task,
        shutdown,
        status,
        commands: rx,
    }
}

fn ids(n: std::ops::Range<u32>, tag: &str) -> Vec<String> {
    n.map(|i| format!("{tag}-{i:06}")).collect()
}

/// (seq, id) of every envelope seen on `alerts`, in arrival order.
fn envelopes(seen: &[Seen]) -> Vec<(u64, String)> {
    seen.iter()
        .filter(|m| m.topic == format!("{PREFIX}/{FACILITY}/alerts"))
        .map(|m| {
            let v = m.json();
            (
                v["seq"].as_u64().expect("an envelope with a seq"),
                v["id"].as_str().expect("an envelope with an id").to_owned(),
            )
        })
        .collect()
}

fn distinct_seqs(seen: &[Seen]) -> usize {
    envelopes(seen)
        .into_iter()
        .map(|(s, _)| s)
        .collect::<HashSet<_>>()
        .len()
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WITHIN;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_backlog_waits_for_an_absent_broker_then_arrives_in_seq_order(kind: BrokerKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let mut core = Core::open(&db, cap(64 << 20));
    core.alerts(ids(0..500, "a"));

    // The subscriber's persistent session is made first, so it misses nothing later.
    let mut broker = Broker::start_kind(kind);
    let port = broker.port;
    let sub = Collector::start(port, &format!("{PREFIX}/#")).await;
    broker.stop();

    let up = spawn(settings(port), db.clone(), core.wake.clone());
    // The uplink is retrying against nothing; the outbox keeps everything.
    core.alerts(ids(500..700, "a"));
    assert!(!up.status.is_connected());
    assert_eq!(core.stats().durable_pending, 700);

    broker.start_again();
    sub.wait_until(WITHIN, |s| distinct_seqs(s) == 700).await;

    let env = envelopes(&sub.seen());
    let seqs: Vec<u64> = env.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=700).collect::<Vec<_>>(),
        "in seq order, once each"
    );
    assert_eq!(env[0].1, "a-000000");
    assert_eq!(env[699].1, "a-000699");
    let first = sub.on("/alerts")[0].json();
    assert_eq!(first["schema"], "nursery-agent/1");
    assert_eq!(first["facility"], FACILITY);
    assert_eq!(first["kind"], "alert");
    assert_eq!(first["body"]["type"], "door_forced");

    wait_for("the outbox to empty on PUBACKs", || {
        core.stats().durable_pending == 0
    })
    .await;
    up.shutdown.cancel();
    up.task.await.unwrap().unwrap();
}

async fn a_broker_restart_mid_drain_loses_nothing_and_duplicates_keep_their_id(kind: BrokerKind) {
    let missing = restart_mid_drain(kind).await;
    assert_eq!(missing, Vec::<u64>::new(), "no gap");
}

/// NATS 2.9's MQTT gateway, stopped (SIGTERM) while a persistent session is receiving, can
/// lose QoS 1 messages it had already acknowledged to the agent (README, "Brokers"). What the
/// agent owes still holds: everything acknowledged, nothing left in its outbox, a duplicate
/// always with its id, and what the broker lost lies before seq 6001 (the alerts queued while
/// it was down all arrive) and below the last seq received, so the platform sees it as a gap
/// and can ask for it again.
async fn a_nats_restart_mid_drain_leaves_nothing_unacknowledged_and_what_the_broker_loses_is_a_gap_before_the_outage_backlog(
    kind: BrokerKind,
) {
    let missing = restart_mid_drain(kind).await;
    eprintln!(
        "{}: {} of 6500 seqs lost by the broker, from {:?} to {:?}",
        kind.name(),
        missing.len(),
        missing.first(),
        missing.last()
    );
    assert!(
        missing.iter().all(|s| *s <= 6000),
        "lost after the restart: {missing:?}"
    );
}

/// 6,000 alerts draining 4 at a time, the broker stopped mid-drain, 500 more queued while it
/// is away, the broker started again. Checks what must hold on every broker (the outbox
/// drains on PUBACKs, seq 6500 arrives, a seq seen twice has the same id, nothing beyond
/// 6500) and returns the seqs the platform never received.
async fn restart_mid_drain(kind: BrokerKind) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let mut core = Core::open(&db, cap(64 << 20));
    core.alerts(ids(0..6000, "a"));

    let mut broker = Broker::start_kind(kind);
    let sub = Collector::start(broker.port, &format!("{PREFIX}/#")).await;
    let mut narrow = settings(broker.port);
    narrow.max_inflight = 4;
    let up = spawn(narrow, db.clone(), core.wake.clone());

    sub.wait_until(WITHIN, |s| distinct_seqs(s) >= 200).await;
    broker.stop();
    let pending = core.stats().durable_pending;
    assert!(
        pending > 0 && pending < 6000,
        "stopped mid-drain ({pending} left)"
    );
    wait_for("the uplink to notice", || !up.status.is_connected()).await;
    // More alerts while the broker is away.
    for chunk in 0..5 {
        core.alerts(ids(6000 + chunk * 100..6100 + chunk * 100, "b"));
    }
    broker.start_again();
    wait_for("the outbox to drain after the restart", || {
        core.stats().durable_pending == 0
    })
    .await;
    // The last seq, then quiet: a resumed NATS session gets what was unacknowledged at the
    // stop again only after the broker's ack_wait (2 s here).
    sub.wait_until(WITHIN, |s| envelopes(s).iter().any(|(seq, _)| *seq == 6500))
        .await;
    let mut count = sub.seen().len();
    while distinct_seqs(&sub.seen()) < 6500 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let now = sub.seen().len();
        if now == count {
            break;
        }
        count = now;
    }

    let mut by_seq: BTreeMap<u64, String> = BTreeMap::new();
    for (seq, id) in envelopes(&sub.seen()) {
        if let Some(before) = by_seq.insert(seq, id.clone()) {
            assert_eq!(before, id, "a duplicate of seq {seq} carries the same id");
        }
    }
    assert_eq!(
        by_seq.keys().next_back(),
        Some(&6500),
        "nothing beyond 6500"
    );
    wait_for("the outbox to empty", || core.stats().durable_pending == 0).await;
    assert!(up.status.snapshot(Utc::now()).connects >= 2);
    up.shutdown.cancel();
    up.task.await.unwrap().unwrap();
    (1..=6500).filter(|s| !by_seq.contains_key(s)).collect()
}

async fn over_the_cap_telemetry_is_dropped_and_counted_but_no_alert_is(kind: BrokerKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    // Room for roughly 20 telemetry rows of ~60 bytes besides the alerts.
    let mut core = Core::open(&db, cap(u64::MAX));
    core.alerts(ids(0..10, "a"));
    let alert_bytes = core.stats().bytes;
    core.cap = cap(alert_bytes + 1200);
    let mut dropped = 0;
    for n in 0..100 {
        dropped += core.telemetry(n).telemetry_dropped;
    }
    assert!(dropped > 50, "dropped {dropped}");
    let e = core.alerts(ids(10..40, "a"));
    assert!(
        e.last().unwrap().pressure,
        "only alerts left and still over the cap"
    );
    let stats = core.stats();
    assert_eq!(stats.durable_pending, 40);
    assert_eq!(stats.telemetry_pending, 0);
    assert_eq!(stats.telemetry_dropped, 100);
    let day = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    assert_eq!(
        outbox::day_stats(&core.conn, day)
            .unwrap()
            .telemetry_dropped,
        100
    );

    // Telemetry that fits is kept again once the alerts have left.
    let broker = Broker::start_kind(kind);
    let sub = Collector::start(broker.port, &format!("{PREFIX}/#")).await;
    let up = spawn(settings(broker.port), db.clone(), core.wake.clone());
    sub.wait_until(WITHIN, |s| distinct_seqs(s) == 40).await;
    wait_for("the alerts to be acknowledged", || {
        core.stats().durable_pending == 0
    })
    .await;
    for n in 100..105 {
        assert_eq!(core.telemetry(n).telemetry_dropped, 0);
    }
    let seen = sub
        .wait_until(WITHIN, |s| {
            s.iter().filter(|m| m.topic.ends_with("/telemetry")).count() == 5
        })
        .await;
    let alerts: Vec<u64> = envelopes(&seen).into_iter().map(|(s, _)| s).collect();
    assert_eq!(alerts, (1..=40).collect::<Vec<_>>());
    up.shutdown.cancel();
    up.task.await.unwrap().unwrap();
}

async fn during_catch_up_alerts_go_first_and_telemetry_newest_first(kind: BrokerKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let mut core = Core::open(&db, cap(64 << 20));
    for n in 0..20 {
        core.telemetry(n);
        core.alerts(ids(n as u32..n as u32 + 1, "a"));
    }
    let broker = Broker::start_kind(kind);
    let sub = Collector::start(broker.port, &format!("{PREFIX}/#")).await;
    let up = spawn(settings(broker.port), db.clone(), core.wake.clone());
    let seen = sub
        .wait_until(WITHIN, |s| {
            s.iter().filter(|m| m.topic.ends_with("/telemetry")).count() == 20
        })
        .await;
    let data: Vec<&Seen> = seen
        .iter()
        .filter(|m| !m.topic.ends_with("/status"))
        .collect();
    assert!(data[..20].iter().all(|m| m.topic.ends_with("/alerts")));
    let tele: Vec<u64> = data[20..]
        .iter()
        .map(|m| m.json()["n"].as_u64().unwrap())
        .collect();
    assert_eq!(tele, (0..20).rev().collect::<Vec<_>>());
    up.shutdown.cancel();
    up.task.await.unwrap().unwrap();
}

async fn during_catch_up_alerts_overtake_a_summary_queued_before_them_and_every_seq_arrives(
    kind: BrokerKind,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let mut core = Core::open(&db, cap(64 << 20));
    core.alerts(ids(0..2, "early"));
    {
        let tx = core.conn.transaction().unwrap();
        outbox::enqueue(
            &tx,
            FACILITY,
            Kind::Summary,
            "summary:2026-03-02",
            Utc::now(),
            &serde_json::json!({"date": "2026-03-02"}),
            &core.cap,
        )
        .unwrap();
        tx.commit().unwrap();
    }
    core.alerts(ids(0..5, "late"));
    let broker = Broker::start_kind(kind);
    let sub = Collector::start(broker.port, &format!("{PREFIX}/#")).await;
    let up = spawn(settings(broker.port), db.clone(), core.wake.clone());
    let seen = sub
        .wait_until(WITHIN, |s| {
            s.iter().filter(|m| !m.topic.ends_with("/status")).count() == 8
        })
        .await;
    let data: Vec<&Seen> = seen
        .iter()
        .filter(|m| !m.topic.ends_with("/status"))
        .collect();
    assert!(data[..7].iter().all(|m| m.topic.ends_with("/alerts")));
    assert!(data[7].topic.ends_with("/summaries/daily"));
    assert_eq!(data[7].json()["seq"], 3, "the summary keeps its seq");
    let mut seqs: Vec<u64> = data
        .iter()
        .map(|m| m.json()["seq"].as_u64().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    up.shutdown.cancel();
    up.task.await.unwrap().unwrap();
}

async fn status_is_retained_online_and_the_will_says_offline_when_the_link_dies(kind: BrokerKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let core = Core::open(&db, cap(64 << 20));
    let broker = Broker::start_kind(kind);
    let up = spawn(settings(broker.port), db.clone(), core.wake.clone());
    wait_for("connected", || up.status.is_connected()).await;

    // A subscriber arriving later still gets `online`, retained.
    let status_topic = format!("{PREFIX}/{FACILITY}/status");
    // (One that subscribes while the status is still on its way gets it live, not
    // retained: the one after it must get it retained.)
    let mut late = Collector::start(broker.port, &status_topic).await;
    let mut seen = late.wait_until(WITHIN, |s| !s.is_empty()).await;
    if !seen[0].retain {
        late = Collector::start(broker.port, &status_topic).await;
        seen = late.wait_until(WITHIN, |s| !s.is_empty()).await;
    }
    assert!(seen[0].retain, "a late subscriber gets the status retained");
    let online = seen[0].json();
    assert_eq!(online["state"], "online");
    assert_eq!(online["version"], env!("CARGO_PKG_VERSION"));
    assert!(chrono::DateTime::parse_from_rfc3339(online["since"].as_str().unwrap()).is_ok());

    // The task dies without DISCONNECT: the broker publishes the will.
    up.task.abort();
    let seen = late
        .wait_until(WITHIN, |s| s.iter().any(|m| m.json()["state"] == "offline"))
        .await;
    let offline = seen.last().unwrap().json();
    assert_eq!(offline["state"], "offline");
    assert_eq!(offline["version"], env!("CARGO_PKG_VERSION"));
    let later = Collector::start(broker.port, &status_topic).await;
    let seen = later.wait_until(WITHIN, |s| !s.is_empty()).await;
    assert!(seen[0].retain);
    assert_eq!(seen[0].json()["state"], "offline", "the will is retained");
}

async fn a_clean_shutdown_publishes_offline_retained_and_returns_ok(kind: BrokerKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let core = Core::open(&db, cap(64 << 20));
    let broker = Broker::start_kind(kind);
    let sub = Collector::start(broker.port, &format!("{PREFIX}/{FACILITY}/status")).await;
    let up = spawn(settings(broker.port), db.clone(), core.wake.clone());
    sub.wait_until(WITHIN, |s| s.iter().any(|m| m.json()["state"] == "online"))
        .await;
    up.shutdown.cancel();
    up.task.await.unwrap().unwrap();
    let seen = sub
        .wait_until(WITHIN, |s| s.iter().any(|m| m.json()["state"] == "offline"))
        .await;
    assert_eq!(
        seen.iter()
            .filter(|m| m.json()["state"] == "offline")
            .count(),
        1
    );
    assert!(!up.status.is_connected());
}

async fn hostile_commands_get_error_results_or_are_ignored_and_the_link_lives_on(kind: BrokerKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let mut core = Core::open(&db, cap(64 << 20));
    let broker = Broker::start_kind(kind);
    let sub = Collector::start(broker.port, &format!("{PREFIX}/#")).await;
    let mut up = spawn(settings(broker.port), db.clone(), core.wake.clone());
    wait_for("connected", || up.status.is_connected()).await;
    // The commands subscription is made right after CONNACK; wait for the status that
    // follows it so commands published now are not lost.
    sub.wait_until(WITHIN, |s| s.iter().any(|m| m.topic.ends_with("/status")))
        .await;

    let commands = format!("{PREFIX}/{FACILITY}/commands");
    let huge = format!(
        r#"{{"id":"h1","command":"snapshot","pad":"{}"}}"#,
        "x".repeat(10_000)
    );
    let hostile: Vec<Vec<u8>> = vec![
        b"\x00\xff garbage {".to_vec(),
        br#"{"command":"snapshot"}"#.to_vec(),
        br#"{"id":42,"command":"snapshot"}"#.to_vec(),
        br#"[1,2,3]"#.to_vec(),
        huge.into_bytes(),
        br#"{"id":"u1","command":"format_disk"}"#.to_vec(),
        br#"{"id":"d1","command":"resend_summary","date":"2026-02-30"}"#.to_vec(),
        br#"{"id":"d2","command":"resend_summary"}"#.to_vec(),
        br#"{"id":"n1"}"#.to_vec(),
        br#"{"id":"s1","command":"snapshot"}"#.to_vec(),
        br#"{"id":"s1","command":"snapshot"}"#.to_vec(),
        br#"{"id":"r1","command":"resend_summary","date":"2026-03-02"}"#.to_vec(),
    ];
    for p in hostile {
        sub.client
            .publish(&commands, QoS::AtLeastOnce, false, p)
            .await
            .unwrap();
    }

    let seen = sub
        .wait_until(WITHIN, |s| {
            s.iter()
                .filter(|m| m.topic.ends_with("/command-results"))
                .count()
                >= 5
        })
        .await;
    let mut results: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for m in seen
        .iter()
        .filter(|m| m.topic.ends_with("/command-results"))
    {
        let env = m.json();
        assert_eq!(env["kind"], "command_result");
        let body = env["body"].clone();
        results.insert(body["command_id"].as_str().unwrap().to_owned(), body);
    }
    assert_eq!(
        results.keys().cloned().collect::<Vec<_>>(),
        vec!["d1", "d2", "h1", "n1", "u1"]
    );
    for (id, body) in &results {
        assert_eq!(body["ok"], false, "{id}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{id}"
        );
    }
    assert!(results["h1"]["error"]
        .as_str()
        .unwrap()
        .contains("too large"));
    assert!(results["u1"]["error"]
        .as_str()
        .unwrap()
        .contains("unknown command"));

    // The valid ones reach the core, the repeated id only once.
    let first = tokio::time::timeout(WITHIN, up.commands.recv())
        .await
        .unwrap();
    let second = tokio::time::timeout(WITHIN, up.commands.recv())
        .await
        .unwrap();
    assert_eq!(first, Some(Command::Snapshot { id: "s1".into() }));
    assert_eq!(
        second,
        Some(Command::ResendSummary {
            id: "r1".into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
        })
    );

    // Still alive and delivering; and a repeated id is still ignored afterwards.
    sub.client
        .publish(
            &commands,
            QoS::AtLeastOnce,
            false,
            br#"{"id":"s1","command":"snapshot"}"#.to_vec(),
        )
        .await
        .unwrap();
    core.alerts(ids(0..1, "after"));
    let seen = sub.wait_until(WITHIN, |s| distinct_seqs(s) == 1).await;
    assert_eq!(envelopes(&seen)[0].1, "after-000000");
    assert!(!up.task.is_finished());
    assert!(up.commands.try_recv().is_err(), "no second s1");
    up.shutdown.cancel();
    up.task.await.unwrap().unwrap();
}

async fn a_command_the_core_never_answered_before_a_crash_is_acted_on_when_the_platform_retries(
    kind: BrokerKind,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let core = Core::open(&db, cap(64 << 20));
    let broker = Broker::start_kind(kind);
    let sub = Collector::start(broker.port, &format!("{PREFIX}/#")).await;
    let commands = format!("{PREFIX}/{FACILITY}/commands");
    let s1 = br#"{"id":"s1","command":"snapshot"}"#.to_vec();
    let expected = Some(Command::Snapshot { id: "s1".into() });

    // The link passes s1 on; the agent dies before the core records an answer.
    let mut up = spawn(settings(broker.port), db.clone(), core.wake.clone());
    wait_for("connected", || up.status.is_connected()).await;
    sub.client
        .publish(&commands, QoS::AtLeastOnce, false, s1.clone())
        .await
        .unwrap();
    let got = tokio::time::timeout(WITHIN, up.commands.recv())
        .await
        .unwrap();
    assert_eq!(got, expected);
    up.task.abort();
    let _ = up.task.await;

    // After the restart, the platform's retry with the same id is not ignored.
    let mut up = spawn(settings(broker.port), db.clone(), core.wake.clone());
    wait_for("connected again", || up.status.is_connected()).await;
    sub.client
        .publish(&commands, QoS::AtLeastOnce, false, s1)
        .await
        .unwrap();
    let got = tokio::time::timeout(WITHIN, up.commands.recv())
        .await
        .unwrap();
    assert_eq!(got, expected);
    up.shutdown.cancel();
    up.task.await.unwrap().unwrap();
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn make_pki(dir: &Path) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "nursery test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();

    let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &ca_cert, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_pem, server_key) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        "broker",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_pem, client_key) = leaf(vec![], FACILITY, ExtendedKeyUsagePurpose::ClientAuth);
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Pki {
        ca: write("ca.pem", &ca_cert.pem()),
        server_cert: write("server.pem", &server_pem),
        server_key: write("server.key", &server_key),
        client_cert: write("client.pem", &client_pem),
        client_key: write("client.key", &client_key),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_connects_and_delivers_and_a_client_without_a_certificate_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let pki = make_pki(certs.path());
    let tls_port = broker::free_port();
    let plain_port = broker::free_port();
    let listeners = format!(
        "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
         require_certificate true\nlistener {plain_port} 127.0.0.1\n",
        pki.ca.display(),
        pki.server_cert.display(),
        pki.server_key.display()
    );
    let broker = Broker::start_with(tls_port, &listeners);
    let sub = Collector::start(plain_port, &format!("{PREFIX}/#")).await;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let mut core = Core::open(&db, cap(64 << 20));
    core.alerts(ids(0..50, "tls"));

    // Without a client certificate the broker refuses: nothing leaves, nothing is lost.
    let mut anonymous = settings(tls_port);
    anonymous.client_id = "anonymous".into();
    anonymous.tls = Some(TlsMaterial {
        ca: std::fs::read(&pki.ca).unwrap(),
        client: None,
    });
    let refused = spawn(anonymous, db.clone(), core.wake.clone());

    let mut mutual = settings(tls_port);
    mutual.tls = Some(TlsMaterial {
        ca: std::fs::read(&pki.ca).unwrap(),
        client: Some((
            std::fs::read(&pki.client_cert).unwrap(),
            std::fs::read(&pki.client_key).unwrap(),
        )),
    });
    let up = spawn(mutual, db.clone(), core.wake.clone());
    let seen = sub.wait_until(WITHIN, |s| distinct_seqs(s) == 50).await;
    assert_eq!(envelopes(&seen)[0].1, "tls-000000");
    assert!(up.status.is_connected());
    assert!(!refused.status.is_connected());
    assert_eq!(
        refused.status.snapshot(Utc::now()).connects,
        0,
        "{}",
        broker.log()
    );
    refused.shutdown.cancel();
    refused.task.await.unwrap().unwrap();
    up.shutdown.cancel();
    up.task.await.unwrap().unwrap();
}

#[test]
fn settings_from_config_read_the_secret_files_and_never_print_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let pw = dir.path().join("password");
    std::fs::write(&pw, "s3cr3t-p4ss\n").unwrap();
    let file = Roster::new()
        .facility(FACILITY, "t")
        .room(Room::new("infant", "乳儿班"))
        .set("mqtt", "host", "broker.example")
        .set("mqtt", "port", 8883)
        .set("mqtt", "username", "agent")
        .set("mqtt", "password_file", &pw)
        .set("mqtt", "max_inflight", 32)
        .set("mqtt", "outbox_max_bytes", 1048576)
        .set("mqtt", "telemetry_qos", 1)
        .set("mqtt.tls", "ca_file", &pki.ca)
        .set("mqtt.tls", "cert_file", &pki.client_cert)
        .set("mqtt.tls", "key_file", &pki.client_key)
        .write(dir.path());
    let cfg = nursery_agent::config::load(&file).expect("a valid configuration");
    let s = UplinkSettings::from_config(&cfg).unwrap();
    assert_eq!(s.client_id, FACILITY);
    assert_eq!(s.topic("alerts"), format!("childcare/v1/{FACILITY}/alerts"));
    assert_eq!(s.max_inflight, 32);
    assert_eq!(s.cap.max_bytes, 1 << 20);
    assert_eq!(s.telemetry_qos, QoS::AtLeastOnce);
    assert!(s.tls.as_ref().unwrap().client.is_some());
    let shown = format!("{s:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    assert!(shown.contains("agent"));
}

// NATS runs its own restart-mid-drain scenario: its gateway can lose what it acknowledged.
nursery_agent_tests::per_broker!(
    mosquitto: [
        a_backlog_waits_for_an_absent_broker_then_arrives_in_seq_order,
        a_broker_restart_mid_drain_loses_nothing_and_duplicates_keep_their_id,
        over_the_cap_telemetry_is_dropped_and_counted_but_no_alert_is,
        during_catch_up_alerts_go_first_and_telemetry_newest_first,
        during_catch_up_alerts_overtake_a_summary_queued_before_them_and_every_seq_arrives,
        status_is_retained_online_and_the_will_says_offline_when_the_link_dies,
        a_clean_shutdown_publishes_offline_retained_and_returns_ok,
        hostile_commands_get_error_results_or_are_ignored_and_the_link_lives_on,
        a_command_the_core_never_answered_before_a_crash_is_acted_on_when_the_platform_retries,
    ],
    nats: [
        a_backlog_waits_for_an_absent_broker_then_arrives_in_seq_order,
        over_the_cap_telemetry_is_dropped_and_counted_but_no_alert_is,
        during_catch_up_alerts_go_first_and_telemetry_newest_first,
        during_catch_up_alerts_overtake_a_summary_queued_before_them_and_every_seq_arrives,
        status_is_retained_online_and_the_will_says_offline_when_the_link_dies,
        a_clean_shutdown_publishes_offline_retained_and_returns_ok,
        hostile_commands_get_error_results_or_are_ignored_and_the_link_lives_on,
        a_command_the_core_never_answered_before_a_crash_is_acted_on_when_the_platform_retries,
        a_nats_restart_mid_drain_leaves_nothing_unacknowledged_and_what_the_broker_loses_is_a_gap_before_the_outage_backlog,
    ],
    rabbitmq: [
        a_backlog_waits_for_an_absent_broker_then_arrives_in_seq_order,
        a_broker_restart_mid_drain_loses_nothing_and_duplicates_keep_their_id,
        over_the_cap_telemetry_is_dropped_and_counted_but_no_alert_is,
        during_catch_up_alerts_go_first_and_telemetry_newest_first,
        during_catch_up_alerts_overtake_a_summary_queued_before_them_and_every_seq_arrives,
        status_is_retained_online_and_the_will_says_offline_when_the_link_dies,
        a_clean_shutdown_publishes_offline_retained_and_returns_ok,
        hostile_commands_get_error_results_or_are_ignored_and_the_link_lives_on,
        a_command_the_core_never_answered_before_a_crash_is_acted_on_when_the_platform_retries,
    ],
);
