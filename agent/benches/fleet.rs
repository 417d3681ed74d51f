//! A fleet (issue 13.5): a city's nurseries against one broker. Starts `FLEET_AGENTS`
//! (default 200) real agent processes (the release binary, each the simulated demo nursery
//! under its own facility id, storage and page) against one local mosquitto of its own, lets
//! them connect and run, cuts the link for all of them at once (the broker stops) for
//! `FLEET_OUTAGE_SECS` (default 30), restores it, and prints:
//!
//! - the time until every agent is connected again, against the configured backoff cap
//!   (`reconnect_max`, the baseline of this run);
//! - the peak connections per second the broker saw after the restart, against the fleet's
//!   size (1.0 would be everyone in the same second: what the jitter must prevent);
//! - the time until every agent's backlog (what it had queued at the restore) is delivered
//!   and acknowledged, and until every outbox is empty at the same moment (which also waits
//!   on what the running agents commit after the restore);
//! - gaps per facility in what a subscriber standing in for the platform received (must be 0);
//! - resident memory per agent (min / median / max).
//!
//! `cargo bench -p nursery-agent --bench fleet` (needs /usr/sbin/mosquitto; about two
//! minutes and 3 GB of memory for 200 agents). Environment: `FLEET_AGENTS`,
//! `FLEET_OUTAGE_SECS`, `FLEET_RUN_SECS` (before the cut, default 30), `FLEET_SPEED` (simulation speed, default 300: the outage covers hours of a simulated morning, so every outbox has a backlog), `FLEET_RECONNECT_MAX`
//! (default "20s"), `NURSERY_BENCH_DIR`. It prints figures and asserts only that nothing was
//! lost.

#[path = "support/day.rs"]
mod day;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a whole number")),
        Err(_) => default,
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Our own mosquitto: persistent (so the platform's session survives the cut), logging
/// every connection with an epoch timestamp.
struct Broker {
    child: Option<Child>,
    port: u16,
    conf: PathBuf,
    log: PathBuf,
}

impl Broker {
    fn start(dir: &Path) -> Broker {
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        let log = dir.join("mosquitto.log");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nuser root\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nlog_dest file {}\nlog_type notice\n\
                 log_timestamp true\nlog_timestamp_format %s\nconnection_messages true\n\
                 max_queued_messages 100000\n",
                dir.display(),
                log.display()
            ),
        )
        .expect("mosquitto.conf");
        let mut b = Broker {
            child: None,
            port,
            conf,
            log,
        };
        b.start_again();
        b
    }

    fn start_again(&mut self) {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("mosquitto is installed (Debian package mosquitto)");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM (it saves its persistence), and wait.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    /// Epoch seconds of every "New client connected ... as <id>" at or after `since`, by id.
    fn connections_since(&self, since: u64) -> Vec<(u64, String)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let (ts, rest) = l.split_once(": ")?;
                let ts: u64 = ts.trim().parse().ok()?;
                if ts < since || !rest.starts_with("New client connected") {
                    return None;
                }
                let id = rest.split(" as ").nth(1)?.split_whitespace().next()?;
                Some((ts, id.to_string()))
            })
            .collect()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One agent process and its files.
struct AgentProc {
    facility: String,
    child: Child,
    db: PathBuf,
}

/// A bench that panics (a wait that times out) must not leave 200 agents running: each is
/// killed when its `AgentProc` goes, unless it was already reaped.
impl Drop for AgentProc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn facility_id(i: usize) -> String {
    format!("310115-{:04}", 1000 + i)
}

fn write_config(dir: &Path, i: usize, port: u16, speed: f64, reconnect_max: &str) -> PathBuf {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/demo.toml");
    let mut doc: toml::Table = std::fs::read_to_string(&demo)
        .expect("config/demo.toml")
        .parse()
        .expect("the demo config parses");
    let set = |doc: &mut toml::Table, table: &str, key: &str, v: toml::Value| {
        doc.get_mut(table)
            .and_then(toml::Value::as_table_mut)
            .unwrap_or_else(|| panic!("[{table}] in the demo config"))
            .insert(key.to_string(), v);
    };
    set(&mut doc, "facility", "id", facility_id(i).into());
    set(&mut doc, "mqtt", "enabled", true.into());
    set(&mut doc, "mqtt", "port", i64::from(port).into());
    set(&mut doc, "mqtt", "reconnect_max", reconnect_max.into());
    set(
        &mut doc,
        "storage",
        "dir",
        dir.join("state").display().to_string().into(),
    );
    set(&mut doc, "dashboard", "listen", "127.0.0.1:0".into());
    set(&mut doc, "simulation", "speed", speed.into());
    let path = dir.join("agent.toml");
    std::fs::write(&path, toml::to_string(&doc).expect("toml")).expect("agent.toml");
    path
}

fn pending(db: &Path) -> Option<u64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    nursery_agent::outbox::stats(&conn)
        .ok()
        .map(|s| s.durable_pending)
}

fn committed(db: &Path) -> u64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the agent's database");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    nursery_agent::outbox::stats(&conn)
        .expect("outbox stats")
        .next_seq
        - 1
}

/// The seqs still in an agent's outbox (not acknowledged by the broker).
fn still_queued(db: &Path) -> BTreeSet<u64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the agent's database");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    let mut stmt = conn.prepare("SELECT seq FROM outbox").expect("outbox");
    let rows = stmt
        .query_map([], |r| r.get::<_, i64>(0))
        .expect("outbox rows");
    rows.filter_map(Result::ok)
        .map(|s| s.max(0) as u64)
        .collect()
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn epoch_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The platform: a persistent QoS 1 session on every durable topic, recording seq per
/// facility.
fn platform(rt: &tokio::runtime::Runtime, port: u16) -> Arc<Mutex<HashMap<String, BTreeSet<u64>>>> {
    let seen: Arc<Mutex<HashMap<String, BTreeSet<u64>>>> = Arc::default();
    let sink = seen.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        let mut o = MqttOptions::new("fleet-platform", "127.0.0.1", port);
        o.set_clean_session(false);
        o.set_keep_alive(Duration::from_secs(10));
        o.set_max_packet_size(1 << 20, 1 << 20);
        o.set_inflight(200);
        let (client, mut el) = AsyncClient::new(o, 1024);
        for t in [
            "childcare/v1/+/alerts",
            "childcare/v1/+/summaries/daily",
            "childcare/v1/+/command-results",
        ] {
            client
                .subscribe(t, QoS::AtLeastOnce)
                .await
                .expect("subscribe");
        }
        let mut ready = Some(ready_tx);
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let v: serde_json::Value =
                        serde_json::from_slice(&p.payload).unwrap_or_default();
                    if let (Some(f), Some(seq)) = (v["facility"].as_str(), v["seq"].as_u64()) {
                        sink.lock()
                            .unwrap()
                            .entry(f.to_string())
                            .or_default()
                            .insert(seq);
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the platform subscribed");
    seen
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < limit, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
    t.elapsed()
}

fn main() {
    let n = env_u64("FLEET_AGENTS", 200) as usize;
    let outage = Duration::from_secs(env_u64("FLEET_OUTAGE_SECS", 30));
    let speed = env_u64("FLEET_SPEED", 300) as f64;
    let reconnect_max = std::env::var("FLEET_RECONNECT_MAX").unwrap_or_else(|_| "20s".into());
    let cap_s: u64 = reconnect_max
        .trim_end_matches('s')
        .parse()
        .expect("FLEET_RECONNECT_MAX in seconds, like \"20s\"");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_nursery-agent"));
    let root = day::bench_dir("fleet-");
    let mut broker = Broker::start(root.path());
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let seen = platform(&rt, broker.port);
    println!(
        "nursery-agent fleet: {n} agents ({}), simulation {speed}×, outage {}s, reconnect_max {reconnect_max}, broker 127.0.0.1:{}",
        bin.display(),
        outage.as_secs(),
        broker.port
    );

    let started = Instant::now();
    let since = epoch_s();
    let mut agents: Vec<AgentProc> = (0..n)
        .map(|i| {
            let dir = root.path().join(format!("a{i:03}"));
            std::fs::create_dir_all(&dir).expect("agent dir");
            let config = write_config(&dir, i, broker.port, speed, &reconnect_max);
            let child = Command::new(&bin)
                .arg("run")
                .arg("--config")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("an agent starts");
            AgentProc {
                facility: facility_id(i),
                child,
                db: dir.join("state").join("nursery-agent.db"),
            }
        })
        .collect();
    let ids: BTreeSet<String> = agents.iter().map(|a| a.facility.clone()).collect();
    let first = wait_until("every agent connects", Duration::from_secs(120), || {
        let c: BTreeSet<String> = broker
            .connections_since(since)
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        ids.is_subset(&c)
    });
    println!(
        "start: {n} agents connected {:.1}s after the first was started",
        first.as_secs_f64()
    );
    // Let the simulated mornings run (alerts flow) before the cut.
    std::thread::sleep(Duration::from_secs(env_u64("FLEET_RUN_SECS", 30)));
    let before: u64 = agents.iter().map(|a| committed(&a.db)).sum();

    // The cut: every link at once.
    broker.stop();
    let cut = Instant::now();
    std::thread::sleep(outage);
    let backlog: u64 = agents.iter().filter_map(|a| pending(&a.db)).sum();
    // Each agent's last seq committed before the restore: its backlog is every queued seq
    // up to it. The agents go on committing alerts at `speed`, so "every outbox empty at
    // the same moment" also waits on traffic that came after the outage.
    let held: Vec<u64> = agents.iter().map(|a| committed(&a.db)).collect();
    let restored_at = epoch_s();
    broker.start_again();
    let restored = Instant::now();
    println!(
        "cut: {}s with the broker down; {backlog} durable messages waiting in the fleet's outboxes ({before} committed before the cut)",
        cut.elapsed().as_secs_f64().round()
    );

    let reconnected = wait_until(
        "every agent reconnects",
        Duration::from_secs(cap_s * 3 + 60),
        || {
            let c: BTreeSet<String> = broker
                .connections_since(restored_at)
                .into_iter()
                .map(|(_, id)| id)
                .collect();
            ids.is_subset(&c)
        },
    );
    let mut per_second: BTreeMap<u64, u64> = BTreeMap::new();
    let mut counted = BTreeSet::new();
    for (ts, id) in broker.connections_since(restored_at) {
        if ids.contains(&id) && counted.insert(id) {
            *per_second.entry(ts).or_default() += 1;
        }
    }
    let (peak_at, peak) = per_second
        .iter()
        .max_by_key(|(_, c)| **c)
        .map(|(t, c)| (*t, *c))
        .unwrap_or((0, 0));
    wait_until(
        "every backlog is delivered",
        Duration::from_secs(cap_s * 3 + 120),
        || {
            agents
                .iter()
                .zip(&held)
                .all(|(a, &top)| still_queued(&a.db).first().is_none_or(|&s| s > top))
        },
    );
    let drained = restored.elapsed();
    wait_until(
        "every outbox is empty at once",
        Duration::from_secs(cap_s * 3 + 120),
        || agents.iter().all(|a| pending(&a.db) == Some(0)),
    );
    let emptied = restored.elapsed();

    // Stop the fleet cleanly, then look at what the platform holds against each outbox.
    let mut rss: Vec<u64> = agents
        .iter()
        .filter_map(|a| rss_kib(a.child.id()))
        .collect();
    rss.sort_unstable();
    for a in &agents {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(a.child.id().to_string())
            .status();
    }
    for a in &mut agents {
        let _ = a.child.wait();
    }
    // What the broker acknowledged may still be on its way to the platform: wait until the
    // count stops moving.
    let count = || {
        seen.lock()
            .unwrap()
            .values()
            .map(BTreeSet::len)
            .sum::<usize>()
    };
    let mut last = usize::MAX;
    while count() != last {
        last = count();
        std::thread::sleep(Duration::from_secs(2));
    }
    let got = seen.lock().unwrap().clone();
    let mut gaps_total = 0usize;
    let mut queued = 0usize;
    let mut worst = (String::new(), 0usize);
    let mut delivered = 0usize;
    for a in &agents {
        let upto = committed(&a.db);
        // Committed after the drain and not yet sent when the agent stopped: still in its
        // outbox, for the next connection; not a gap.
        let waiting = still_queued(&a.db);
        queued += waiting.len();
        let seqs = got.get(&a.facility).cloned().unwrap_or_default();
        let gaps = (1..=upto)
            .filter(|s| !seqs.contains(s) && !waiting.contains(s))
            .count();
        delivered += seqs.len();
        gaps_total += gaps;
        if gaps > worst.1 {
            worst = (a.facility.clone(), gaps);
        }
    }
    let median = rss.get(rss.len() / 2).copied().unwrap_or(0);
    println!(
        "reconnect: all {n} connected again {:.1}s after the restore ({:.2}× the {cap_s}s backoff cap)",
        reconnected.as_secs_f64(),
        reconnected.as_secs_f64() / cap_s as f64
    );
    println!(
        "connection rate: peak {peak}/s at +{}s ({:.2}× the fleet: 1.00 = everyone in one second), over {} distinct seconds",
        peak_at.saturating_sub(restored_at),
        peak as f64 / n as f64,
        per_second.len()
    );
    println!(
        "drain: every backlog delivered {:.1}s after the restore (every outbox empty at the same moment: {:.1}s)",
        drained.as_secs_f64(),
        emptied.as_secs_f64()
    );
    println!(
        "gaps: {gaps_total} missing seqs over {n} facilities ({delivered} distinct messages received, {queued} committed after the drain and still queued at the stop){}",
        if worst.1 > 0 {
            format!("; worst {} with {}", worst.0, worst.1)
        } else {
            String::new()
        }
    );
    println!(
        "memory: RSS per agent min {} KiB, median {median} KiB, max {} KiB",
        rss.first().copied().unwrap_or(0),
        rss.last().copied().unwrap_or(0)
    );
    println!(
        "fleet: {n} agents, reconnected in {:.1}s, peak {peak} connections/s, drained in {:.1}s, gaps {gaps_total}, median RSS {median} KiB (run {:.0}s)",
        reconnected.as_secs_f64(),
        drained.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        gaps_total, 0,
        "a facility has a gap in what the platform received"
    );
}
