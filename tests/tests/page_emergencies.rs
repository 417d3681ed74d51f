//! The roll call on the staff page (issue 15.3): during an emergency anyone sees counts per
//! room, logged-in staff see who is missing and tick them as accounted for, and start and
//! end an emergency or drill; each is journalled, and everything else gets a clear error.

use std::time::Duration;

use nursery_agent_tests::agent::run;
use nursery_agent_tests::page::{Nursery, CHILDREN, PIN};

const JSON: (&str, &str) = ("Content-Type", "application/json");

#[test]
fn staff_start_a_drill_tick_the_missing_on_the_roll_call_and_end_it_while_the_view_shows_only_counts(
) {
    let n = Nursery::start();
    n.cause_ratio_breach();
    n.wait_for_alert("ratio_breach", Duration::from_secs(10));
    assert!(n.request("GET", "/api/view", &[], None).json()["emergency"].is_null());

    let r = n.request("POST", "/api/emergency/drill/start", &[JSON], Some(b"{}"));
    assert_eq!(r.status, 401, "without a session: {}", r.body);
    let (cookie, csrf) = n.login("s-01", PIN);
    let r = n.request(
        "POST",
        "/api/emergency/drill/start",
        &[JSON, ("Cookie", &cookie)],
        Some(b"{}"),
    );
    assert_eq!(r.status, 403, "without the CSRF token: {}", r.body);
    let auth = [
        JSON,
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];
    let r = n.request("POST", "/api/roll-call/c-01", &auth, Some(b"{}"));
    assert_eq!(r.status, 409, "no emergency: {}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("no emergency"));
    let r = n.request("POST", "/api/emergency/flood/start", &auth, Some(b"{}"));
    assert_eq!(r.status, 404, "{}", r.body);
    let r = n.request("POST", "/api/emergency/drill/end", &auth, Some(b"{}"));
    assert_eq!(r.status, 409, "an end without a start: {}", r.body);

    let r = n.request("POST", "/api/emergency/drill/start", &auth, Some(b"{}"));
    assert_eq!(r.status, 200, "{}", r.body);
    // s-01 and four children were checked in: five on the roll call, counts only.
    let view = n.request("GET", "/api/view", &[], None);
    let e = view.json()["emergency"].clone();
    assert_eq!(e["kind"], "drill");
    assert_eq!(e["expected"], 5, "{e}");
    assert_eq!(e["missing"], 5, "{e}");
    assert_eq!(e["rooms"][0]["id"], "infant");
    assert_eq!(e["rooms"][0]["missing"], 5);
    for name in CHILDREN {
        assert!(!view.body.contains(name), "a name on the public view");
    }
    let names = n
        .request("GET", "/api/names", &[("Cookie", cookie.as_str())], None)
        .json();
    let missing: Vec<&str> = names["roll_call"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["person"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["c-01", "c-02", "c-03", "c-04", "s-01"]);
    assert_eq!(names["roll_call"][0]["room"], "infant");

    for p in ["c-01", "c-02", "c-03", "c-04"] {
        let r = n.request("POST", &format!("/api/roll-call/{p}"), &auth, Some(b"{}"));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = n.request("POST", "/api/roll-call/c-99", &auth, Some(b"{}"));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("`c-99`"));
    let e = n.request("GET", "/api/view", &[], None).json()["emergency"].clone();
    assert_eq!(e["missing"], 1, "{e}");
    let r = n.request("POST", "/api/emergency/fire/start", &auth, Some(b"{}"));
    assert_eq!(r.status, 409, "a second start: {}", r.body);

    let r = n.request("POST", "/api/emergency/drill/end", &auth, Some(b"{}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(n.request("GET", "/api/view", &[], None).json()["emergency"].is_null());

    // The journal has the drill and the four roll calls.
    let config = n.dir.path().join("agent.toml");
    let (st, exported, err) = run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    let kinds: Vec<serde_json::Value> = exported
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "emergency" || e["type"] == "roll_call")
        .collect();
    assert_eq!(kinds.len(), 6, "{exported}");
    assert_eq!(kinds[0]["action"], "start");
    assert_eq!(kinds[1]["person"], "c-01");
    assert_eq!(kinds[5]["action"], "end");
}

#[test]
fn the_page_serves_the_roll_call_from_the_agent_itself_with_no_external_asset() {
    let n = Nursery::start();
    let page = n.request("GET", "/", &[], None);
    assert!(page.body.contains("id=\"emergency\""), "{}", page.body);
    let script = n.request("GET", "/assets/app.js", &[], None);
    assert!(script.body.contains("/api/roll-call/"));
    // Works with the internet down: every asset and every call is the agent's own.
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!page.body.contains(attr), "{attr} in the page");
    }
    assert!(!script.body.contains("fetch('http") && !script.body.contains("fetch(\"http"));
}
