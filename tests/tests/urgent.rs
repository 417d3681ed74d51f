//! A panic button or a fire alarm goes upstream ahead of any backlog (issue 15.2): the real
//! binary builds a backlog of thousands of alerts while its broker is down, then a panic
//! button is pressed; when the broker returns, the platform hears the panic first, and the
//! whole stream still arrives, every seq once.

use std::collections::BTreeSet;
use std::time::Duration;

use nursery_agent_tests::agent::Agent;
use nursery_agent_tests::broker::{Broker, Collector, Seen};
use nursery_testkit::{ev, Roster};
use tokio::task::block_in_place;

const LIMIT: Duration = Duration::from_secs(90);
const BACKLOG: usize = 3000;

fn alerts(seen: &[Seen]) -> Vec<serde_json::Value> {
    seen.iter()
        .filter(|m| m.topic.ends_with("/alerts"))
        .map(Seen::json)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_press_reaches_the_platform_before_a_backlog_of_thousands_queued_ahead_of_it() {
    let mut broker = Broker::start();
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    broker.stop();

    let dir = tempfile::tempdir().unwrap();
    let config = Roster::sunflower()
        .hours("00:00", "23:59")
        .storage(&dir.path().join("state"))
        .listen("127.0.0.1:0")
        .set("mqtt", "host", "127.0.0.1")
        .set("mqtt", "port", i64::from(broker.port))
        .set("mqtt", "reconnect_max", "1s")
        .raw("\n[[inputs]]\nid = \"panic-office\"\nname = \"办公室\"\nkind = \"panic\"\n")
        .write(dir.path());
    // Unknown cards at the entrance: one badge_denied alert each, the backlog.
    let mut lines: Vec<String> = (0..BACKLOG)
        .map(|i| ev::badge(ev::NOW, "entrance-reader", &format!("9{i:06}")))
        .collect();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, ev::log(&lines)).unwrap();

    let agent = block_in_place(|| {
        let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
        agent.wait_for_line("uplink: mqtt://", LIMIT);
        agent
    });
    let db = dir.path().join("state").join("nursery-agent.db");
    let pending = || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        nursery_agent::outbox::stats(&conn).map_or(0, |s| s.durable_pending)
    };
    block_in_place(|| {
        let deadline = std::time::Instant::now() + LIMIT;
        while pending() < BACKLOG as u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "backlog not built: {}",
                pending()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    lines.clear();
    lines.push(ev::line(
        ev::NOW,
        "input",
        &[("input", "panic-office".into()), ("state", "active".into())],
    ));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&events)
        .unwrap();
    std::io::Write::write_all(&mut f, ev::log(&lines).as_bytes()).unwrap();
    block_in_place(|| {
        let deadline = std::time::Instant::now() + LIMIT;
        while pending() <= BACKLOG as u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "panic not committed: {}",
                pending()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    });

    broker.start_again();
    platform
        .wait_until(LIMIT, |s| {
            alerts(s)
                .iter()
                .filter_map(|e| e["seq"].as_u64())
                .collect::<BTreeSet<_>>()
                .len()
                > BACKLOG
        })
        .await;
    let got = alerts(&platform.seen());
    let panic_at = got
        .iter()
        .position(|e| e["body"]["type"] == "panic_button")
        .expect("the panic alert arrived");
    let panic_seq = got[panic_at]["seq"].as_u64().unwrap();
    assert!(
        panic_seq > BACKLOG as u64,
        "queued after the backlog: seq {panic_seq}"
    );
    assert!(
        panic_at < 64,
        "the panic alert was message {panic_at} of the catch-up; it should lead it"
    );
    let seqs: BTreeSet<u64> = got.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let missing: Vec<u64> = (1..=panic_seq).filter(|s| !seqs.contains(s)).collect();
    assert!(missing.is_empty(), "seq gaps: {missing:?}");
    let panics = got
        .iter()
        .filter(|e| e["body"]["type"] == "panic_button")
        .count();
    assert_eq!(panics, 1, "sent ahead once, not again in its place");
    block_in_place(|| drop(agent));
}
