//! The staff page over HTTP, against the real binary: what it serves, how fast it is told,
//! and who may change what.

use std::time::{Duration, Instant};

use nursery_agent_tests::agent;
use nursery_agent_tests::page::{self, EventStream, Nursery, PIN};

const JSON: (&str, &str) = ("Content-Type", "application/json");

#[test]
fn the_page_and_its_assets_come_from_the_binary_and_weigh_under_100_kb() {
    let n = Nursery::start();
    let mut total = 0;
    for (path, kind) in [
        ("/", "text/html"),
        ("/wall", "text/html"),
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
    ] {
        let r = n.request("GET", path, &[], None);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type").unwrap().starts_with(kind),
            "{path}"
        );
        assert!(
            r.header("content-security-policy")
                .unwrap()
                .contains("default-src 'none'"),
            "{path}"
        );
        // Nothing is fetched from elsewhere: the only URL is the SVG namespace.
        let foreign: Vec<&str> = r
            .body
            .split(['"', '\'', ' ', '('])
            .filter(|w| {
                w.starts_with("http://")
                    || w.starts_with("https://")
                    || w.strip_prefix("//")
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphanumeric()))
            })
            .filter(|w| *w != "http://www.w3.org/2000/svg")
            .collect();
        assert!(foreign.is_empty(), "{path} refers to {foreign:?}");
        if path != "/wall" {
            total += r.body.len();
        }
    }
    println!("page load: {total} bytes (HTML + JS + CSS, uncompressed)");
    assert!(total < 100 * 1024, "the page weighs {total} bytes");
}

#[test]
fn a_ratio_breach_reaches_the_live_stream_within_a_second() {
    let n = Nursery::start();
    let mut stream = EventStream::open(n.port);
    let (name, first) = stream.next_event().expect("the current view at once");
    assert_eq!(name, "view");
    assert!(first.contains("\"alerts\":[]"), "{first}");

    let sent = Instant::now();
    n.cause_ratio_breach();
    let latency = loop {
        let (name, data) = stream.next_event().expect("a view with the breach");
        if name == "view" && data.contains("\"type\":\"ratio_breach\"") {
            break sent.elapsed();
        }
    };
    println!("event appended → SSE view with the breach: {latency:?}");
    assert!(
        latency < Duration::from_secs(1),
        "the breach took {latency:?} to reach the page"
    );
    let v: serde_json::Value = serde_json::from_str(&{
        let r = n.request("GET", "/api/view", &[], None);
        r.body
    })
    .unwrap();
    let room = &v["rooms"][0];
    assert_eq!(
        (
            room["children"].as_u64(),
            room["staff"].as_u64(),
            room["required"].as_u64()
        ),
        (Some(4), Some(1), Some(2))
    );
    assert_eq!(room["status"], "breach");
    assert_eq!(room["by_band"][0], 4);
}

#[test]
fn acknowledging_needs_a_session_and_its_csrf_token_and_is_journalled() {
    let n = Nursery::start();
    n.cause_ratio_breach();
    let id = n.wait_for_alert("ratio_breach", Duration::from_secs(10));
    let path = format!("/api/alerts/{id}/ack");

    let r = n.request("POST", &path, &[JSON], Some(b"{}"));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.json()["error"].is_string());

    let (cookie, csrf) = n.login("s-01", PIN);
    let r = n.request("POST", &path, &[JSON, ("Cookie", &cookie)], Some(b"{}"));
    assert_eq!(r.status, 403, "no token: {}", r.body);
    let r = n.request(
        "POST",
        &path,
        &[JSON, ("Cookie", &cookie), ("X-CSRF-Token", "0000")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 403, "wrong token: {}", r.body);
    let r = n.request(
        "POST",
        &path,
        &[
            JSON,
            ("Cookie", "nursery_session=forged"),
            ("X-CSRF-Token", &csrf),
        ],
        Some(b"{}"),
    );
    assert_eq!(r.status, 401, "forged session: {}", r.body);

    let r = n.request(
        "POST",
        &path,
        &[JSON, ("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        Some(b"{}"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["acknowledged"]["by"], "s-01");

    let v = n.request("GET", "/api/view", &[], None).json();
    let alert = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["alert_id"] == id.as_str())
        .expect("still open until resolved")
        .clone();
    assert_eq!(alert["acknowledged"]["by"], "s-01");

    let r = n.request(
        "POST",
        &path,
        &[JSON, ("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        None,
    );
    assert_eq!(r.status, 409, "twice: {}", r.body);

    let h = n.request("GET", "/api/history", &[], None).json();
    let acks: Vec<_> = h["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["alert_id"] == id.as_str() && t["state"] == "acknowledged")
        .collect();
    assert_eq!(acks.len(), 1, "history: {h}");
    assert_eq!(acks[0]["details"]["by"], "s-01");

    // Logging out ends the session.
    let r = n.request(
        "POST",
        "/api/logout",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = n.request("GET", "/api/session", &[("Cookie", &cookie)], None);
    assert_eq!(r.status, 401);
}

#[test]
fn unknown_alerts_malformed_and_oversized_requests_get_json_errors() {
    let n = Nursery::start();
    let (cookie, csrf) = n.login("s-01", PIN);
    let auth = [
        JSON,
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];

    let r = n.request("POST", "/api/alerts/no-such-alert/ack", &auth, Some(b"{}"));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("no-such-alert"));
    let r = n.request("POST", "/api/alerts/%E2%9C%93%00/ack", &auth, None);
    assert_eq!(r.status, 404, "{}", r.body);

    let big = vec![b'x'; 64 * 1024];
    let r = n.request("POST", "/api/alerts/a/ack", &auth, Some(&big));
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.json()["error"].is_string());
    let r = n.request("POST", "/api/login", &[JSON], Some(&big));
    assert_eq!(r.status, 413, "{}", r.body);

    for body in [
        &b"not json"[..],
        b"{\"staff\":1}",
        b"{\"staff\":\"s-01\",\"pin\":\"1\",\"x\":0}",
        b"",
    ] {
        let r = n.request("POST", "/api/login", &[JSON], Some(body));
        assert_eq!(
            r.status,
            400,
            "{:?}: {}",
            String::from_utf8_lossy(body),
            r.body
        );
        assert!(r.json()["error"].is_string());
    }

    let r = n.request(
        "POST",
        "/api/login",
        &[("Content-Type", "text/plain")],
        Some(br#"{"staff":"s-01","pin":"1234"}"#),
    );
    assert_eq!(r.status, 415, "{}", r.body);
    assert!(r.json()["error"].is_string());

    let r = n.request("GET", "/api/nothing-here", &[], None);
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());
    let r = n.request("DELETE", "/api/view", &[], None);
    assert_eq!(r.status, 405);
    assert!(r.json()["error"].is_string());
}

#[test]
fn guessing_pins_is_stopped_after_five_attempts_a_minute() {
    let n = Nursery::start();
    for (staff, pin) in [
        ("s-01", "0000"),
        ("s-01", "1111"),
        ("s-02", PIN), // on the roster, but with no PIN
        ("nobody", PIN),
        ("s-01", "2222"),
    ] {
        let body = serde_json::json!({ "staff": staff, "pin": pin }).to_string();
        let r = n.request("POST", "/api/login", &[JSON], Some(body.as_bytes()));
        assert_eq!(r.status, 401, "{staff}/{pin}: {}", r.body);
        assert!(r.header("set-cookie").is_none());
    }
    // The sixth, even with the right PIN, waits.
    let body = serde_json::json!({ "staff": "s-01", "pin": PIN }).to_string();
    let r = n.request("POST", "/api/login", &[JSON], Some(body.as_bytes()));
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    assert!(r.json()["error"].is_string());
}

#[test]
fn names_are_shown_only_to_logged_in_staff() {
    let n = Nursery::start();
    n.cause_ratio_breach();
    n.wait_for_alert("ratio_breach", Duration::from_secs(10));
    let public = n.request("GET", "/api/view", &[], None).body;
    for name in ["小明", "小红", "王老师", "张女士"] {
        assert!(
            !public.contains(name),
            "{name} in the public view: {public}"
        );
    }
    assert!(public.contains("乳儿班"));
    let r = n.request("GET", "/api/names", &[], None);
    assert_eq!(r.status, 401);

    let (cookie, _) = n.login("s-01", PIN);
    let names = n
        .request("GET", "/api/names", &[("Cookie", &cookie)], None)
        .json();
    assert_eq!(names["children"]["c-01"], "小明");
    assert_eq!(
        names["rooms"]["infant"]["children"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(names["rooms"]["infant"]["staff"][0], "s-01");
    let me = n
        .request("GET", "/api/session", &[("Cookie", &cookie)], None)
        .json();
    assert_eq!(me["name"], "王老师");
}

#[test]
fn check_config_refuses_a_pin_hash_of_absurd_cost_naming_the_staff_member_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let absurd = "$argon2id$v=19$m=4294967295,t=4294967295,p=255$c2FsdHNhbHRzYWx0$\
                  0/q8tPVTTfRQFH1IVo+Jzsgc0Ttfre5YxhXuGnFmkiw";
    let text = page::roster(dir.path())
        .toml()
        .replace(nursery_testkit::PIN_HASH, absurd);
    let path = nursery_testkit::write_config(dir.path(), &text);
    let (status, out, err) = agent::run(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(status.code(), Some(2), "{out}{err}");
    let line = text
        .lines()
        .position(|l| l.contains("m=4294967295"))
        .unwrap()
        + 1;
    let printed = format!("{out}{err}");
    let problem = printed
        .lines()
        .find(|l| l.contains("pin_hash"))
        .unwrap_or_else(|| panic!("no pin_hash problem in {printed}"));
    assert!(problem.contains(&format!(":{line}")), "{problem}");
    assert!(problem.contains("staff `s-01`"), "{problem}");
    assert!(problem.contains("costs too much"), "{problem}");
}
