//! End to end: the real agent binary on the simulated nursery → a real mosquitto → the real
//! receiver → PostgreSQL. Needs `cargo build -p nursery-agent` first (the agent binary is
//! not rebuilt by this package's tests).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use nursery_agent_tests::agent::{demo_config, wait_for_clock, Agent};
use nursery_agent_tests::broker::{Broker, Collector, Seen};
use serde_json::{json, Value};
use tokio::task::block_in_place;

const LIMIT: Duration = Duration::from_secs(90);
const FACILITY: &str = "310115-0042";
const DURABLE: [&str; 3] = ["/alerts", "/summaries/daily", "/command-results"];

fn platform_config(dir: &Path, speed: f64, port: u16) -> PathBuf {
    let path = demo_config(dir, speed);
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    doc["mqtt"]["enabled"] = toml_edit::value(true);
    doc["mqtt"]["port"] = toml_edit::value(i64::from(port));
    doc["mqtt"]["reconnect_max"] = toml_edit::value("2s");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// How many durable messages the agent has committed to its outbox.
fn committed(config: &Path) -> i64 {
    let cfg = nursery_agent::config::load(config).unwrap();
    let conn = rusqlite::Connection::open(cfg.storage.dir.join("nursery-agent.db")).unwrap();
    nursery_agent::outbox::stats(&conn).unwrap().next_seq as i64 - 1
}

/// The broker's view (a persistent subscriber): seq → id of every envelope seen.
fn on_the_wire(seen: &[Seen]) -> BTreeMap<i64, String> {
    seen.iter()
        .filter(|m| DURABLE.iter().any(|s| m.topic.ends_with(s)))
        .map(Seen::json)
        .map(|e| {
            (
                e["seq"].as_i64().unwrap(),
                e["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn stored(db: &TestDb) -> BTreeMap<i64, String> {
    db.client()
        .await
        .query(
            "SELECT seq, id FROM envelopes WHERE facility = $1",
            &[&FACILITY],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn snapshot(wire: &Collector, id: &str) {
    wire.client
        .publish(
            format!("childcare/v1/{FACILITY}/commands"),
            rumqttc::QoS::AtLeastOnce,
            false,
            json!({"id": id, "command": "snapshot"}).to_string(),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_the_real_agent_every_envelope_is_stored_exactly_once_and_a_hole_left_while_the_receiver_was_away_is_asked_for_and_filled_by_resend(
) {
    let broker = Broker::start();
    let db = TestDb::create().await;
    let wire = Collector::start(broker.port, "childcare/v1/#").await;
    let receiver_args = [
        "--clean-session",
        "--client-id",
        "platform-receiver",
        "--grace",
        "2s",
        "--resend-timeout",
        "10s",
        "--max-attempts",
        "1",
    ];
    let receiver = Receiver::start(broker.port, &db, &receiver_args);
    let dir = tempfile::tempdir().unwrap();
    let config = platform_config(dir.path(), 4000.0, broker.port);
    let agent = block_in_place(|| {
        let agent = Agent::start(&config, &[]);
        wait_for_clock(&config, "18:30", LIMIT);
        agent
    });
    wire.wait_until(LIMIT, |s| {
        s.iter().any(|m| m.topic.ends_with("/summaries/daily"))
    })
    .await;

    // 1. The day: every envelope the agent committed is in the database once, with the id
    //    the broker carried, and the report says so.
    let upto = block_in_place(|| committed(&config));
    assert!(upto >= 10, "the demo day's alerts and summary: {upto}");
    let f = wait_report(&db, FACILITY, LIMIT, |f| {
        f["last_seq"].as_i64() >= Some(upto)
    })
    .await;
    assert_eq!(f["state"], "online", "{f:#}");
    assert_eq!(ranges(&f["gaps_open"]), vec![], "{f:#}");
    assert_eq!(f["conflicts"], 0, "{f:#}");
    assert_eq!(f["rejected"], 0, "{f:#}");
    assert!(f["telemetry"].as_i64() > Some(0), "{f:#}");
    let last = f["last_seq"].as_i64().unwrap();
    assert_eq!(
        f["stored"].as_i64(),
        Some(last),
        "one row per seq, 1..={last}: {f:#}"
    );
    let rows = stored(&db).await;
    let seen = on_the_wire(&wire.seen());
    for (seq, id) in &rows {
        assert_eq!(
            seen.get(seq),
            Some(id),
            "seq {seq}: stored id differs from the wire's"
        );
    }
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>()
    );
    let kinds: Vec<String> = db
        .client()
        .await
        .query("SELECT DISTINCT kind FROM envelopes ORDER BY kind", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        kinds,
        ["alert", "summary"],
        "the day's alerts and its summary"
    );

    // 2. The receiver goes away with a clean session: what the agent publishes meanwhile
    //    (two command results) is lost to it. Back, it sees a later seq and asks for the hole.
    receiver.kill9();
    snapshot(&wire, "away-1").await;
    snapshot(&wire, "away-2").await;
    let away = wire
        .wait_until(LIMIT, |s| {
            let r = on_the_wire(s);
            r.values().any(|id| id == "command:away-2")
                && r.values().any(|id| id == "command:away-1")
        })
        .await;
    let hole_to = *on_the_wire(&away).keys().next_back().unwrap();
    assert!(hole_to >= last + 2, "{hole_to} {last}");
    let mut receiver = Receiver::start(broker.port, &db, &receiver_args);
    snapshot(&wire, "back-1").await;
    let line = receiver.wait_for_line(&format!("resend {FACILITY} "), LIMIT);
    let asked = wire
        .wait_until(LIMIT, |s| {
            s.iter()
                .any(|m| m.topic.ends_with("/commands") && m.json()["command"] == "resend")
        })
        .await;
    let cmd: Value = asked
        .iter()
        .find(|m| m.topic.ends_with("/commands") && m.json()["command"] == "resend")
        .unwrap()
        .json();
    assert_eq!(cmd["from_seq"].as_i64(), Some(last + 1), "{cmd} ({line})");
    assert_eq!(cmd["to_seq"].as_i64(), Some(hole_to), "{cmd} ({line})");
    let id = cmd["id"].as_str().unwrap().to_string();

    // 3. The agent resends the range (contract section 12) with the original seq and id:
    //    its answer is recorded against the request, the copies are stored, the hole closes
    //    and the request is closed as filled at the receiver's next tick — agent → broker →
    //    receiver → PostgreSQL, nothing silently dropped.
    let f = wait_report(&db, FACILITY, LIMIT, |f| {
        f["last_resend"]["command_id"] == id.as_str() && !f["last_resend"]["answer"].is_null()
    })
    .await;
    let answer = f["last_resend"]["answer"].clone();
    assert_eq!(answer["command_id"], id.as_str(), "{f:#}");
    assert_eq!(answer["ok"], true, "the agent resends the range: {f:#}");
    let f = wait_report(&db, FACILITY, LIMIT, |f| {
        ranges(&f["gaps_open"]).is_empty() && !f["last_resend"]["outcome"].is_null()
    })
    .await;
    assert_eq!(f["last_resend"]["outcome"], "filled", "{f:#}");
    assert_eq!(f["unrecoverable"], json!([]), "{f:#}");
    let rows = stored(&db).await;
    let seen = on_the_wire(&wire.seen());
    for seq in last + 1..=hole_to {
        assert!(
            rows.contains_key(&seq),
            "resent seq {seq} is stored: {rows:?}"
        );
        assert_eq!(
            rows.get(&seq),
            seen.get(&seq),
            "resent seq {seq} keeps its id"
        );
    }
    assert_eq!(commands(&wire).len(), 1, "the hole was asked for once");
    let text = report_text(&db);
    assert!(
        text.contains(FACILITY) && text.contains("state          online"),
        "{text}"
    );
    let exit = block_in_place(|| agent.terminate(Duration::from_secs(10)));
    assert!(exit.success(), "{exit:?}");
    wait_report(&db, FACILITY, LIMIT, |f| f["state"] == "offline").await;
}
