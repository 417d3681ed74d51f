//! Alert latency on loopback: an event written into the agent's `--events` FIFO → the
//! alert received by a subscriber on a local mosquitto. Through the real binary, so the
//! figure includes parsing, the rules, the durable commit (`synchronous = FULL`), the
//! outbox and the MQTT link.
//!
//! Baseline in the same run: a bare rumqttc QoS 1 publish → the same subscriber, so the
//! broker's own share is visible. Prints p50/p99/max; asserts nothing about time.
//!
//! `cargo bench -p nursery-agent --bench alert_latency` (needs /usr/sbin/mosquitto).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nursery_testkit::{ev, Door, Reader, Room, Roster};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

const SAMPLES: usize = 300;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut broker = Command::new("/usr/sbin/mosquitto")
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto");
    wait_port(port);

    let (rx, _sub) = subscriber(port, "#");

    // Baseline: a bare QoS 1 publish to the same broker and subscriber.
    let mut o = MqttOptions::new("baseline", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = Client::new(o, 64);
    std::thread::spawn(move || for _ in conn.iter() {});
    let mut base = Vec::new();
    for i in 0..SAMPLES {
        let t = Instant::now();
        client
            .publish("bench/baseline", QoS::AtLeastOnce, false, format!("{i}"))
            .unwrap();
        wait_for(&rx, "bench/baseline");
        base.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }

    // The agent.
    let fifo = dir.path().join("events.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let config = dir.path().join("bench.toml");
    std::fs::write(&config, config_text(dir.path(), port)).unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_nursery-agent"))
        .args(["run", "--config", config.to_str().unwrap(), "--events"])
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(agent.stdout.take().unwrap());
    let mut lines = out.lines();
    for l in lines.by_ref() {
        if l.unwrap().starts_with("uplink:") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    // Wait until the link is up: the retained `online` status.
    wait_for(&rx, "/status");
    let mut agent_lat = Vec::new();
    for i in 0..SAMPLES {
        let line = ev::badge(ev::NOW, "entrance-reader", &format!("9{i:07}")) + "\n";
        let t = Instant::now();
        writer.write_all(line.as_bytes()).unwrap();
        writer.flush().unwrap();
        wait_for(&rx, "/alerts");
        agent_lat.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status();
    let _ = agent.wait();
    let _ = broker.kill();
    let _ = broker.wait();

    println!("alert latency on loopback, {SAMPLES} samples each");
    report("baseline  rumqttc QoS 1 publish → subscriber", &mut base);
    report(
        "agent     event in → alert at subscriber   ",
        &mut agent_lat,
    );
}

fn report(name: &str, v: &mut [Duration]) {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    println!(
        "{name}: p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        p(0.50).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3
    );
}

/// One room open round the clock, an entrance with its access reader, the uplink to the
/// bench's broker: the shared test kit's roster builder.
fn config_text(dir: &std::path::Path, port: u16) -> String {
    Roster::new()
        .facility("bench-0001", "bench")
        .hours("00:00", "23:59")
        .room(Room::new("r1", "r1"))
        .door(Door::new("entrance"))
        .reader(Reader::access("entrance-reader", "entrance"))
        .set("mqtt", "port", port)
        .storage(&dir.join("state"))
        .listen("127.0.0.1:0")
        .toml()
}

fn subscriber(port: u16, filter: &str) -> (mpsc::Receiver<String>, std::thread::JoinHandle<()>) {
    let mut o = MqttOptions::new("bench-sub", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = Client::new(o, 64);
    client.subscribe(filter, QoS::AtLeastOnce).unwrap();
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let _client = client;
        for ev in conn.iter() {
            match ev {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = ready_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p.topic.clone()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    (rx, h)
}

fn wait_for(rx: &mpsc::Receiver<String>, suffix: &str) {
    loop {
        let topic = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("nothing on …{suffix} within 10 s"));
        if topic.ends_with(suffix) {
            return;
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("mosquitto did not start");
}
