//! For the staff page tests: a one-room nursery, events fed through `--events`, and a
//! minimal HTTP/1.1 client (enough for JSON requests and one server-sent events stream).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Duration as Days, Utc};

use crate::agent::Agent;

/// PIN of `s-01` in [`write_config`]'s roster (the demo's hash for 1234).
pub const PIN: &str = "1234";
const PIN_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$/3wN1wh3k2D0gmT4hm9jbg$gZhKevQ5zhOzGFNmKaI/CqnJCq/RQuaaEThjZOuxwQA";

/// One infant room, one caregiver with a PIN (`s-01`), one without (`s-02`), four babies
/// about three months old on today's date, ratio grace 0 s. Returns the config's path.
pub fn write_config(dir: &Path) -> PathBuf {
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let born = today - Days::days(100);
    let mut children = String::new();
    for (i, name) in ["小明", "小红", "小刚", "小丽"].iter().enumerate() {
        children.push_str(&format!(
            "[[children]]\nid = \"c-0{n}\"\nname = \"{name}\"\nbirth_date = \"{born}\"\n\
             room = \"infant\"\nguardians = [\"g-01\"]\n\n",
            n = i + 1
        ));
    }
    let text = format!(
        r#"[facility]
id = "test-0001"
name = "测试托育园"
timezone = "Asia/Shanghai"
ratio_preset = "cn-2019"
open = "00:00"
close = "23:59"

[[rooms]]
id = "infant"
name = "乳儿班"
capacity = 10

[[doors]]
id = "entrance"
name = "大门"

[[readers]]
id = "attendance-reader"
purpose = "attendance"

[[sensors]]
id = "t-infant"
room = "infant"
kind = "virtual"

[[staff]]
id = "s-01"
name = "王老师"
card = "10001"
role = "caregiver"
room = "infant"
pin_hash = "{PIN_HASH}"

[[staff]]
id = "s-02"
name = "李老师"
card = "10002"
role = "caregiver"
room = "infant"

{children}[[guardians]]
id = "g-01"
name = "张女士"
card = "20001"

[rules]
ratio_grace = "0s"
sensor_stale_after = "6h"
pickup_grace = "6h"

[mqtt]
enabled = false

[storage]
dir = "{state}"

[dashboard]
listen = "127.0.0.1:0"
"#,
        state = dir.join("state").display()
    );
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A running agent of [`write_config`] with its events file and its page's port.
pub struct Nursery {
    pub agent: Agent,
    pub events: PathBuf,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Nursery {
    pub fn start() -> Nursery {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path());
        let events = dir.path().join("events.jsonl");
        std::fs::write(&events, "").unwrap();
        let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
        let line = agent.wait_for_line("staff page: http://", Duration::from_secs(20));
        let port = line
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Nursery {
            agent,
            events,
            port,
            dir,
        }
    }

    /// Appends event lines (without `ts`: the agent stamps them on arrival).
    pub fn feed(&self, lines: &[&str]) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.events)
            .unwrap();
        let mut text = String::new();
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        f.write_all(text.as_bytes()).unwrap();
        f.flush().unwrap();
    }

    /// One caregiver and four babies: required 2, counted 1 — a ratio breach at once.
    pub fn cause_ratio_breach(&self) {
        let mut lines =
            vec![r#"{"type":"attendance","person":"s-01","action":"check_in"}"#.to_string()];
        for c in 1..=4 {
            lines.push(format!(
                r#"{{"type":"attendance","person":"c-0{c}","action":"check_in"}}"#
            ));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        self.feed(&refs);
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        request(self.port, method, path, headers, body)
    }

    /// Polls `/api/view` until an open alert of `kind` shows; returns its id.
    pub fn wait_for_alert(&self, kind: &str, limit: Duration) -> String {
        let end = std::time::Instant::now() + limit;
        loop {
            let v = self.request("GET", "/api/view", &[], None).json();
            if let Some(a) = v["alerts"]
                .as_array()
                .and_then(|a| a.iter().find(|a| a["type"] == kind))
            {
                return a["alert_id"].as_str().unwrap().to_string();
            }
            assert!(
                std::time::Instant::now() < end,
                "no {kind} alert within {limit:?}; view: {v}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Logs `staff` in; returns (cookie header value, CSRF token).
    pub fn login(&self, staff: &str, pin: &str) -> (String, String) {
        let body = serde_json::json!({ "staff": staff, "pin": pin }).to_string();
        let r = self.request(
            "POST",
            "/api/login",
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 200, "login: {}", r.body);
        let cookie = r.header("set-cookie").expect("a session cookie");
        let pair = cookie.split(';').next().unwrap().to_string();
        let csrf = r.json()["csrf"].as_str().unwrap().to_string();
        (pair, csrf)
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

fn write_head(
    stream: &mut TcpStream,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    if let Some(b) = body {
        // The server may answer (413) and close before reading a large body.
        let _ = stream.write_all(b);
    }
}

/// One request on a fresh connection; the whole response (bodies here are never chunked).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write_head(&mut stream, port, method, path, headers, body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A live `/api/stream`: yields each event's (name, data) as it arrives.
pub struct EventStream {
    reader: BufReader<TcpStream>,
}

impl EventStream {
    pub fn open(port: u16) -> EventStream {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write_head(
            &mut stream,
            port,
            "GET",
            "/api/stream",
            &[("Accept", "text/event-stream")],
            None,
        );
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        // Skip the response head.
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        EventStream { reader }
    }

    /// The next event, or `None` when the stream ends or times out.
    pub fn next_event(&mut self) -> Option<(String, String)> {
        let (mut name, mut data) = (String::new(), String::new());
        let mut line = String::new();
        loop {
            line.clear();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            // The body is chunked: chunk-size lines are hex digits alone on a line.
            let l = line.trim_end_matches(['\r', '\n']);
            if let Some(v) = l.strip_prefix("event:") {
                name = v.trim().to_string();
            } else if let Some(v) = l.strip_prefix("data:") {
                data.push_str(v.trim_start());
            } else if l.is_empty() && !data.is_empty() {
                return Some((name, data));
            }
        }
    }
}
