//! Presence on the staff page (issue 12 items 1 and 2): per room, who counts and who is
//! present but not counted and why — names for logged-in staff, counts on the public view —
//! and a logged-in member of staff marks a colleague on a break, at other work or back on
//! duty, journalled as a `presence` event; the ratio reacts at once.

use std::time::{Duration, Instant};

use nursery_agent_tests::agent::run;
use nursery_agent_tests::page::{Nursery, PIN};
use nursery_testkit::ev;
use serde_json::{json, Value};

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn infant(n: &Nursery) -> Value {
    let v = n.request("GET", "/api/view", &[], None).json();
    v["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "infant")
        .cloned()
        .expect("the infant room")
}

/// Polls the infant room until `ok` holds of it.
fn wait_for_room(n: &Nursery, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let room = infant(n);
        if ok(&room) {
            return room;
        }
        assert!(Instant::now() < end, "never {what}: {room}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alert_open(n: &Nursery, kind: &str) -> bool {
    let v = n.request("GET", "/api/view", &[], None).json();
    v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["type"] == kind)
}

#[test]
fn staff_mark_a_colleague_on_a_break_and_back_and_the_ratio_follows_at_once() {
    let n = Nursery::start();
    let mut lines = vec![ev::check_in(ev::NOW, "s-01"), ev::check_in(ev::NOW, "s-02")];
    for c in 1..=3 {
        lines.push(ev::check_in(ev::NOW, &format!("c-0{c}")));
    }
    n.feed(&lines);
    let room = wait_for_room(&n, "two staff and three babies", |r| {
        r["staff"] == 2 && r["children"] == 3
    });
    assert_eq!(
        room["not_counted"],
        json!({"break": 0, "other_work": 0, "certificate": 0, "role": 0})
    );

    let r = n.request(
        "POST",
        "/api/staff/s-02/presence/break",
        &[JSON],
        Some(b"{}"),
    );
    assert_eq!(r.status, 401, "without a session: {}", r.body);
    let (cookie, csrf) = n.login("s-01", PIN);
    let r = n.request(
        "POST",
        "/api/staff/s-02/presence/break",
        &[JSON, ("Cookie", &cookie)],
        Some(b"{}"),
    );
    assert_eq!(r.status, 403, "without the CSRF token: {}", r.body);
    let auth = [
        JSON,
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];

    let r = n.request("POST", "/api/staff/s-02/presence/break", &auth, Some(b"{}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"staff": "s-02", "presence": "break"}));
    // Answered once journalled: the view already shows it.
    let room = infant(&n);
    assert_eq!(
        (room["staff"].clone(), room["staff_present"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(room["not_counted"]["break"], 1);
    let public = n.request("GET", "/api/view", &[], None).body;
    assert!(
        !public.contains("李老师") && !public.contains("王老师"),
        "{public}"
    );

    let names = n
        .request("GET", "/api/names", &[("Cookie", cookie.as_str())], None)
        .json();
    assert_eq!(
        names["presence"]["s-02"],
        json!({"room": "infant", "presence": "break", "counted": false,
               "not_counted": [{"reason": "break"}]})
    );
    assert_eq!(names["presence"]["s-01"]["counted"], true);
    let r = n.request("GET", "/api/names", &[], None);
    assert_eq!(r.status, 401, "names are for staff: {}", r.body);

    // Both away: the babies are unsupervised at once (grace 0 s); one back resolves it.
    let r = n.request(
        "POST",
        "/api/staff/s-01/presence/other_work",
        &auth,
        Some(b"{}"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(alert_open(&n, "unsupervised_children"));
    let r = n.request(
        "POST",
        "/api/staff/s-02/presence/on_duty",
        &auth,
        Some(b"{}"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!alert_open(&n, "unsupervised_children"));
    assert_eq!(infant(&n)["not_counted"]["other_work"], 1);

    // Mistakes get a clear JSON error.
    let r = n.request("POST", "/api/staff/s-99/presence/break", &auth, Some(b"{}"));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("`s-99`"));
    let r = n.request(
        "POST",
        "/api/staff/s-02/presence/asleep",
        &auth,
        Some(b"{}"),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("on_duty"));
    n.feed(&[ev::check_out(ev::NOW, "s-02")]);
    wait_for_room(&n, "s-02 gone", |r| r["staff_present"] == 1);
    let r = n.request("POST", "/api/staff/s-02/presence/break", &auth, Some(b"{}"));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("not checked in"),
        "{}",
        r.body
    );

    // The journal has the three presence events the page made.
    let config = n.dir.path().join("agent.toml");
    let (st, exported, err) = run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    let presence: Vec<(String, String)> = exported
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["type"] == "presence")
        .map(|e| {
            (
                e["person"].as_str().unwrap().to_string(),
                e["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("s-02", "break"),
        ("s-01", "other_work"),
        ("s-02", "on_duty"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(presence, want, "{exported}");
}
