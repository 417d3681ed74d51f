//! The regulator's side: the real agent binary on the simulated nursery, a real broker of our
//! own, and a subscriber standing in for the platform. Outages, SIGKILL during a drain, the
//! daily summary, and no personal data on the wire. Each scenario runs once per broker:
//! `mosquitto::…`, `nats::…`, `rabbitmq::…` (see `per_broker!`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nursery_agent_tests::agent::{demo_config, run, wait_for_clock, Agent};
use nursery_agent_tests::broker::{free_port, Broker, Collector, Kind, Seen};
use tokio::task::block_in_place;

const LIMIT: Duration = Duration::from_secs(90);
const DURABLE: [&str; 3] = ["/alerts", "/summaries/daily", "/command-results"];

/// The demo nursery at `speed`, reporting to a broker on `port`.
fn platform_config(dir: &Path, speed: f64, port: u16) -> PathBuf {
    let path = demo_config(dir, speed);
    set(&path, |doc| {
        doc["mqtt"]["enabled"] = toml_edit::value(true);
        doc["mqtt"]["port"] = toml_edit::value(i64::from(port));
        doc["mqtt"]["reconnect_max"] = toml_edit::value("2s");
    });
    path
}

fn set(path: &Path, edit: impl FnOnce(&mut toml_edit::DocumentMut)) {
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(path).unwrap().parse().unwrap();
    edit(&mut doc);
    std::fs::write(path, doc.to_string()).unwrap();
}

fn durable(seen: &[Seen]) -> Vec<serde_json::Value> {
    seen.iter()
        .filter(|m| DURABLE.iter().any(|s| m.topic.ends_with(s)))
        .map(Seen::json)
        .collect()
}

/// Checks the durable stream: every seq from 1 to `upto` present, a seq seen twice always
/// with the same id, and no seq beyond `upto`. Returns one envelope per seq.
fn contiguous(envelopes: &[serde_json::Value], upto: u64) -> BTreeMap<u64, serde_json::Value> {
    let mut by_seq: BTreeMap<u64, serde_json::Value> = BTreeMap::new();
    for e in envelopes {
        assert_eq!(e["schema"], "nursery-agent/1", "{e}");
        let seq = e["seq"].as_u64().unwrap_or_else(|| panic!("no seq: {e}"));
        if let Some(first) = by_seq.get(&seq) {
            assert_eq!(
                first["id"], e["id"],
                "seq {seq} delivered twice with different ids"
            );
        }
        by_seq.entry(seq).or_insert_with(|| e.clone());
    }
    let missing: Vec<u64> = (1..=upto).filter(|s| !by_seq.contains_key(s)).collect();
    assert!(missing.is_empty(), "seq gaps: {missing:?}");
    assert_eq!(by_seq.keys().next_back().copied().unwrap_or(0), upto);
    by_seq
}

/// How many durable messages the agent has committed to its outbox.
fn committed(config: &Path) -> u64 {
    let cfg = nursery_agent::config::load(config).unwrap();
    let conn = rusqlite::Connection::open(cfg.storage.dir.join("nursery-agent.db")).unwrap();
    nursery_agent::outbox::stats(&conn).unwrap().next_seq - 1
}

async fn through_a_broker_outage_the_platform_receives_every_alert_and_the_day_s_summary_in_seq_order_and_never_a_name_or_card(
    kind: Kind,
) {
    let mut broker = Broker::start_kind(kind);
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    let dir = tempfile::tempdir().unwrap();
    let config = platform_config(dir.path(), 2000.0, broker.port);
    let cfg = config.to_str().unwrap().to_string();

    let agent = block_in_place(|| {
        let agent = Agent::start(&config, &[]);
        wait_for_clock(&config, "10:00", LIMIT);
        broker.stop();
        wait_for_clock(&config, "13:30", LIMIT);
        broker.start_again();
        wait_for_clock(&config, "18:30", LIMIT);
        agent
    });
    // The summary of the day is due at close + pickup_grace (18:15).
    let seen = platform
        .wait_until(LIMIT, |seen| {
            seen.iter().any(|m| m.topic.ends_with("/summaries/daily"))
        })
        .await;
    let exit = block_in_place(|| agent.terminate(Duration::from_secs(10)));
    assert!(exit.success(), "{exit:?}");

    // Every transition the agent journalled reached the platform, once per message id.
    let (_, live, _) = run(&["export", "--config", &cfg, "--transitions"]);
    let upto = block_in_place(|| committed(&config));
    let seen = platform
        .wait_until(LIMIT, |seen| {
            durable(seen).iter().filter_map(|e| e["seq"].as_u64()).max() == Some(upto)
        })
        .await
        .into_iter()
        .chain(seen)
        .collect::<Vec<_>>();
    let stream = contiguous(&durable(&seen), upto);
    let alerts: Vec<&serde_json::Value> =
        stream.values().filter(|e| e["kind"] == "alert").collect();
    assert!(
        live.lines().count() >= 10,
        "the demo day's incidents:\n{live}"
    );
    assert_eq!(
        alerts.len(),
        live.lines().count(),
        "one message per transition"
    );
    for (line, e) in live.lines().zip(&alerts) {
        let t: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(e["body"]["alert_id"], t["alert_id"]);
        assert_eq!(e["body"]["state"], t["state"]);
        assert_eq!(e["body"]["ts"], t["ts"]);
    }
    let summary = stream
        .values()
        .find(|e| e["kind"] == "summary")
        .expect("the day's summary");
    assert_eq!(summary["body"]["date"], "2026-03-02", "{summary}");

    // Nothing personal on the wire, on any topic.
    let roster = nursery_agent::config::load(&config).unwrap();
    let mut secrets: Vec<String> = Vec::new();
    for s in &roster.staff {
        secrets.push(s.name.clone());
        secrets.extend(s.card.clone());
    }
    for c in &roster.children {
        secrets.push(c.name.clone());
        secrets.push(c.birth_date.to_string());
    }
    for g in &roster.guardians {
        secrets.push(g.name.clone());
        secrets.extend(g.card.clone());
    }
    assert!(secrets.len() > 100);
    for m in &seen {
        let text = String::from_utf8_lossy(&m.payload);
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{s:?} leaked on {}: {text}",
                m.topic
            );
        }
    }
    // A clean shutdown leaves `offline` as the last (retained) status.
    platform
        .wait_until(LIMIT, |seen| {
            seen.iter()
                .rfind(|m| m.topic.ends_with("/status"))
                .is_some_and(|m| m.json()["state"] == "offline")
        })
        .await;
}

async fn killed_with_sigkill_again_and_again_while_draining_a_backlog_the_agent_loses_no_committed_message_and_its_will_says_offline(
    kind: Kind,
) {
    // A day's backlog built with no broker at all.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = platform_config(dir.path(), 4000.0, port);
    block_in_place(|| {
        let agent = Agent::start(&config, &[]);
        wait_for_clock(&config, "18:30", LIMIT);
        agent.kill9();
    });
    let upto = block_in_place(|| committed(&config));
    assert!(upto >= 10, "a backlog of alerts and the summary: {upto}");

    // Time stands still from here: the backlog is all there is to send.
    set(&config, |doc| {
        doc["simulation"]["speed"] = toml_edit::value(0.001)
    });
    let _broker = Broker::start_kind_on(kind, port);
    let platform = Collector::start(port, "childcare/v1/#").await;
    for pause in [150, 300, 600, 1200] {
        block_in_place(|| {
            // The pause counts from the uplink's start, not the process's: under load a
            // debug agent took more than 1.2 s to get there and was killed before it
            // ever connected (no will, and the test waited 90 s for one).
            let mut agent = Agent::start(&config, &[]);
            agent.wait_for_line("uplink:", LIMIT);
            std::thread::sleep(Duration::from_millis(pause));
            agent.kill9();
        });
    }
    // Each SIGKILL closed the connection without a DISCONNECT: the broker sent the will.
    platform
        .wait_until(LIMIT, |seen| {
            seen.iter()
                .any(|m| m.topic.ends_with("/status") && m.json()["state"] == "offline")
        })
        .await;
    let agent = block_in_place(|| {
        let mut agent = Agent::start(&config, &[]);
        agent.wait_for_line("uplink:", LIMIT);
        agent
    });
    let seen = platform
        .wait_until(LIMIT, |seen| {
            let seqs: std::collections::BTreeSet<u64> = durable(seen)
                .iter()
                .filter_map(|e| e["seq"].as_u64())
                .collect();
            seqs.len() as u64 == upto
        })
        .await;
    let exit = block_in_place(|| agent.terminate(Duration::from_secs(10)));
    assert!(exit.success(), "{exit:?}");
    contiguous(&durable(&seen), upto);
    assert_eq!(
        block_in_place(|| committed(&config)),
        upto,
        "nothing new was produced"
    );
}

async fn the_platform_can_ask_for_a_snapshot_and_a_summary_again_and_hostile_commands_get_errors_not_a_crash(
    kind: Kind,
) {
    let broker = Broker::start_kind(kind);
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    let dir = tempfile::tempdir().unwrap();
    let config = platform_config(dir.path(), 4000.0, broker.port);
    let agent = block_in_place(|| {
        let agent = Agent::start(&config, &[]);
        wait_for_clock(&config, "18:30", LIMIT);
        agent
    });
    platform
        .wait_until(LIMIT, |seen| {
            seen.iter().any(|m| m.topic.ends_with("/summaries/daily"))
        })
        .await;
    let topic = "childcare/v1/310115-0042/commands";
    let commands: Vec<Vec<u8>> = vec![
        br#"{"id":"c1","command":"snapshot"}"#.to_vec(),
        br#"{"id":"c2","command":"resend_summary","date":"2026-03-02"}"#.to_vec(),
        b"{{{ not json".to_vec(),
        br#"{"id":"c3","command":"reboot"}"#.to_vec(),
        br#"{"id":"c4","command":"resend_summary","date":"2099-01-01"}"#.to_vec(),
        br#"{"id":"c1","command":"snapshot"}"#.to_vec(),
        format!(
            r#"{{"id":"c5","command":"snapshot","pad":"{}"}}"#,
            "x".repeat(100_000)
        )
        .into_bytes(),
    ];
    for c in commands {
        platform
            .client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, c)
            .await
            .unwrap();
    }
    let results = |seen: &[Seen]| -> BTreeMap<String, Vec<serde_json::Value>> {
        let mut m: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for s in seen
            .iter()
            .filter(|s| s.topic.ends_with("/command-results"))
        {
            let body = s.json()["body"].clone();
            m.entry(body["command_id"].as_str().unwrap_or("").to_string())
                .or_default()
                .push(body);
        }
        m
    };
    let seen = platform
        .wait_until(LIMIT, |seen| {
            let r = results(seen);
            ["c1", "c2", "c3", "c4", "c5"]
                .iter()
                .all(|id| r.contains_key(*id))
        })
        .await;
    let r = results(&seen);
    assert_eq!(
        r["c1"].len(),
        1,
        "a repeated command id is not acted on twice: {r:?}"
    );
    assert_eq!(r["c1"][0]["ok"], true);
    assert!(r["c1"][0]["snapshot"]["rooms"].is_array(), "{:?}", r["c1"]);
    assert_eq!(r["c2"][0]["ok"], true, "{:?}", r["c2"]);
    for id in ["c3", "c4", "c5"] {
        assert_eq!(r[id][0]["ok"], false, "{id}: {:?}", r[id]);
        assert!(r[id][0]["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let summaries: Vec<serde_json::Value> = seen
        .iter()
        .filter(|m| m.topic.ends_with("/summaries/daily"))
        .map(Seen::json)
        .collect();
    let mut seqs: Vec<u64> = summaries.iter().filter_map(|s| s["seq"].as_u64()).collect();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        2,
        "the summary once on time and once on request"
    );
    assert!(summaries.iter().all(|s| s["body"]["date"] == "2026-03-02"));
    assert_ne!(summaries[0]["id"], summaries.last().unwrap()["id"]);
    let exit = block_in_place(|| agent.terminate(Duration::from_secs(10)));
    assert!(exit.success(), "the agent survived the commands: {exit:?}");
}

async fn with_a_full_outbox_and_no_broker_telemetry_is_dropped_and_counted_in_status_but_no_alert_is_lost(
    kind: Kind,
) {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = platform_config(dir.path(), 3000.0, port);
    set(&config, |doc| {
        doc["mqtt"]["outbox_max_bytes"] = toml_edit::value(16384)
    });
    block_in_place(|| {
        let agent = Agent::start(&config, &[]);
        wait_for_clock(&config, "16:00", LIMIT);
        let exit = agent.terminate(Duration::from_secs(10));
        assert!(exit.success(), "{exit:?}");
    });
    let cfg = nursery_agent::config::load(&config).unwrap();
    let conn = rusqlite::Connection::open(cfg.storage.dir.join("nursery-agent.db")).unwrap();
    let stats = nursery_agent::outbox::stats(&conn).unwrap();
    drop(conn);
    assert!(
        stats.telemetry_dropped > 100,
        "nine hours of minutes cannot fit in 16 KiB: {stats:?}"
    );
    let upto = stats.next_seq - 1;
    assert!(upto >= 8, "the morning's alerts: {stats:?}");

    set(&config, |doc| {
        doc["simulation"]["speed"] = toml_edit::value(0.001)
    });
    let _broker = Broker::start_kind_on(kind, port);
    let platform = Collector::start(port, "childcare/v1/#").await;
    let agent = block_in_place(|| Agent::start(&config, &[]));
    let seen = platform
        .wait_until(LIMIT, |seen| {
            durable(seen).iter().filter_map(|e| e["seq"].as_u64()).max() == Some(upto)
        })
        .await;
    contiguous(&durable(&seen), upto);
    let status = platform.on("/status");
    let online = status
        .iter()
        .map(Seen::json)
        .find(|s| s["state"] == "online")
        .unwrap();
    assert_eq!(
        online["telemetry_dropped"], stats.telemetry_dropped,
        "{online}"
    );
    // What telemetry survived is the newest: sent newest first, ending at the morning's last.
    // Telemetry follows once the durable stream has caught up.
    platform
        .wait_until(LIMIT, |seen| {
            seen.iter()
                .filter(|m| m.topic.ends_with("/telemetry"))
                .count()
                >= 5
        })
        .await;
    let telemetry: Vec<serde_json::Value> =
        platform.on("/telemetry").iter().map(Seen::json).collect();
    assert!(
        telemetry[0]["ts"].as_str().unwrap() >= telemetry.last().unwrap()["ts"].as_str().unwrap()
    );
    let exit = block_in_place(|| agent.terminate(Duration::from_secs(10)));
    assert!(exit.success(), "{exit:?}");
}

nursery_agent_tests::per_broker!(
    through_a_broker_outage_the_platform_receives_every_alert_and_the_day_s_summary_in_seq_order_and_never_a_name_or_card,
    killed_with_sigkill_again_and_again_while_draining_a_backlog_the_agent_loses_no_committed_message_and_its_will_says_offline,
    the_platform_can_ask_for_a_snapshot_and_a_summary_again_and_hostile_commands_get_errors_not_a_crash,
    with_a_full_outbox_and_no_broker_telemetry_is_dropped_and_counted_in_status_but_no_alert_is_lost,
);
