//! Real brokers for the MQTT tests: Mosquitto, NATS server's MQTT gateway (JetStream-backed)
//! and RabbitMQ's MQTT plugin, each started by the test itself on free loopback ports from a
//! generated configuration in a temporary directory, stopped and restarted on demand with its
//! state (persistence file, JetStream store, Mnesia directory) kept, and killed on drop.
//! Plus a subscriber that records every message it sees.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";
/// The server script itself, not the `/usr/sbin` wrapper (which switches to the `rabbitmq`
/// user and the system node's directories).
pub const RABBITMQ_SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
/// Set (to anything but `0`) to run the RabbitMQ variants of the broker tests; see
/// [`Kind::Rabbit`].
pub const RABBITMQ_ENV: &str = "NURSERY_TEST_RABBITMQ";

/// Which broker a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Mosquitto 2 (the reference broker; every test uses it).
    Mosquitto,
    /// NATS server with JetStream and its MQTT gateway (3.1.1; no QoS 2 before 2.10, no
    /// shared subscriptions).
    Nats,
    /// RabbitMQ with the `rabbitmq_mqtt` plugin (3.1.1; QoS 2 downgraded to 1, retained
    /// messages only for filters without wildcards). Its node takes seconds to boot, so its
    /// tests are `#[ignore]`d and run when [`RABBITMQ_ENV`] is set (`scripts/test`).
    Rabbit,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mosquitto => "mosquitto",
            Kind::Nats => "nats",
            Kind::Rabbit => "rabbitmq",
        }
    }

    /// How long a start may take before the test fails.
    fn start_within(self) -> Duration {
        match self {
            Kind::Mosquitto | Kind::Nats => Duration::from_secs(15),
            Kind::Rabbit => Duration::from_secs(90),
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A broker process of our own, listening for MQTT on `port`. Its state lives in its
/// temporary directory, so a stop (SIGTERM) and start keeps retained messages and persistent
/// sessions.
pub struct Broker {
    pub port: u16,
    pub kind: Kind,
    dir: tempfile::TempDir,
    conf: PathBuf,
    /// Extra ports the broker needs besides MQTT (NATS clients; Erlang distribution).
    aux_ports: Vec<u16>,
    child: Option<Child>,
    /// How long each start took, until the MQTT port accepted connections.
    pub start_times: Vec<Duration>,
}

impl Broker {
    /// A plain-TCP Mosquitto on a free port, anonymous access allowed.
    pub fn start() -> Broker {
        Broker::start_kind(Kind::Mosquitto)
    }

    /// A broker of `kind` on a free port, anonymous access allowed.
    pub fn start_kind(kind: Kind) -> Broker {
        Broker::start_kind_on(kind, free_port())
    }

    /// A broker of `kind` on `port`, anonymous access allowed.
    pub fn start_kind_on(kind: Kind, port: u16) -> Broker {
        let mut b = Broker::not_started_kind(kind, port);
        b.start_again();
        b
    }

    /// A plain-TCP Mosquitto on `port` that is not started yet (for "broker absent at start").
    pub fn not_started(port: u16) -> Broker {
        Broker::not_started_kind(Kind::Mosquitto, port)
    }

    /// A broker of `kind` on `port` that is not started yet.
    pub fn not_started_kind(kind: Kind, port: u16) -> Broker {
        match kind {
            Kind::Mosquitto => {
                Broker::configure_mosquitto(port, &format!("listener {port} 127.0.0.1\n"))
            }
            Kind::Nats => Broker::configure_nats(port),
            Kind::Rabbit => Broker::configure_rabbit(port),
        }
    }

    /// A Mosquitto whose listeners are given by `listeners` (mosquitto.conf lines); `port` is
    /// the one waited on at start.
    pub fn start_with(port: u16, listeners: &str) -> Broker {
        let mut b = Broker::configure_mosquitto(port, listeners);
        b.start_again();
        b
    }

    fn new(kind: Kind, port: u16, dir: tempfile::TempDir, conf: PathBuf, aux: Vec<u16>) -> Broker {
        Broker {
            port,
            kind,
            dir,
            conf,
            aux_ports: aux,
            child: None,
            start_times: Vec::new(),
        }
    }

    fn configure_mosquitto(port: u16, listeners: &str) -> Broker {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let conf = dir.path().join("mosquitto.conf");
        let text = format!(
            "{listeners}allow_anonymous true\nuser root\nmax_queued_messages 0\npersistence true\npersistence_location {}/\n\
             log_dest file {}/mosquitto.log\nlog_type all\n",
            dir.path().display(),
            dir.path().display()
        );
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        Broker::new(Kind::Mosquitto, port, dir, conf, Vec::new())
    }

    /// NATS: a client listener on a port of its own (never the shared 4222), JetStream in the
    /// temporary directory (the MQTT gateway keeps sessions, retained messages and QoS 1
    /// messages there), MQTT on `port`.
    fn configure_nats(port: u16) -> Broker {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let conf = dir.path().join("nats.conf");
        let client_port = free_port();
        let text = format!(
            "server_name: nursery-test-{port}\nlisten: 127.0.0.1:{client_port}\n\
             jetstream {{\n  store_dir: \"{}/jetstream\"\n  max_memory_store: 64MB\n  max_file_store: 1GB\n}}\n\
             mqtt {{\n  listen: 127.0.0.1:{port}\n  ack_wait: \"2s\"\n}}\n",
            dir.path().display()
        );
        std::fs::write(&conf, text).expect("write nats.conf");
        Broker::new(Kind::Nats, port, dir, conf, vec![client_port])
    }

    /// RabbitMQ: a node of its own (its own name, Mnesia directory, plugins file, cookie in
    /// its own HOME, Erlang distribution port), no AMQP listener, MQTT on `port`; the shared
    /// node on 5672 is never touched.
    fn configure_rabbit(port: u16) -> Broker {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let conf = dir.path().join("rabbitmq.conf");
        let text = format!(
            "listeners.tcp = none\nmqtt.listeners.tcp.default = 127.0.0.1:{port}\n\
             mqtt.allow_anonymous = true\nloopback_users = none\nlog.file.level = info\n\
             log.console = false\n"
        );
        std::fs::write(&conf, text).expect("write rabbitmq.conf");
        std::fs::write(dir.path().join("enabled_plugins"), "[rabbitmq_mqtt].\n")
            .expect("write enabled_plugins");
        std::fs::write(dir.path().join("rabbitmq-env.conf"), "").expect("write rabbitmq-env.conf");
        Broker::new(
            Kind::Rabbit,
            port,
            dir,
            conf,
            vec![free_port(), free_port()],
        )
    }

    /// The temporary directory (for certificates and the like).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> Command {
        let d = self.dir.path();
        match self.kind {
            Kind::Mosquitto => {
                let mut c = Command::new(MOSQUITTO);
                c.arg("-c").arg(&self.conf);
                c
            }
            Kind::Nats => {
                let mut c = Command::new(NATS_SERVER);
                c.arg("-c")
                    .arg(&self.conf)
                    .arg("-l")
                    .arg(d.join("nats.log"));
                c
            }
            Kind::Rabbit => {
                let mut c = Command::new(RABBITMQ_SERVER);
                let node = format!("nursery-test-{}@localhost", self.port);
                c.env("HOME", d)
                    .env("RABBITMQ_NODENAME", node)
                    .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
                    .env("RABBITMQ_NODE_PORT", self.aux_ports[1].to_string())
                    .env("RABBITMQ_DIST_PORT", self.aux_ports[0].to_string())
                    .env("RABBITMQ_CONFIG_FILE", &self.conf)
                    .env("RABBITMQ_CONF_ENV_FILE", d.join("rabbitmq-env.conf"))
                    .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
                    .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
                    .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
                    .env("RABBITMQ_LOG_BASE", d.join("log"))
                    .env("RABBITMQ_PID_FILE", d.join("rabbitmq.pid"))
                    .env("RABBITMQ_PLUGINS_EXPAND_DIR", d.join("plugins-expand"))
                    .env("RABBITMQ_FEATURE_FLAGS_FILE", d.join("feature_flags"))
                    .env("ERL_EPMD_ADDRESS", "127.0.0.1");
                c
            }
        }
    }

    /// Starts (or restarts) the process and waits until the MQTT port accepts connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let began = Instant::now();
        let mut cmd = self.command();
        // A process group of its own, so that drop can end the whole tree (RabbitMQ's script
        // runs the Erlang VM as a child).
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "start {} ({e}; apt-get install mosquitto nats-server rabbitmq-server)",
                self.kind.name()
            )
        });
        self.child = Some(child);
        let deadline = began + self.kind.start_within();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            assert!(
                Instant::now() < deadline && exited.is_none(),
                "{} did not listen on {} (exit: {exited:?}): {}",
                self.kind.name(),
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.start_times.push(began.elapsed());
    }

    /// Stops the process with SIGTERM (it saves its state) and waits for it and for its MQTT
    /// port to close.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + self.kind.start_within();
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    kill_group(&mut child);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                if Instant::now() > deadline {
                    kill_group(&mut child);
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
        let d = self.dir.path();
        match self.kind {
            Kind::Mosquitto => std::fs::read_to_string(d.join("mosquitto.log")).unwrap_or_default(),
            Kind::Nats => std::fs::read_to_string(d.join("nats.log")).unwrap_or_default(),
            Kind::Rabbit => std::fs::read_dir(d.join("log"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect(),
        }
    }
}

/// SIGKILL to the child's whole process group, then reaps the child. Spelled `-s KILL --
/// -PGID`: procps-ng's `kill -KILL -PGID` signals process group 9 instead.
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--"])
        .arg(format!("-{}", child.id()))
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
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

/// Runs each scenario `async fn name(kind: Kind)` of the calling test file once per broker,
/// as the tests `mosquitto::name`, `nats::name` and `rabbitmq::name`; or, in the long form
/// (`mosquitto: [a, b], nats: [a, c], rabbitmq: [a, b]`), the scenarios listed per broker.
/// The RabbitMQ ones are ignored by default (a node takes seconds to boot): `scripts/test`
/// runs them when `NURSERY_TEST_RABBITMQ=1`, or run them with `cargo nextest run
/// --run-ignored all`.
#[macro_export]
macro_rules! per_broker {
    (
        mosquitto: [$($m:ident),* $(,)?],
        nats: [$($n:ident),* $(,)?],
        rabbitmq: [$($r:ident),* $(,)?] $(,)?
    ) => {
        mod mosquitto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $m() {
                    super::$m($crate::broker::Kind::Mosquitto).await
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $n() {
                    super::$n($crate::broker::Kind::Nats).await
                }
            )*
        }
        mod rabbitmq {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "a RabbitMQ node boots in seconds: NURSERY_TEST_RABBITMQ=1 scripts/test"]
                async fn $r() {
                    super::$r($crate::broker::Kind::Rabbit).await
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::per_broker!(
            mosquitto: [$($name),*],
            nats: [$($name),*],
            rabbitmq: [$($name),*],
        );
    };
}
