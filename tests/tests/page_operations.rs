//! The staff page's system line, through the real binary and its HTTP API: whether the
//! clock is synchronised, the configuration in force after a reload (its hash, the people
//! kept until checked out), a refused reload (its problems for staff only), and the
//! journal's health — fed to the page through the live view.

use std::path::Path;
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{status, Agent};
use nursery_agent_tests::page::{request, roster, PIN};
use nursery_testkit::ev;

const LIMIT: Duration = Duration::from_secs(30);

fn feed(events: &Path, lines: &[String]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(events)
        .unwrap();
    f.write_all(ev::log(lines).as_bytes()).unwrap();
}

fn hangup(agent: &Agent) {
    let pid = agent.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// `/api/view`'s `operations`, once `pred` holds of it.
fn operations_until(port: u16, what: &str, pred: impl Fn(&serde_json::Value) -> bool) -> String {
    let end = Instant::now() + LIMIT;
    loop {
        let r = request(port, "GET", "/api/view", &[], None);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        if pred(&v["operations"]) {
            return r.body;
        }
        assert!(Instant::now() < end, "never {what}: {}", v["operations"]);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_page_shows_the_clock_sync_the_configuration_in_force_a_refused_reload_and_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let config = roster(dir.path()).write(dir.path());
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let flag = dir.path().join("synchronized");
    let mut agent = Agent::start_with_env(
        &config,
        &["--events", events.to_str().unwrap()],
        &[("NURSERY_TIMESYNC_FLAG", &flag)],
    );
    let port = agent.page_port(LIMIT);

    let page = request(port, "GET", "/", &[], None);
    assert!(page.body.contains("id=\"operations\""), "{}", page.body);
    let first = status(&config)["config"]["hash"].clone();
    assert!(first.is_string(), "{first}");
    operations_until(port, "the start's state", |o| {
        o["clock_synced"] == false && o["config"]["hash"] == first && o["journal"]["state"] == "ok"
    });

    // timesyncd synchronises the clock; the next batch says so.
    std::fs::write(&flag, "").unwrap();
    feed(
        &events,
        &[ev::check_in(ev::NOW, "s-01"), ev::check_in(ev::NOW, "c-01")],
    );
    operations_until(port, "clock_synced", |o| o["clock_synced"] == true);

    // An invalid file is refused: the page says so to anyone, and what is wrong to staff.
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("bogus_key_on_top = 1\n{good}")).unwrap();
    hangup(&agent);
    let public = operations_until(port, "a refused reload", |o| {
        o["refused"]["count"].as_u64().is_some_and(|n| n >= 1)
    });
    assert!(
        !public.contains("bogus_key_on_top"),
        "the public view quotes the file: {public}"
    );
    let body = serde_json::json!({ "staff": "s-01", "pin": PIN }).to_string();
    let login = request(
        port,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let cookie = login.header("set-cookie").unwrap();
    let cookie = cookie.split(';').next().unwrap();
    let names = request(port, "GET", "/api/names", &[("Cookie", cookie)], None);
    let problems = serde_json::from_str::<serde_json::Value>(&names.body).unwrap()
        ["config_problems"]
        .to_string();
    assert!(problems.contains("bogus_key_on_top"), "{}", names.body);

    // A valid file without c-01, who is checked in: applied, c-01 kept until checked out.
    std::fs::write(&config, roster(dir.path()).without("c-01").toml()).unwrap();
    hangup(&agent);
    operations_until(port, "the new configuration with c-01 kept", |o| {
        o["refused"].is_null()
            && o["config"]["hash"] != first
            && o["config"]["kept"] == serde_json::json!(["c-01"])
    });
    feed(
        &events,
        &[serde_json::json!({"type": "attendance", "person": "c-01", "action": "check_out", "by": "g-01"})
            .to_string()],
    );
    operations_until(port, "c-01 no longer kept", |o| {
        o["config"]["kept"] == serde_json::json!([])
    });
    agent.terminate(LIMIT);
}
