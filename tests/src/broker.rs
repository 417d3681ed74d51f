//! A real mosquitto for the MQTT tests: started on a free loopback port from a generated
//! configuration in a temporary directory, stopped and restarted on demand, killed on drop.
//! Plus a subscriber that records every message it sees.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A mosquitto process of our own. Its persistence file lives in its temporary directory, so
/// a stop (SIGTERM) and start keeps retained messages and persistent sessions.
pub struct Broker {
    pub port: u16,
    dir: tempfile::TempDir,
    conf: PathBuf,
    child: Option<Child>,
}

impl Broker {
    /// A plain-TCP broker on a free port, anonymous access allowed.
    pub fn start() -> Broker {
        let port = free_port();
        Broker::start_with(port, &format!("listener {port} 127.0.0.1\n"))
    }

    /// A plain-TCP broker on `port` that is not started yet (for "broker absent at start").
    pub fn not_started(port: u16) -> Broker {
        Broker::configure(port, &format!("listener {port} 127.0.0.1\n"))
    }

    /// A broker whose listeners are given by `listeners` (mosquitto.conf lines); `port` is
    /// the one waited on at start.
    pub fn start_with(port: u16, listeners: &str) -> Broker {
        let mut b = Broker::configure(port, listeners);
        b.start_again();
        b
    }

    fn configure(port: u16, listeners: &str) -> Broker {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let conf = dir.path().join("mosquitto.conf");
        let text = format!(
            "{listeners}allow_anonymous true\nuser root\nmax_queued_messages 0\npersistence true\npersistence_location {}/\n\
             log_dest file {}/mosquitto.log\nlog_type all\n",
            dir.path().display(),
            dir.path().display()
        );
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        Broker {
            port,
            dir,
            conf,
            child: None,
        }
    }

    /// The temporary directory (for certificates and the like).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts (or restarts) the process and waits until the port accepts connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto (apt-get install mosquitto)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the process with SIGTERM (it saves its persistence file) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The broker's log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One message as a subscriber saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// A subscriber (persistent session, QoS 1) recording everything under `filter`. It keeps
/// reconnecting, so it survives broker restarts without losing what was queued for it.
pub struct Collector {
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
    pub client: AsyncClient,
}

impl Collector {
    /// Subscribes and returns once the broker acknowledged the subscription.
    pub async fn start(port: u16, filter: &str) -> Collector {
        let id = format!("collector-{}", free_port());
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_clean_session(false);
        o.set_keep_alive(Duration::from_secs(5));
        o.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut el) = AsyncClient::new(o, 64);
        client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .expect("queue subscribe");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
        let mut subscribed_tx = Some(subscribed_tx);
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        sink.lock().unwrap().push(Seen {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        });
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(tx) = subscribed_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), subscribed_rx)
            .await
            .expect("subscription acknowledged in time")
            .expect("collector alive");
        Collector { seen, task, client }
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Messages seen on topics ending with `suffix`.
    pub fn on(&self, suffix: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|m| m.topic.ends_with(suffix))
            .collect()
    }

    /// Waits (up to `within`) until `done` holds for what was seen; returns what was seen.
    pub async fn wait_until(&self, within: Duration, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.seen();
            if done(&seen) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "condition not met within {within:?}; saw {} messages, the last: {:?}",
                seen.len(),
                seen.last()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}
