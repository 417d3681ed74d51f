//! Dispositions on the staff page (issue 15.4, 一事一反馈): a logged-in member of staff
//! records what was done about an open alert, an action code and a note; the journal keeps
//! the note, the page shows the action and who, and bad requests get a clear JSON error.

use std::time::Duration;

use nursery_agent_tests::agent::run;
use nursery_agent_tests::page::{Nursery, PIN};

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn open_alert(n: &Nursery, kind: &str) -> serde_json::Value {
    let v = n.request("GET", "/api/view", &[], None).json();
    v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no open {kind} in {v}"))
}

#[test]
fn staff_record_what_they_did_about_an_alert_and_the_journal_keeps_the_note() {
    let n = Nursery::start();
    n.cause_ratio_breach();
    n.wait_for_alert("ratio_breach", Duration::from_secs(10));
    let alert = open_alert(&n, "ratio_breach");
    let id = alert["alert_id"].as_str().unwrap().to_string();
    assert!(alert["disposed"].is_null(), "{alert}");
    let path = format!("/api/alerts/{id}/disposition");
    let body = r#"{"action":"escalated","note":"  请园长调配李老师到乳儿班 "}"#;

    let r = n.request("POST", &path, &[JSON], Some(body.as_bytes()));
    assert_eq!(r.status, 401, "without a session: {}", r.body);
    let (cookie, csrf) = n.login("s-01", PIN);
    let auth = [
        JSON,
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];
    let r = n.request(
        "POST",
        &path,
        &[JSON, ("Cookie", &cookie)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 403, "without the CSRF token: {}", r.body);

    let r = n.request("POST", &path, &auth, Some(br#"{"action":"called_police"}"#));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("handled_on_site"),
        "the valid codes are listed: {}",
        r.body
    );
    let r = n.request("POST", &path, &auth, Some(b"{\"action\":"));
    assert_eq!(r.status, 400, "{}", r.body);
    let long = format!(r#"{{"action":"other","note":"{}"}}"#, "字".repeat(501));
    let r = n.request("POST", &path, &auth, Some(long.as_bytes()));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = n.request(
        "POST",
        "/api/alerts/no-such-alert/disposition",
        &auth,
        Some(br#"{"action":"other"}"#),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("no-such-alert"), "{}", r.body);

    let r = n.request("POST", &path, &auth, Some(body.as_bytes()));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["disposed"]["action"], "escalated");
    assert_eq!(r.json()["disposed"]["by"], "s-01");
    assert_eq!(r.json()["resolved"], false, "a ratio breach stays open");

    let alert = open_alert(&n, "ratio_breach");
    assert_eq!(alert["disposed"]["action"], "escalated", "{alert}");
    assert_eq!(alert["disposed"]["by"], "s-01", "{alert}");
    assert!(
        !n.request("GET", "/api/view", &[], None)
            .body
            .contains("调配"),
        "the note is not on the public view"
    );

    let config = n.dir.path().join("agent.toml");
    let (st, exported, err) = run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    let d: Vec<serde_json::Value> = exported
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "disposition")
        .collect();
    assert_eq!(d.len(), 1, "{exported}");
    assert_eq!(d[0]["alert_id"], id.as_str());
    assert_eq!(d[0]["by"], "s-01");
    assert_eq!(
        d[0]["note"], "请园长调配李老师到乳儿班",
        "trimmed, kept whole"
    );
}
