//! For the staff page tests: a one-room nursery, events fed through `--events`, and a
//! minimal HTTP/1.1 client (enough for JSON requests and one server-sent events stream).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use nursery_testkit::{ev, Child, Door, Guardian, Reader, Room, Roster, Sensor, Staff};

use crate::agent::Agent;

/// PIN of `s-01` in [`roster`].
pub use nursery_testkit::PIN;

/// The babies of [`roster`], `c-01` to `c-04`.
pub const CHILDREN: [&str; 4] = ["小明", "小红", "小刚", "小丽"];

/// One infant room, one caregiver with a PIN (`s-01`), one without (`s-02`), four babies
/// about three months old on today's date, ratio grace 0 s, open round the clock, no
/// uplink, the page on a free port, storage in `dir/state`.
pub fn roster(dir: &Path) -> Roster {
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let born = (today - Days::days(100)).to_string();
    let mut roster = Roster::new()
        .facility("test-0001", "测试托育园")
        .hours("00:00", "23:59")
        .room(Room::new("infant", "乳儿班").capacity(10))
        .door(Door::new("entrance").name("大门"))
        .reader(Reader::attendance("attendance-reader"))
        .sensor(Sensor::new("t-infant", "infant").kind("virtual"))
        .staff(
            Staff::caregiver("s-01", "王老师", "infant")
                .card("10001")
                .pin_hash(nursery_testkit::PIN_HASH),
        )
        .staff(Staff::caregiver("s-02", "李老师", "infant").card("10002"));
    for (i, name) in CHILDREN.iter().enumerate() {
        let id = format!("c-0{}", i + 1);
        roster = roster.child(Child::new(&id, name, &born, "infant").guardians(["g-01"]));
    }
    roster
        .guardian(Guardian::new("g-01", "张女士").card("20001"))
        .rule("ratio_grace", "0s")
        .rule("sensor_stale_after", "6h")
        .rule("pickup_grace", "6h")
        .mqtt_off()
        .storage(&dir.join("state"))
        .listen("127.0.0.1:0")
}

/// Writes [`roster`] as `dir/agent.toml`; returns its path.
pub fn write_config(dir: &Path) -> PathBuf {
    roster(dir).write(dir)
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
        Nursery::start_with(|r| r)
    }

    /// As [`Nursery::start`], with [`roster`] changed by `edit` first (inputs added with
    /// `Roster::raw`, say).
    pub fn start_with(edit: impl FnOnce(Roster) -> Roster) -> Nursery {
        let dir = tempfile::tempdir().unwrap();
        let config = edit(roster(dir.path())).write(dir.path());
        let events = dir.path().join("events.jsonl");
        std::fs::write(&events, "").unwrap();
        let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
        let port = agent.page_port(Duration::from_secs(20));
        Nursery {
            agent,
            events,
            port,
            dir,
        }
    }

    /// Appends event lines (without `ts`: the agent stamps them on arrival).
    pub fn feed<S: AsRef<str>>(&self, lines: &[S]) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.events)
            .unwrap();
        f.write_all(ev::log(lines).as_bytes()).unwrap();
        f.flush().unwrap();
    }

    /// One caregiver and four babies: required 2, counted 1 — a ratio breach at once.
    pub fn cause_ratio_breach(&self) {
        let mut lines = vec![ev::check_in(ev::NOW, "s-01")];
        for c in 1..=4 {
            lines.push(ev::check_in(ev::NOW, &format!("c-0{c}")));
        }
        self.feed(&lines);
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
        wait_for_alert(self.port, kind, limit)
    }

    /// Logs `staff` in; returns (cookie header value, CSRF token).
    pub fn login(&self, staff: &str, pin: &str) -> (String, String) {
        login(self.port, staff, pin)
    }
}

/// Polls the page on `port`'s `/api/view` until an open alert of `kind` shows; returns
/// its id.
pub fn wait_for_alert(port: u16, kind: &str, limit: Duration) -> String {
    let end = std::time::Instant::now() + limit;
    loop {
        let v = request(port, "GET", "/api/view", &[], None).json();
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

/// Logs `staff` in on the page on `port`; returns (cookie header value, CSRF token).
pub fn login(port: u16, staff: &str, pin: &str) -> (String, String) {
    let body = serde_json::json!({ "staff": staff, "pin": pin }).to_string();
    let r = request(
        port,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "login: {}", r.body);
    let cookie = r.header("set-cookie").expect("a session cookie");
    // No script may read the session, and no other site's page may send it.
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} missing from the session cookie: {cookie}"
        );
    }
    let pair = cookie.split(';').next().unwrap().to_string();
    let csrf = r.json()["csrf"].as_str().unwrap().to_string();
    (pair, csrf)
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
