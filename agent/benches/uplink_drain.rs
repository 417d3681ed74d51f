//! How fast the uplink drains a backlog, against a bare rumqttc QoS 1 publish loop of the same
//! payloads to the same broker in the same run; and, with `FULL=1`, the peak memory of a
//! 1,000,000-message drain (run in a child process so nothing else counts toward it).
//!
//! `cargo bench -p nursery-agent --bench uplink_drain` (needs /usr/sbin/mosquitto). It starts
//! its own broker on a free loopback port. It prints figures and asserts no timings.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use nursery_agent::outbox::{self, Cap, Kind};
use nursery_agent::uplink::{self, UplinkSettings, UplinkStatus};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use rusqlite::Connection;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

const FACILITY: &str = "310115-0042";
const WINDOW: u16 = 64;

struct Mosquitto {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    fn start() -> Mosquitto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .expect("write mosquitto.conf");
        let child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start /usr/sbin/mosquitto");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Mosquitto {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cap() -> Cap {
    Cap {
        max_bytes: u64::MAX,
        tz: chrono_tz::Asia::Shanghai,
    }
}

fn body(i: u64) -> serde_json::Value {
    serde_json::json!({
        "ts": "2026-03-02T09:16:00+08:00",
        "alert_id": format!("ratio_breach:infant:{i}"),
        "type": "ratio_breach",
        "severity": "critical",
        "state": "raised",
        "subject": "infant",
        "details": {"children": 4, "staff": 1, "required": 2}
    })
}

/// Fills the outbox with `n` alert envelopes, 10,000 per transaction; returns the payloads
/// (only when `keep`, for the bare loop).
fn fill(db: &Path, n: u64, keep: bool) -> Vec<String> {
    let mut conn = Connection::open(db).expect("open db");
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    outbox::migrate(&conn).unwrap();
    let cap = cap();
    let mut i = 0;
    while i < n {
        let tx = conn.transaction().unwrap();
        for _ in 0..10_000.min(n - i) {
            i += 1;
            outbox::enqueue(
                &tx,
                FACILITY,
                Kind::Alert,
                &format!("alert-{i}"),
                Utc::now(),
                &body(i),
                &cap,
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    if keep {
        outbox::durable_after(&conn, 0, n as usize)
            .unwrap()
            .into_iter()
            .map(|m| m.payload)
            .collect()
    } else {
        Vec::new()
    }
}

fn settings(port: u16) -> UplinkSettings {
    let cfg_default = nursery_agent::config::Mqtt::default();
    UplinkSettings {
        host: "127.0.0.1".into(),
        port,
        client_id: "bench-uplink".into(),
        facility: FACILITY.into(),
        topic_prefix: "childcare/v1".into(),
        tls: None,
        credentials: None,
        keep_alive: cfg_default.keep_alive.0,
        max_inflight: WINDOW,
        telemetry_qos: QoS::AtMostOnce,
        command_max_bytes: cfg_default.command_max_bytes,
        reconnect_min: Duration::from_millis(100),
        reconnect_max: Duration::from_secs(1),
        keep_sent: Duration::from_secs(30 * 24 * 3600),
        resend_per_second: 500,
        mqtt5: false,
        cap: cap(),
    }
}

/// Drains the outbox with the uplink; returns the seconds until it was empty.
async fn drain_with_uplink(port: u16, db: &Path, n: u64) -> f64 {
    let wake = Arc::new(Notify::new());
    let shutdown = CancellationToken::new();
    let status = UplinkStatus::new(Utc::now());
    let (tx, _rx) = mpsc::channel(8);
    let start = Instant::now();
    let task = tokio::spawn(uplink::run(
        settings(port),
        db.to_path_buf(),
        wake,
        tx,
        status.clone(),
        shutdown.clone(),
    ));
    let watcher = Connection::open(db).unwrap();
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let s = outbox::stats(&watcher).unwrap();
        if s.durable_pending == 0 {
            break;
        }
        assert!(
            !task.is_finished(),
            "uplink stopped with {} pending",
            s.durable_pending
        );
    }
    let secs = start.elapsed().as_secs_f64();
    assert!(status.snapshot(Utc::now()).acknowledged >= n);
    shutdown.cancel();
    task.await.unwrap().unwrap();
    secs
}

/// The same payloads through a bare rumqttc client, QoS 1, the same in-flight window.
async fn bare_loop(port: u16, payloads: Vec<String>) -> f64 {
    let n = payloads.len();
    let mut o = MqttOptions::new("bench-bare", "127.0.0.1", port);
    o.set_inflight(WINDOW);
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(o, usize::from(WINDOW));
    let start = Instant::now();
    let publisher = tokio::spawn(async move {
        for p in payloads {
            client
                .publish(
                    "childcare/v1/310115-0042/alerts",
                    QoS::AtLeastOnce,
                    false,
                    p.into_bytes(),
                )
                .await
                .unwrap();
        }
        client
    });
    let mut acked = 0;
    let mut sent = 0;
    while acked < n {
        match el.poll().await.expect("bare loop connection") {
            Event::Incoming(Packet::PubAck(_)) => acked += 1,
            Event::Outgoing(Outgoing::Publish(_)) => sent += 1,
            _ => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sent, n);
    drop(publisher.await.unwrap());
    secs
}

fn vm(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

fn full_child() {
    let n = 1_000_000;
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let t = Instant::now();
    fill(&db, n, false);
    let fill_secs = t.elapsed().as_secs_f64();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let before = vm("VmRSS:");
    let secs = rt.block_on(drain_with_uplink(broker.port, &db, n));
    println!(
        "full: {n} messages filled in {fill_secs:.1}s, drained in {secs:.1}s ({:.0} msg/s); \
         RSS before drain {before}, peak RSS (VmHWM) {}",
        n as f64 / secs,
        vm("VmHWM:")
    );
}

fn main() {
    if std::env::var_os("UPLINK_DRAIN_FULL_CHILD").is_some() {
        full_child();
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument that doesn't match skips the run.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"uplink_drain".contains(a.as_str()))
    {
        return;
    }
    let n: u64 = 100_000;
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nursery-agent.db");
    let t = Instant::now();
    let payloads = fill(&db, n, true);
    println!(
        "filled {n} alert envelopes ({} bytes each) in {:.2}s",
        payloads[0].len(),
        t.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let uplink_secs = rt.block_on(drain_with_uplink(broker.port, &db, n));
    let bare_secs = rt.block_on(bare_loop(broker.port, payloads));
    let uplink_rate = n as f64 / uplink_secs;
    let bare_rate = n as f64 / bare_secs;
    println!("uplink drain (outbox -> broker, delete on PUBACK): {uplink_rate:>9.0} msg/s");
    println!("bare rumqttc QoS 1 publish loop:                   {bare_rate:>9.0} msg/s");
    println!(
        "ratio uplink / bare: {:.2} (target >= 0.5)",
        uplink_rate / bare_rate
    );

    if std::env::var("FULL").is_ok_and(|v| v == "1") {
        let status = Command::new(std::env::current_exe().unwrap())
            .env("UPLINK_DRAIN_FULL_CHILD", "1")
            .status()
            .expect("run the full drain");
        assert!(status.success(), "full drain failed");
    } else {
        println!("(FULL=1 also measures peak RSS of a 1,000,000-message drain)");
    }
}
