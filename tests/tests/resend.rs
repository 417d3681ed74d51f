//! Gap repair by seq range (contract 1.1 section 12), end to end: the real binary, its own
//! mosquitto, the outbox in SQLite on disk. The platform sends `resend` on `commands`; the
//! agent publishes again, with their original envelope, the messages it still holds.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{demo_config, Agent};
use nursery_agent_tests::broker::{Broker, Collector, Seen};
use rumqttc::QoS;
use serde_json::Value;
use tokio::task::block_in_place;

const FACILITY: &str = "310115-0042";
const LIMIT: Duration = Duration::from_secs(60);

/// The demo roster without its simulation (the test writes the events), reporting to
/// `port`, with `extra` lines of `[mqtt]` settings.
fn agent_config(dir: &Path, port: u16, extra: &[(&str, toml_edit::Item)]) -> PathBuf {
    let path = demo_config(dir, 60.0);
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    doc["simulation"]["enabled"] = toml_edit::value(false);
    doc["mqtt"]["enabled"] = toml_edit::value(true);
    doc["mqtt"]["port"] = toml_edit::value(i64::from(port));
    doc["mqtt"]["reconnect_max"] = toml_edit::value("1s");
    for (k, v) in extra {
        doc["mqtt"][k] = v.clone();
    }
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// An agent reading `events.jsonl` in `dir`, connected to the broker.
struct Site {
    agent: Agent,
    events: PathBuf,
    badges: u64,
}

impl Site {
    fn start(dir: &Path, port: u16, extra: &[(&str, toml_edit::Item)]) -> Site {
        let config = agent_config(dir, port, extra);
        let events = dir.join("events.jsonl");
        std::fs::write(&events, "").unwrap();
        let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
        agent.wait_for_line("events from", Duration::from_secs(20));
        Site {
            agent,
            events,
            badges: 0,
        }
    }

    /// `n` badges of unknown cards: one `badge_denied` alert each.
    fn badges(&mut self, n: u64) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.events)
            .unwrap();
        for _ in 0..n {
            writeln!(
                f,
                r#"{{"type":"badge","reader":"entrance-reader","card":"77{:06}"}}"#,
                self.badges
            )
            .unwrap();
            self.badges += 1;
        }
    }
}

/// Enveloped messages, in the order they arrived.
fn envelopes(seen: &[Seen]) -> Vec<(u64, Value, Vec<u8>)> {
    seen.iter()
        .filter_map(|m| {
            let v = m.json();
            Some((v["seq"].as_u64()?, v, m.payload.clone()))
        })
        .collect()
}

fn denied(seen: &[Seen]) -> usize {
    envelopes(seen)
        .iter()
        .filter(|(_, v, _)| v["body"]["type"] == "badge_denied")
        .map(|(s, ..)| *s)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// The result of the command `id`, once it has arrived.
fn result_of(seen: &[Seen], id: &str) -> Option<Value> {
    seen.iter()
        .filter(|m| m.topic.ends_with("/command-results"))
        .map(|m| m.json())
        .find(|v| v["body"]["command_id"] == id)
        .map(|v| v["body"].clone())
}

async fn command(platform: &Collector, payload: &str) {
    platform
        .client
        .publish(
            format!("childcare/v1/{FACILITY}/commands"),
            QoS::AtLeastOnce,
            false,
            payload.as_bytes().to_vec(),
        )
        .await
        .unwrap();
}

async fn answer(platform: &Collector, id: &str) -> Value {
    let seen = platform
        .wait_until(LIMIT, |s| result_of(s, id).is_some())
        .await;
    result_of(&seen, id).unwrap()
}

/// How many times each seq arrived.
fn deliveries(seen: &[Seen]) -> BTreeMap<u64, usize> {
    let mut n = BTreeMap::new();
    for (seq, ..) in envelopes(seen) {
        *n.entry(seq).or_default() += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_fills_a_gap_with_the_original_seq_id_and_body() {
    let broker = Broker::start();
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    let dir = tempfile::tempdir().unwrap();
    let mut site = block_in_place(|| Site::start(dir.path(), broker.port, &[]));
    site.badges(20);
    let seen = platform.wait_until(LIMIT, |s| denied(s) >= 20).await;
    let originals: BTreeMap<u64, Vec<u8>> = envelopes(&seen)
        .into_iter()
        .map(|(seq, _, bytes)| (seq, bytes))
        .collect();
    assert!(originals.contains_key(&5) && originals.contains_key(&14));

    command(
        &platform,
        r#"{"id":"r-1","command":"resend","from_seq":5,"to_seq":14}"#,
    )
    .await;
    let result = answer(&platform, "r-1").await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["resend"]["from_seq"], 5, "{result}");
    assert_eq!(result["resend"]["to_seq"], 14, "{result}");
    assert_eq!(result["resend"]["count"], 10, "{result}");
    assert!(result["resend"].get("oldest_held").is_none(), "{result}");

    let seen = platform
        .wait_until(LIMIT, |s| {
            let n = deliveries(s);
            (5..=14).all(|seq| n.get(&seq) == Some(&2))
        })
        .await;
    // Every copy is byte for byte the original envelope: same seq, id, kind, body.
    for (seq, _, bytes) in envelopes(&seen) {
        if let Some(original) = originals.get(&seq) {
            assert_eq!(
                &bytes, original,
                "seq {seq} published with another envelope"
            );
        }
    }
    let n = deliveries(&seen);
    let outside: Vec<u64> = n
        .iter()
        .filter(|(seq, c)| **c > 1 && !(5..=14).contains(*seq))
        .map(|(s, _)| *s)
        .collect();
    assert!(outside.is_empty(), "resent outside the range: {outside:?}");
    drop(site);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_names_the_oldest_seq_held_when_the_range_starts_earlier() {
    let broker = Broker::start();
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    let dir = tempfile::tempdir().unwrap();
    let mut site = block_in_place(|| {
        Site::start(
            dir.path(),
            broker.port,
            &[("keep_sent", toml_edit::value("3s"))],
        )
    });
    site.badges(8);
    platform.wait_until(LIMIT, |s| denied(s) >= 8).await;
    // Past keep_sent, then more messages: their acknowledgements prune the first ones.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = platform.seen().len();
    site.badges(8);
    let seen = platform.wait_until(LIMIT, |s| denied(s) >= 16).await;
    let first_new = envelopes(&seen[before..])
        .iter()
        .map(|(s, ..)| *s)
        .min()
        .unwrap();
    let last = envelopes(&seen).iter().map(|(s, ..)| *s).max().unwrap();
    // Pruning runs with an acknowledgement at most every keep_sent / 2.
    tokio::time::sleep(Duration::from_secs(2)).await;
    site.badges(1);
    platform.wait_until(LIMIT, |s| denied(s) >= 17).await;

    command(
        &platform,
        &format!(r#"{{"id":"r-2","command":"resend","from_seq":1,"to_seq":{last}}}"#),
    )
    .await;
    let result = answer(&platform, "r-2").await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(
        result["resend"]["oldest_held"],
        first_new,
        "the first {} messages are past keep_sent: {result}",
        first_new - 1
    );
    assert_eq!(result["resend"]["from_seq"], first_new, "{result}");
    assert_eq!(result["resend"]["to_seq"], last, "{result}");
    assert_eq!(result["resend"]["count"], last - first_new + 1, "{result}");
    let seen = platform
        .wait_until(LIMIT, |s| {
            let n = deliveries(s);
            (first_new..=last).all(|seq| n.get(&seq) == Some(&2))
        })
        .await;
    let n = deliveries(&seen);
    assert!(
        (1..first_new).all(|seq| n.get(&seq) == Some(&1)),
        "a message past keep_sent was sent again: {n:?}"
    );
    drop(site);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reversed_negative_textual_and_huge_ranges_and_a_flood_get_clear_answers() {
    let broker = Broker::start();
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    let dir = tempfile::tempdir().unwrap();
    let mut site = block_in_place(|| {
        Site::start(
            dir.path(),
            broker.port,
            &[("resend_per_second", toml_edit::value(20))],
        )
    });
    site.badges(30);
    let seen = platform.wait_until(LIMIT, |s| denied(s) >= 30).await;
    let last = envelopes(&seen).iter().map(|(s, ..)| *s).max().unwrap();

    let refused = [
        (
            r#"{"id":"h-1","command":"resend","from_seq":14,"to_seq":5}"#,
            "reversed range: `from_seq` 14 is after `to_seq` 5",
        ),
        (
            r#"{"id":"h-2","command":"resend","from_seq":-3,"to_seq":5}"#,
            "`from_seq` is negative (-3)",
        ),
        (
            r#"{"id":"h-3","command":"resend","from_seq":"5","to_seq":14}"#,
            "`from_seq` must be a whole number, not \"5\"",
        ),
        (
            r#"{"id":"h-4","command":"resend","from_seq":1,"to_seq":1e300}"#,
            "`to_seq` must be a whole number",
        ),
        (
            r#"{"id":"h-5","command":"resend","from_seq":1,"to_seq":99999999999999999999}"#,
            "`to_seq` must be a whole number",
        ),
        (
            r#"{"id":"h-6","command":"resend","from_seq":0,"to_seq":3}"#,
            "`from_seq` is 0: seq starts at 1",
        ),
        (
            r#"{"id":"h-7","command":"resend","to_seq":3}"#,
            "resend needs `from_seq`",
        ),
    ];
    for (payload, _) in &refused {
        command(&platform, payload).await;
    }
    for (i, (_, says)) in refused.iter().enumerate() {
        let id = format!("h-{}", i + 1);
        let r = answer(&platform, &id).await;
        assert_eq!(r["ok"], false, "{id}: {r}");
        let error = r["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{id}: {error:?} should say {says:?}");
        assert!(r.get("resend").is_none(), "{id}: {r}");
    }

    // A huge range is taken for what is held, and says where the seqs end.
    command(
        &platform,
        r#"{"id":"big","command":"resend","from_seq":1,"to_seq":9223372036854775807}"#,
    )
    .await;
    // A flood behind it: at most four resends are under way, the rest are told so.
    for i in 0..10 {
        command(
            &platform,
            &format!(r#"{{"id":"f-{i}","command":"resend","from_seq":1,"to_seq":{last}}}"#),
        )
        .await;
    }
    let big = answer(&platform, "big").await;
    assert_eq!(big["ok"], true, "{big}");
    assert_eq!(big["resend"]["from_seq"], 1, "{big}");
    assert!(
        big["resend"]["newest_seq"].as_u64().unwrap() >= last,
        "{big}"
    );
    assert!(big["resend"]["count"].as_u64().unwrap() >= last, "{big}");
    let mut accepted = 1;
    let mut turned_away = 0;
    for i in 0..10 {
        let r = answer(&platform, &format!("f-{i}")).await;
        if r["ok"] == true {
            accepted += 1;
        } else {
            let error = r["error"].as_str().unwrap();
            assert!(error.contains("under way already"), "{error}");
            turned_away += 1;
        }
    }
    assert!(accepted <= 4, "{accepted} resends accepted at once");
    assert!(turned_away >= 6, "{turned_away} turned away");
    drop(site);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_raised_during_a_huge_resend_arrives_before_the_resend_finishes() {
    let broker = Broker::start();
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    let dir = tempfile::tempdir().unwrap();
    let mut site = block_in_place(|| {
        Site::start(
            dir.path(),
            broker.port,
            &[("resend_per_second", toml_edit::value(10))],
        )
    });
    site.badges(60);
    let seen = platform.wait_until(LIMIT, |s| denied(s) >= 60).await;
    let last = envelopes(&seen).iter().map(|(s, ..)| *s).max().unwrap();

    command(
        &platform,
        r#"{"id":"all","command":"resend","from_seq":1,"to_seq":1000000000}"#,
    )
    .await;
    let result = answer(&platform, "all").await;
    assert_eq!(result["ok"], true, "{result}");
    // The resend has begun: a first copy arrived.
    let mark = platform.seen().len();
    platform
        .wait_until(LIMIT, |s| {
            envelopes(&s[mark..]).iter().any(|(seq, ..)| *seq <= last)
        })
        .await;
    let raised = Instant::now();
    site.badges(1);
    let seen = platform.wait_until(LIMIT, |s| denied(s) >= 61).await;
    let alert_after = raised.elapsed();
    let env = envelopes(&seen);
    let alert_at = env
        .iter()
        .position(|(seq, v, _)| *seq > last && v["body"]["type"] == "badge_denied")
        .unwrap();
    // Copies still to come after the alert: it did not wait for the resend.
    let seen = platform
        .wait_until(LIMIT, |s| {
            let n = deliveries(s);
            (1..=last).all(|seq| n.get(&seq).is_some_and(|c| *c >= 2))
        })
        .await;
    let env = envelopes(&seen);
    let copies_after = env[alert_at..]
        .iter()
        .filter(|(seq, ..)| *seq <= last)
        .count();
    assert!(
        copies_after > 10,
        "only {copies_after} copies after the alert: it waited for the resend"
    );
    assert!(
        alert_after < Duration::from_secs(3),
        "the alert took {alert_after:?} behind a resend"
    );
    println!(
        "resend of {last} at 10/s: a live alert arrived {:.2}s after it was raised, {copies_after} copies still to come",
        alert_after.as_secs_f64()
    );
    drop(site);
}

/// Seqs 1..=max all arrived (none missing).
fn no_gap(seen: &[Seen]) -> Result<u64, Vec<u64>> {
    let n = deliveries(seen);
    let max = n.keys().last().copied().unwrap_or(0);
    let missing: Vec<u64> = (1..=max).filter(|s| !n.contains_key(s)).collect();
    if missing.is_empty() {
        Ok(max)
    } else {
        Err(missing)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_5_delivers_across_a_broker_restart_and_keeps_its_session_with_nothing_lost() {
    let mut broker = Broker::start();
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    let dir = tempfile::tempdir().unwrap();
    let extra = [("protocol", toml_edit::value(5))];
    let mut site = block_in_place(|| Site::start(dir.path(), broker.port, &extra));
    site.badges(10);
    platform.wait_until(LIMIT, |s| denied(s) >= 10).await;
    // mosquitto logs each client's protocol and clean-start flag: MQTT 5, session kept.
    let log = broker.log();
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("as {FACILITY} (p5, c0")) && l.contains("New client")),
        "the agent did not connect with MQTT 5 and clean start off:\n{log}"
    );

    // The broker goes away (it saves its sessions); alerts queue in the outbox meanwhile.
    block_in_place(|| broker.stop());
    site.badges(10);
    tokio::time::sleep(Duration::from_secs(2)).await;
    block_in_place(|| broker.start_again());
    let seen = platform.wait_until(LIMIT, |s| denied(s) >= 20).await;
    let max = no_gap(&seen).unwrap_or_else(|missing| panic!("lost: {missing:?}"));
    assert!(max >= 20, "{max}");

    // The agent is killed; a command sent meanwhile waits in its session at the broker.
    let Site { agent, .. } = site;
    block_in_place(|| agent.kill9());
    command(&platform, r#"{"id":"while-away","command":"snapshot"}"#).await;
    let config = dir.path().join("agent.toml");
    let events = dir.path().join("events.jsonl");
    let _agent = block_in_place(|| Agent::start(&config, &["--events", events.to_str().unwrap()]));
    let r = answer(&platform, "while-away").await;
    assert_eq!(r["ok"], true, "{r}");
    let seen = platform.seen();
    no_gap(&seen).unwrap_or_else(|missing| panic!("lost: {missing:?}"));
}
