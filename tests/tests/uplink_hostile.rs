//! The uplink against a hostile or careless platform (issue 11.1, 11.11) and a second agent
//! with the same id (issue 10.8): the real binary, a broker of our own on a free port, once
//! per broker (`mosquitto::…`, `nats::…`, `rabbitmq::…`; see `per_broker!`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{binary, demo_config, status, Agent};
use nursery_agent_tests::broker::{Broker, Collector, Kind, Seen};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::task::block_in_place;

const LIMIT: Duration = Duration::from_secs(60);
const FACILITY: &str = "310115-0042";

fn topic(suffix: &str) -> String {
    format!("childcare/v1/{FACILITY}/{suffix}")
}

/// The demo nursery reporting to a broker on `port`, storage under `dir`.
fn config(dir: &Path, port: u16) -> PathBuf {
    let path = demo_config(dir, 60.0);
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    doc["mqtt"]["enabled"] = toml_edit::value(true);
    doc["mqtt"]["port"] = toml_edit::value(i64::from(port));
    doc["mqtt"]["reconnect_max"] = toml_edit::value("2s");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// Publishes one message as the platform would, allowing packets of any size, and returns
/// once the broker acknowledged it.
async fn publish(port: u16, topic: &str, payload: Vec<u8>, retain: bool) {
    let mut o = MqttOptions::new(format!("platform-{}", rand_id()), "127.0.0.1", port);
    o.set_max_packet_size(16 << 20, 16 << 20);
    let (client, mut el) = AsyncClient::new(o, 8);
    client
        .publish(topic, QoS::AtLeastOnce, retain, payload)
        .await
        .unwrap();
    let acked = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Event::Incoming(Packet::PubAck(_))) = el.poll().await {
                return;
            }
        }
    })
    .await;
    acked.expect("the broker acknowledged the publish");
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), el.poll()).await;
}

fn rand_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn result_for(seen: &[Seen], id: &str) -> Option<serde_json::Value> {
    seen.iter()
        .map(Seen::json)
        .find(|e| e["body"]["command_id"] == id)
        .map(|e| e["body"].clone())
}

fn online(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|m| m.json()["state"] == "online")
        .count()
}

/// An `offline` (the last will of a failed connection), then `online` again.
fn came_back(seen: &[Seen]) -> bool {
    let states: Vec<serde_json::Value> = seen.iter().map(|m| m.json()["state"].clone()).collect();
    match states.iter().position(|s| s == "offline") {
        Some(i) => states[i..].iter().any(|s| s == "online"),
        None => false,
    }
}

fn command(id: &str) -> Vec<u8> {
    format!(r#"{{"id":"{id}","command":"snapshot"}}"#).into_bytes()
}

async fn a_retained_300_kb_command_is_refused_with_a_result_and_the_link_stays_up(kind: Kind) {
    let broker = Broker::start_kind(kind);
    let results = Collector::start(broker.port, &topic("command-results")).await;
    let statuses = Collector::start(broker.port, &topic("status")).await;
    let big = format!(
        r#"{{"id":"big-1","command":"snapshot","pad":"{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let size = big.len();
    publish(broker.port, &topic("commands"), big.into_bytes(), true).await;

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), broker.port);
    let agent = block_in_place(|| Agent::start(&cfg, &[]));
    let seen = results
        .wait_until(LIMIT, |s| result_for(s, "big-1").is_some())
        .await;
    let refusal = result_for(&seen, "big-1").unwrap();
    assert_eq!(refusal["ok"], false, "{refusal}");
    let error = refusal["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("{size} bytes")) && error.contains("limit 4096"),
        "{error}"
    );

    // The link stays up: no further status change over five seconds.
    let before = statuses.seen().len();
    assert_eq!(online(&statuses.seen()), 1, "{:?}", statuses.seen());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(statuses.seen().len(), before, "{:?}", statuses.seen());

    // And a normal command afterwards is answered.
    publish(broker.port, &topic("commands"), command("snap-1"), false).await;
    let seen = results
        .wait_until(LIMIT, |s| result_for(s, "snap-1").is_some())
        .await;
    assert_eq!(result_for(&seen, "snap-1").unwrap()["ok"], true);
    drop(agent);
}

async fn a_retained_command_over_the_packet_limit_is_cleared_and_the_link_comes_back_for_good(
    kind: Kind,
) {
    let broker = Broker::start_kind(kind);
    let results = Collector::start(broker.port, &topic("command-results")).await;
    let statuses = Collector::start(broker.port, &topic("status")).await;
    let huge = format!(
        r#"{{"id":"huge-1","command":"snapshot","pad":"{}"}}"#,
        "x".repeat(5 << 20)
    );
    publish(broker.port, &topic("commands"), huge.into_bytes(), true).await;

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), broker.port);
    let agent = block_in_place(|| Agent::start(&cfg, &[]));
    // The first connection fails reading the 5 MB message (the broker sends the last
    // will); the next one clears it and stays.
    statuses.wait_until(LIMIT, came_back).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = statuses.seen().len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        statuses.seen().len(),
        settled,
        "the link kept flapping: {:?}",
        statuses.seen().iter().map(Seen::json).collect::<Vec<_>>()
    );
    publish(broker.port, &topic("commands"), command("after-1"), false).await;
    let seen = results
        .wait_until(LIMIT, |s| result_for(s, "after-1").is_some())
        .await;
    assert_eq!(result_for(&seen, "after-1").unwrap()["ok"], true);
    assert!(result_for(&seen, "huge-1").is_none());
    drop(agent);
}

/// An agent whose log (stderr) goes to `log`.
fn start_logged(config: &Path, log: &Path) -> Child {
    Command::new(binary())
        .args(["run", "--config", config.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(log).unwrap())
        .spawn()
        .unwrap()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn two_agents_with_the_same_client_id_say_so_in_the_log_and_in_status(kind: Kind) {
    block_in_place(|| same_client_id(kind));
}

fn same_client_id(kind: Kind) {
    let broker = Broker::start_kind(kind);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (cfg_a, cfg_b) = (config(a.path(), broker.port), config(b.path(), broker.port));
    let (log_a, log_b) = (a.path().join("agent.log"), b.path().join("agent.log"));
    let _first = Killed(start_logged(&cfg_a, &log_a));
    let _second = Killed(start_logged(&cfg_b, &log_b));

    let said = |log: &Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains("another client with the same client id"))
            .map(str::to_owned)
    };
    let end = Instant::now() + LIMIT;
    while said(&log_a).is_none() || said(&log_b).is_none() {
        assert!(
            Instant::now() < end,
            "no takeover reported within {LIMIT:?}:\n{}\n---\n{}",
            std::fs::read_to_string(&log_a).unwrap_or_default(),
            std::fs::read_to_string(&log_b).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let line = said(&log_a).unwrap();
    assert!(line.contains("ERROR") && line.contains(FACILITY), "{line}");
    for cfg in [&cfg_a, &cfg_b] {
        let s = status(cfg);
        assert_eq!(
            s["uplink"]["client_id_conflict"]["client_id"], FACILITY,
            "{s}"
        );
    }
}

nursery_agent_tests::per_broker!(
    a_retained_300_kb_command_is_refused_with_a_result_and_the_link_stays_up,
    a_retained_command_over_the_packet_limit_is_cleared_and_the_link_comes_back_for_good,
    two_agents_with_the_same_client_id_say_so_in_the_log_and_in_status,
);
