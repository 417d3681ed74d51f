//! The receiver's test rig: a PostgreSQL database of its own per test (random name, dropped
//! at the end), the real `nursery-receiver` binary as a process, and a publisher standing in
//! for an agent.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{json, Value};

/// Where the tests' PostgreSQL server is, without a database name:
/// `NURSERY_RECEIVER_TEST_PG`, else the local server with trust auth (scripts/test sets
/// one up on a fresh machine).
pub fn server() -> String {
    std::env::var("NURSERY_RECEIVER_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres".into())
}

async fn admin() -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(
        &format!("{} dbname=postgres", server()),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {:?}: {e} (scripts/test installs and starts one)",
            server()
        )
    });
    tokio::spawn(conn);
    c
}

/// A database of this test's own, dropped on drop.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = format!("receiver_test_{:016x}", rand::random::<u64>());
        admin()
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        TestDb { name }
    }

    pub fn conninfo(&self) -> String {
        format!("{} dbname={}", server(), self.name)
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        let (c, conn) = tokio_postgres::connect(&self.conninfo(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let _ = admin()
                    .await
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

/// The real receiver binary, its stdout lines collected.
pub struct Receiver {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

pub const BIN: &str = env!("CARGO_BIN_EXE_nursery-receiver");

impl Receiver {
    /// `nursery-receiver run` against `port` and `db`, plus `extra`; returns once subscribed.
    pub fn start(port: u16, db: &TestDb, extra: &[&str]) -> Receiver {
        let id = format!("receiver-{:08x}", rand::random::<u32>());
        let own_id: &[&str] = if extra.contains(&"--client-id") {
            &[]
        } else {
            &["--client-id", &id]
        };
        let mut child = Command::new(BIN)
            .args([
                "run",
                "--port",
                &port.to_string(),
                "--database",
                &db.conninfo(),
            ])
            .args(own_id)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nursery-receiver");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut r = Receiver {
            child,
            lines,
            seen: Vec::new(),
        };
        r.wait_for_line("subscribed ", Duration::from_secs(20));
        r
    }

    pub fn wait_for_line(&mut self, needle: &str, limit: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let end = Instant::now() + limit;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line {needle:?} within {limit:?}; saw:\n{}",
            self.seen.join("\n")
        );
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nursery-receiver report --json`.
pub fn report(db: &TestDb) -> Value {
    let out = Command::new(BIN)
        .args(["report", "--json", "--database", &db.conninfo()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `nursery-receiver report` (text).
pub fn report_text(db: &TestDb) -> String {
    let out = Command::new(BIN)
        .args(["report", "--database", &db.conninfo()])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// The report's entry for `facility` (Null when absent).
pub fn facility(report: &Value, facility: &str) -> Value {
    report["facilities"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["facility"] == facility))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Polls the report until `done` holds for `facility`'s entry; returns it.
pub async fn wait_report(
    db: &TestDb,
    name: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let end = Instant::now() + within;
    loop {
        let f = facility(&tokio::task::block_in_place(|| report(db)), name);
        if done(&f) {
            return f;
        }
        assert!(
            Instant::now() < end,
            "report not as expected within {within:?}: {f:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `GET path` over plain HTTP/1.1; the body.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// A stand-in for an agent: publishes envelopes, statuses and command results as the
/// contract says (docs/mqtt/).
pub struct Stand {
    pub client: AsyncClient,
    pub facility: String,
    task: tokio::task::JoinHandle<()>,
}

impl Stand {
    pub async fn start(port: u16, facility: &str) -> Stand {
        let mut o = MqttOptions::new(
            format!("stand-{:08x}", rand::random::<u32>()),
            "127.0.0.1",
            port,
        );
        o.set_keep_alive(Duration::from_secs(5));
        let (client, mut el) = AsyncClient::new(o, 64);
        let task = tokio::spawn(async move {
            loop {
                if el.poll().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
        Stand {
            client,
            facility: facility.into(),
            task,
        }
    }

    pub async fn raw(&self, channel: &str, payload: impl Into<Vec<u8>>, retain: bool) {
        self.client
            .publish(
                format!("childcare/v1/{}/{channel}", self.facility),
                QoS::AtLeastOnce,
                retain,
                payload.into(),
            )
            .await
            .unwrap();
    }

    pub async fn status(&self, state: &str) {
        let s = json!({"state":state,"version":"0.1.0","since":"2026-03-02T00:00:00Z","clock_synced":true});
        self.raw("status", s.to_string(), true).await;
    }

    /// The alert envelope of `seq` with id `id`.
    pub fn alert(&self, seq: i64, id: &str) -> Value {
        json!({"schema":"nursery-agent/1","facility":self.facility,"seq":seq,"id":id,"kind":"alert",
               "created_at":"2026-03-02T01:16:00Z",
               "body":{"alert_id":id,"type":"ratio_breach","state":"raised","severity":"critical",
                       "ts":"2026-03-02T09:16:00+08:00","room":"toddler","details":{}}})
    }

    pub async fn send(&self, envelope: &Value) {
        let channel = match envelope["kind"].as_str() {
            Some("command_result") => "command-results",
            Some("summary") => "summaries/daily",
            _ => "alerts",
        };
        self.raw(channel, envelope.to_string(), false).await;
    }

    /// Alerts `seqs`, ids `a-{seq}`.
    pub async fn alerts(&self, seqs: impl IntoIterator<Item = i64>) {
        for s in seqs {
            self.send(&self.alert(s, &format!("a-{s}"))).await;
        }
    }

    /// The command result envelope of `seq` answering `command_id` with `body` fields.
    pub fn result(&self, seq: i64, command_id: &str, mut body: Value) -> Value {
        body["command_id"] = json!(command_id);
        json!({"schema":"nursery-agent/1","facility":self.facility,"seq":seq,
               "id":format!("command:{command_id}"),"kind":"command_result",
               "created_at":"2026-03-02T01:17:00Z","body":body})
    }
}

impl Drop for Stand {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every resend command seen so far on `collector` (parsed).
pub fn commands(c: &nursery_agent_tests::broker::Collector) -> Vec<Value> {
    c.on("/commands")
        .iter()
        .map(|m| m.json())
        .filter(|v| v["command"] == "resend")
        .collect()
}

/// The ranges of the facility's report, as `[from, to]` pairs.
pub fn ranges(v: &Value) -> Vec<(i64, i64)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| (r["from"].as_i64().unwrap(), r["to"].as_i64().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}
