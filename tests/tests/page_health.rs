//! Health checks (晨午检) and absences on the staff page (issue 12 items 2 and 3): a
//! logged-in member of staff records a child's temperature and pass/refer in one request,
//! or an absence with its reason; each is journalled, the rules judge it like any input,
//! and everything else gets a clear JSON error.

use std::time::Duration;

use nursery_agent_tests::agent::run;
use nursery_agent_tests::page::{Nursery, PIN};
use serde_json::Value;

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn child(list: &Value, id: &str) -> Value {
    list["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

#[test]
fn staff_record_a_fever_a_refer_a_pass_and_an_absence_and_bad_values_get_a_clear_error() {
    let n = Nursery::start();
    n.cause_ratio_breach();
    n.wait_for_alert("ratio_breach", Duration::from_secs(10));

    let r = n.request("GET", "/api/health", &[], None);
    assert_eq!(r.status, 401, "names are for staff: {}", r.body);
    let body = br#"{"celsius":36.6,"result":"pass"}"#;
    let r = n.request(
        "POST",
        "/api/children/c-01/health-check",
        &[JSON],
        Some(body),
    );
    assert_eq!(r.status, 401, "without a session: {}", r.body);
    let (cookie, csrf) = n.login("s-01", PIN);
    let r = n.request(
        "POST",
        "/api/children/c-01/health-check",
        &[JSON, ("Cookie", &cookie)],
        Some(body),
    );
    assert_eq!(r.status, 403, "without the CSRF token: {}", r.body);
    let auth = [
        JSON,
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];
    let get = [("Cookie", cookie.as_str())];

    let list = n.request("GET", "/api/health", &get, None).json();
    let c1 = child(&list, "c-01");
    assert_eq!(c1["checked_in"], true, "{list}");
    assert!(c1["checked_at"].is_null(), "{list}");
    assert!(c1["name"].is_string(), "{list}");

    let post = |id: &str, body: &str| {
        n.request(
            "POST",
            &format!("/api/children/{id}/health-check"),
            &auth,
            Some(body.as_bytes()),
        )
    };
    let r = post("c-01", r#"{"celsius":38.1,"result":"pass"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["failed"], true, "{}", r.body);
    n.wait_for_alert("health_check_failed", Duration::from_secs(10));

    let r = post("c-01", r#"{"celsius":80,"result":"pass"}"#);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.json()["error"].as_str().unwrap().contains("`celsius` 80"),
        "{}",
        r.body
    );
    let r = post("c-02", r#"{"result":"refer"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["failed"], true, "{}", r.body);
    let r = post("c-03", r#"{"celsius":36.6,"result":"ok"}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post("c-99", r#"{"celsius":36.6,"result":"pass"}"#);
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("`c-99`"));
    let r = post("s-01", r#"{"celsius":36.6,"result":"pass"}"#);
    assert_eq!(r.status, 404, "a member of staff is no child: {}", r.body);

    let r = post("c-01", r#"{"celsius":36.6,"result":"pass"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["failed"], false, "{}", r.body);
    let list = n.request("GET", "/api/health", &get, None).json();
    let c1 = child(&list, "c-01");
    assert!(c1["checked_at"].is_string(), "{list}");
    assert_eq!(c1["failed"], false, "the pass resolved the fever: {list}");
    assert_eq!(child(&list, "c-02")["failed"], true, "{list}");

    let absence = |body: &str| {
        n.request(
            "POST",
            "/api/children/c-04/absence",
            &auth,
            Some(body.as_bytes()),
        )
    };
    let r = absence(r#"{"reason":"holiday"}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = absence(r#"{"reason":"sick","date":"2030-01-01"}"#);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("more than 60 days after"),
        "{}",
        r.body
    );
    let r = absence(r#"{"reason":"sick"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let today = list["date"].as_str().unwrap().to_string();
    assert_eq!(r.json()["date"], today.as_str(), "today by default");
    let list = n.request("GET", "/api/health", &get, None).json();
    assert_eq!(child(&list, "c-04")["absent_today"], true, "{list}");

    // The journal has three checks and one absence; the refused ones are not in it.
    let config = n.dir.path().join("agent.toml");
    let (st, exported, err) = run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    let events: Vec<Value> = exported
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["type"] == "health_check" || e["type"] == "absence")
        .collect();
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["person"].as_str().unwrap().to_string(),
                e["result"]
                    .as_str()
                    .or(e["reason"].as_str())
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("c-01".to_string(), "pass".to_string()),
            ("c-02".into(), "refer".into()),
            ("c-01".into(), "pass".into()),
            ("c-04".into(), "sick".into()),
        ],
        "{exported}"
    );
    assert_eq!(events[0]["celsius"], 38.1);
    assert_eq!(events[3]["date"], today.as_str());
    // Each check names who made it: the staff member logged in, by id (the ledger's
    // 检查人 column); an absence has no `by`.
    let by: Vec<Option<&str>> = events.iter().map(|e| e["by"].as_str()).collect();
    assert_eq!(
        by,
        [Some("s-01"), Some("s-01"), Some("s-01"), None],
        "{exported}"
    );
}
