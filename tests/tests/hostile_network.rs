//! A hostile network between the agent and the broker (issue 14.5), on the real kernel:
//! the broker in a network namespace of its own behind a veth pair, the real agent binary in
//! the test's namespace, and between them 30 % packet loss, a 2 s delay, a partition and a
//! link that flaps. Alerts are counted by a subscriber *inside* the broker's namespace (on
//! its loopback, which nothing impairs), so what it sees is what reached the broker.
//!
//! How the impairments are made. The kernel here has no `sch_netem` (tc's netem qdisc is
//! "unknown", and there are no modules to load), so the test uses what it has:
//! * loss: nftables in the broker's namespace, `numgen random mod 100 < 30 drop`, on the
//!   veth in each direction (each packet crosses one rule: 30 % per packet);
//! * delay: a relay in this test between the agent and the veth that holds every chunk of
//!   bytes 2 s in each direction (so an MQTT round trip takes over 4 s);
//! * partition: nftables drops everything on the veth, for `NURSERY_PARTITION_SECS`
//!   (20 s by default, the CI run; `NURSERY_PARTITION_SECS=300` is the five minutes of the
//!   issue);
//! * flapping: the veth goes down and up every 3 s.
//!
//! Without root, namespaces or `nft`, the test prints `SKIPPED: <reason>` and returns.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{demo_config, Agent};
use nursery_agent_tests::broker::MOSQUITTO;

const FACILITY: &str = "310115-0042";
const DELAY: Duration = Duration::from_secs(2);
const LOSS_PERCENT: u32 = 30;
/// One badge with an unknown card (one `badge_denied` alert) every this often.
const BADGE_EVERY: Duration = Duration::from_millis(500);

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The broker's namespace and the veth pair into it; removed on drop.
struct Net {
    ns: String,
    outside: String,
    inside: String,
    broker_ip: String,
}

impl Net {
    fn create() -> Result<Net, String> {
        let id = std::process::id() % 50_000;
        let subnet = format!("10.{}.{}", 200 + id % 50, id % 250);
        let net = Net {
            ns: format!("nursery-hostile-{id}"),
            outside: format!("nho{id}"),
            inside: format!("nhi{id}"),
            broker_ip: format!("{subnet}.2"),
        };
        let host_ip = format!("{subnet}.1");
        sh(&["ip", "netns", "add", &net.ns])?;
        let host_addr = format!("{host_ip}/24");
        let steps: [&[&str]; 4] = [
            &[
                "ip",
                "link",
                "add",
                &net.outside,
                "type",
                "veth",
                "peer",
                "name",
                &net.inside,
            ],
            &["ip", "link", "set", &net.inside, "netns", &net.ns],
            &["ip", "addr", "add", &host_addr, "dev", &net.outside],
            &["ip", "link", "set", &net.outside, "up"],
        ];
        for s in steps {
            sh(s)?;
        }
        let addr = format!("{}/24", net.broker_ip);
        net.exec(&["ip", "addr", "add", &addr, "dev", &net.inside])?;
        net.exec(&["ip", "link", "set", &net.inside, "up"])?;
        net.exec(&["ip", "link", "set", "lo", "up"])?;
        net.exec(&["nft", "add", "table", "inet", "hostile"])?;
        for (chain, hook) in [("in", "input"), ("out", "output")] {
            let spec = format!("{{ type filter hook {hook} priority 0; policy accept; }}");
            net.exec(&["nft", "add", "chain", "inet", "hostile", chain, &spec])?;
        }
        Ok(net)
    }

    fn exec(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["ip", "netns", "exec", &self.ns];
        all.extend_from_slice(args);
        sh(&all)
    }

    /// Drops `percent` % of the packets crossing the veth (100: a partition; 0: none).
    fn loss(&self, percent: u32) {
        for chain in ["in", "out"] {
            self.exec(&["nft", "flush", "chain", "inet", "hostile", chain])
                .expect("flush");
            if percent == 0 {
                continue;
            }
            let dir = if chain == "in" { "iifname" } else { "oifname" };
            let verdict = if percent >= 100 {
                format!("{dir} {} drop", self.inside)
            } else {
                format!(
                    "{dir} {} numgen random mod 100 < {percent} drop",
                    self.inside
                )
            };
            let mut args = vec!["nft", "add", "rule", "inet", "hostile", chain];
            args.extend(verdict.split(' '));
            self.exec(&args).expect("nft rule");
        }
    }

    fn link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        self.exec(&["ip", "link", "set", &self.inside, state])
            .expect("ip link set");
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = sh(&["ip", "link", "del", &self.outside]);
        let _ = sh(&["ip", "netns", "del", &self.ns]);
    }
}

/// Why the test cannot run here, if it cannot.
fn unsupported() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("needs root for network namespaces (ip netns)".into());
    }
    for tool in ["ip", "nft", "mosquitto_sub"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            return Some(format!(
                "`{tool}` is not installed (scripts/test installs it)"
            ));
        }
    }
    None
}

/// A process in the broker's namespace, killed on drop.
struct InNs(Child);

impl Drop for InNs {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The relay between the agent (on loopback) and the broker (through the veth): every chunk
/// waits `DELAY` in each direction while the delay is on.
struct Relay {
    port: u16,
    delaying: Arc<AtomicBool>,
    connections: Arc<AtomicU64>,
}

impl Relay {
    fn start(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let port = listener.local_addr().unwrap().port();
        let delaying = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let (d, c) = (delaying.clone(), connections.clone());
        std::thread::spawn(move || {
            for agent in listener.incoming().map_while(Result::ok) {
                let Ok(broker) = TcpStream::connect_timeout(
                    &upstream.parse().expect("an address"),
                    Duration::from_secs(3),
                ) else {
                    continue; // the agent sees its connection close, and retries
                };
                c.fetch_add(1, Ordering::Relaxed);
                pipe(
                    agent.try_clone().unwrap(),
                    broker.try_clone().unwrap(),
                    d.clone(),
                );
                pipe(broker, agent, d.clone());
            }
        });
        Relay {
            port,
            delaying,
            connections,
        }
    }
}

/// Copies `from` into `to`, each chunk held `DELAY` when the delay is on.
fn pipe(mut from: TcpStream, mut to: TcpStream, delaying: Arc<AtomicBool>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = Instant::now()
                        + if delaying.load(Ordering::Relaxed) {
                            DELAY
                        } else {
                            Duration::ZERO
                        };
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = from.shutdown(Shutdown::Both);
    });
    std::thread::spawn(move || {
        for (due, bytes) in rx {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// Resident memory of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn partition_secs() -> u64 {
    std::env::var("NURSERY_PARTITION_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

/// Enveloped messages the subscriber saw, in order: (seq, id, kind, body type).
fn envelopes(lines: &[String]) -> Vec<(u64, String, String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let (_topic, payload) = l.split_once(' ')?;
            let v: serde_json::Value = serde_json::from_str(payload).ok()?;
            Some((
                v["seq"].as_u64()?,
                v["id"].as_str()?.to_owned(),
                v["kind"].as_str().unwrap_or_default().to_owned(),
                v["body"]["type"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

#[test]
fn every_alert_crosses_loss_delay_a_partition_and_a_flapping_link_in_seq_order() {
    if let Some(why) = unsupported() {
        println!("SKIPPED: {why}");
        return;
    }
    let net = match Net::create() {
        Ok(n) => n,
        Err(why) => {
            println!("SKIPPED: cannot build the namespaces: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let port = 1883;

    // The broker, listening on every address of its namespace.
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port}\nallow_anonymous true\nuser root\nmax_queued_messages 0\n"),
    )
    .unwrap();
    let _broker = InNs(
        Command::new("ip")
            .args(["netns", "exec", &net.ns, MOSQUITTO, "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto in the namespace"),
    );
    // The subscriber at the broker's side: its loopback, which nothing impairs.
    let start = Instant::now();
    let mut sub = loop {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &net.ns, "mosquitto_sub", "-h", "127.0.0.1"])
            .args([
                "-p",
                &port.to_string(),
                "-q",
                "1",
                "-v",
                "-c",
                "-i",
                "hostile-collector",
            ])
            .args(["-t", &format!("childcare/v1/{FACILITY}/#")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto_sub in the namespace");
        std::thread::sleep(Duration::from_millis(300));
        if child.try_wait().unwrap().is_none() {
            break InNs(child);
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "mosquitto_sub cannot subscribe"
        );
    };
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    {
        let out = sub.0.stdout.take().unwrap();
        let seen = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                seen.lock().unwrap().push(line);
            }
        });
    }

    let relay = Relay::start(format!("{}:{port}", net.broker_ip));
    let config = agent_config(dir.path(), relay.port);
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    agent.wait_for_line("events from", Duration::from_secs(20));
    let pid = agent.child.id();

    // Wait for `online` at the broker: the link works before it is attacked.
    wait(&seen, Duration::from_secs(30), |l| {
        l.iter()
            .any(|l| l.contains("/status") && l.contains("online"))
    });
    let baseline_rss = rss_kib(pid);

    let fed = Arc::new(AtomicU64::new(0));
    let feeding = Arc::new(AtomicBool::new(true));
    let feeder = {
        let (fed, feeding, events) = (fed.clone(), feeding.clone(), events.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&events)
                .unwrap();
            while feeding.load(Ordering::Relaxed) {
                let n = fed.fetch_add(1, Ordering::Relaxed);
                writeln!(
                    f,
                    r#"{{"type":"badge","reader":"entrance-reader","card":"99{n:06}"}}"#
                )
                .unwrap();
                std::thread::sleep(BADGE_EVERY);
            }
        })
    };
    let mut peak_rss = baseline_rss;
    let mut watch = |secs: u64| {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            peak_rss = peak_rss.max(rss_kib(pid));
            std::thread::sleep(Duration::from_millis(250));
        }
    };

    let mut phases = Vec::new();
    let phase = |name: String, secs: u64| (name, secs, envelopes(&seen.lock().unwrap()).len());

    // 1. 30 % loss each way and 2 s each way.
    let p = phase(
        format!("{LOSS_PERCENT} % loss + {}s delay", DELAY.as_secs()),
        20,
    );
    net.loss(LOSS_PERCENT);
    relay.delaying.store(true, Ordering::Relaxed);
    watch(p.1);
    phases.push(p);
    // 2. A partition: nothing crosses.
    let secs = partition_secs();
    let p = phase(format!("partition {secs}s"), secs);
    net.loss(100);
    watch(p.1);
    phases.push(p);
    // 3. The link flaps: 3 s down, 3 s up, with the loss and the delay still on.
    let p = phase("link flapping every 3s".into(), 18);
    net.loss(LOSS_PERCENT);
    for _ in 0..3 {
        net.link(false);
        watch(3);
        net.link(true);
        watch(3);
    }
    phases.push(p);
    // 4. The network heals; the badges stop; everything must arrive.
    feeding.store(false, Ordering::Relaxed);
    feeder.join().unwrap();
    net.loss(0);
    relay.delaying.store(false, Ordering::Relaxed);
    let fed = fed.load(Ordering::Relaxed);
    let healed = Instant::now();
    let lines = wait(&seen, Duration::from_secs(90), |l| {
        let denied: std::collections::HashSet<String> = envelopes(l)
            .into_iter()
            .filter(|e| e.3 == "badge_denied")
            .map(|e| e.1)
            .collect();
        denied.len() as u64 >= fed
    });
    let drained_in = healed.elapsed();
    peak_rss = peak_rss.max(rss_kib(pid));

    let env = envelopes(&lines);
    // Every alert delivered: one badge_denied per badge fed, each its own message.
    let mut ids_by_seq = std::collections::BTreeMap::new();
    for (seq, id, _, _) in &env {
        let first = ids_by_seq.entry(*seq).or_insert_with(|| id.clone());
        assert_eq!(first, id, "seq {seq} delivered twice with different ids");
    }
    let max = *ids_by_seq.keys().last().expect("messages arrived");
    let missing: Vec<u64> = (1..=max).filter(|s| !ids_by_seq.contains_key(s)).collect();
    assert!(missing.is_empty(), "seq gaps at the broker: {missing:?}");
    let denied = env.iter().filter(|e| e.3 == "badge_denied").map(|e| &e.1);
    let denied: std::collections::HashSet<&String> = denied.collect();
    assert_eq!(denied.len() as u64, fed, "every badge_denied delivered");
    // Order: the contract promises a gap-free seq, not arrival order; a resend after a
    // reconnect repeats what was unacknowledged. What it may not do is deliver a later
    // message for the first time before an earlier one: count first deliveries out of order.
    let mut first_seen = Vec::new();
    let mut known = std::collections::HashSet::new();
    for (seq, ..) in &env {
        if known.insert(*seq) {
            first_seen.push(*seq);
        }
    }
    let out_of_order = first_seen.windows(2).filter(|w| w[1] < w[0]).count();
    let duplicates = env.len() - ids_by_seq.len();
    // Memory bounded: the backlog is on disk, not in memory.
    assert!(
        peak_rss < baseline_rss + 32 * 1024,
        "resident memory grew from {baseline_rss} KiB to {peak_rss} KiB"
    );

    println!(
        "hostile network: {fed} alerts raised, {} delivered, {} messages in seq 1..={max}, no gap",
        denied.len(),
        ids_by_seq.len()
    );
    let mut bounds: Vec<usize> = phases.iter().map(|p| p.2).collect();
    bounds.push(env.len());
    for (i, (name, secs, _)) in phases.iter().enumerate() {
        println!(
            "  {name:<28} {secs:>4}s: {:>4} messages reached the broker",
            bounds[i + 1].saturating_sub(bounds[i])
        );
    }
    println!(
        "  healed: the rest within {:.1}s; duplicates (resent, same id) {duplicates}; first deliveries out of seq order {out_of_order}; relay connections {}; rss {baseline_rss} -> peak {peak_rss} KiB",
        drained_in.as_secs_f64(),
        relay.connections.load(Ordering::Relaxed)
    );
    assert_eq!(
        out_of_order, 0,
        "a message first delivered before an earlier one"
    );
    drop(agent);
}

/// The demo roster without its simulation (the test feeds the events), reporting to the
/// relay, with short keep-alive and reconnect bounds so that a dead link is seen in seconds.
fn agent_config(dir: &Path, relay_port: u16) -> PathBuf {
    let path = demo_config(dir, 60.0);
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    doc["simulation"]["enabled"] = toml_edit::value(false);
    doc["mqtt"]["enabled"] = toml_edit::value(true);
    doc["mqtt"]["host"] = toml_edit::value("127.0.0.1");
    doc["mqtt"]["port"] = toml_edit::value(i64::from(relay_port));
    doc["mqtt"]["keep_alive"] = toml_edit::value("5s");
    doc["mqtt"]["reconnect_max"] = toml_edit::value("4s");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// Waits until `done` holds for the subscriber's lines; returns them.
fn wait(
    seen: &Arc<Mutex<Vec<String>>>,
    within: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let end = Instant::now() + within;
    loop {
        let lines = seen.lock().unwrap().clone();
        if done(&lines) {
            return lines;
        }
        assert!(
            Instant::now() < end,
            "not within {within:?}; the broker saw {} messages, the last: {:?}",
            lines.len(),
            lines.last()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
