//! Naps on the staff page (issue 15.1): a logged-in member of staff starts a room's nap,
//! records a sleep check in one tap and ends the nap; each is journalled under their staff
//! id, and everything else gets a clear JSON error.

use std::time::Duration;

use nursery_agent_tests::agent::run;
use nursery_agent_tests::page::{Nursery, PIN};

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn infant(n: &Nursery) -> serde_json::Value {
    let v = n.request("GET", "/api/view", &[], None).json();
    v["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "infant")
        .cloned()
        .expect("the infant room")
}

#[test]
fn staff_start_a_nap_check_it_in_one_tap_and_end_it_each_journalled_under_their_id() {
    let n = Nursery::start();
    n.cause_ratio_breach();
    n.wait_for_alert("ratio_breach", Duration::from_secs(10));
    assert!(infant(&n)["nap"].is_null());

    let r = n.request("POST", "/api/rooms/infant/nap/start", &[JSON], Some(b"{}"));
    assert_eq!(r.status, 401, "without a session: {}", r.body);
    let (cookie, csrf) = n.login("s-01", PIN);
    let auth = [
        JSON,
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];
    let r = n.request(
        "POST",
        "/api/rooms/infant/nap/start",
        &[JSON, ("Cookie", &cookie)],
        Some(b"{}"),
    );
    assert_eq!(r.status, 403, "without the CSRF token: {}", r.body);

    let r = n.request("POST", "/api/rooms/infant/sleep-check", &auth, Some(b"{}"));
    assert_eq!(r.status, 409, "a check with no nap: {}", r.body);
    assert!(
        r.json()["error"].as_str().unwrap().contains("no nap"),
        "{}",
        r.body
    );

    let r = n.request("POST", "/api/rooms/infant/nap/start", &auth, Some(b"{}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let nap = infant(&n)["nap"].clone();
    assert!(nap["since"].is_string(), "{nap}");
    assert!(nap["last_check"].is_null(), "{nap}");
    assert!(nap["due"].is_string(), "{nap}");
    assert_eq!(nap["missed"], false);
    let r = n.request("POST", "/api/rooms/infant/nap/start", &auth, Some(b"{}"));
    assert_eq!(r.status, 409, "a second start: {}", r.body);

    let r = n.request("POST", "/api/rooms/infant/sleep-check", &auth, Some(b"{}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["by"], "s-01");
    assert!(infant(&n)["nap"]["last_check"].is_string());

    let r = n.request("POST", "/api/rooms/attic/sleep-check", &auth, Some(b"{}"));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("`attic`"));
    let r = n.request("POST", "/api/rooms/infant/nap/snooze", &auth, Some(b"{}"));
    assert_eq!(r.status, 404, "{}", r.body);
    let long = format!("/api/rooms/{}/sleep-check", "x".repeat(5000));
    let r = n.request("POST", &long, &auth, Some(b"{}"));
    assert!(r.status == 404 || r.status == 414, "{}", r.status);

    let r = n.request("POST", "/api/rooms/infant/nap/end", &auth, Some(b"{}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(infant(&n)["nap"].is_null());
    let r = n.request("POST", "/api/rooms/infant/nap/end", &auth, Some(b"{}"));
    assert_eq!(r.status, 409, "an end with no nap: {}", r.body);

    // The journal has the nap and the check, under s-01.
    let config = n.dir.path().join("agent.toml");
    let (st, exported, err) = run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    let kinds: Vec<serde_json::Value> = exported
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "nap" || e["type"] == "sleep_check")
        .collect();
    assert_eq!(kinds.len(), 3, "{exported}");
    assert_eq!(kinds[0]["action"], "start");
    assert_eq!(kinds[1]["type"], "sleep_check");
    assert_eq!(kinds[1]["by"], "s-01");
    assert_eq!(kinds[1]["room"], "infant");
    assert_eq!(kinds[2]["action"], "end");
}
