//! Who counts survives a restart and follows a reload (issue 12 item 1), through the real
//! daemon: a break outlives a SIGKILL, and a `SIGHUP` that starts requiring a health
//! certificate stops an uncertified caregiver counting at once.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::Agent;
use nursery_agent_tests::page::{self, request};
use nursery_testkit::{ev, write_config, Raw, Staff};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(30);

fn start(config: &Path, events: &Path) -> (Agent, u16) {
    let mut agent = Agent::start(config, &["--events", events.to_str().unwrap()]);
    let port = agent.page_port(LIMIT);
    (agent, port)
}

fn feed(events: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(events)
        .unwrap();
    f.write_all(ev::log(lines).as_bytes()).unwrap();
}

fn wait_for_infant(port: u16, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + LIMIT;
    loop {
        let v = request(port, "GET", "/api/view", &[], None).json();
        let room = v["rooms"][0].clone();
        if ok(&room) {
            return room;
        }
        assert!(Instant::now() < end, "never {what}: {room}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_break_outlives_a_kill_and_a_reload_requiring_certificates_applies_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // The page's nursery, with s-01 holding a health certificate and s-02 none.
    let roster = page::roster(dir.path()).without("s-01").staff(
        Staff::caregiver("s-01", "王老师", "infant")
            .card("10001")
            .pin_hash(nursery_testkit::PIN_HASH)
            .set(
                "certificates",
                Raw(r#"[{ kind = "health", expires = "2099-12-31" }]"#),
            ),
    );
    let config = write_config(dir.path(), &roster.toml());
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();

    let (agent, port) = start(&config, &events);
    let mut lines = vec![ev::check_in(ev::NOW, "s-01"), ev::check_in(ev::NOW, "s-02")];
    for c in 1..=3 {
        lines.push(ev::check_in(ev::NOW, &format!("c-0{c}")));
    }
    lines.push(ev::line(
        ev::NOW,
        "presence",
        &[("person", "s-02".into()), ("state", "break".into())],
    ));
    feed(&events, &lines);
    wait_for_infant(port, "s-02 on a break", |r| {
        r["staff_present"] == 2 && r["staff"] == 1 && r["not_counted"]["break"] == 1
    });
    agent.kill9();

    // Restarted from the journal: s-02 is still on a break.
    std::fs::write(&events, "").unwrap();
    let (mut agent, port) = start(&config, &events);
    let room = wait_for_infant(port, "the day restored", |r| r["staff_present"] == 2);
    assert_eq!(room["staff"], 1, "{room}");
    assert_eq!(room["not_counted"]["break"], 1, "{room}");

    // Back on duty, then a reload that requires a health certificate: s-02 has none.
    feed(
        &events,
        &[ev::line(
            ev::NOW,
            "presence",
            &[("person", "s-02".into()), ("state", "on_duty".into())],
        )],
    );
    wait_for_infant(port, "s-02 back", |r| r["staff"] == 2);
    let required = roster.rule("required_certificates", Raw(r#"["health"]"#));
    write_config(dir.path(), &required.toml());
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &agent.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    agent.wait_for_line("reload", LIMIT);
    let room = wait_for_infant(port, "s-02 not counted for lack of a certificate", |r| {
        r["staff"] == 1 && r["not_counted"]["certificate"] == 1
    });
    assert_eq!(room["staff_present"], 2, "{room}");
    // The page says why, to logged-in staff: the certificate kind the roster lacks.
    let (cookie, _csrf) = page::login(port, "s-01", page::PIN);
    let names = request(port, "GET", "/api/names", &[("Cookie", &cookie)], None).json();
    assert_eq!(
        names["presence"]["s-02"],
        json!({"room": "infant", "presence": "on_duty", "counted": false,
               "not_counted": [{"reason": "certificate_missing", "certificate": "health"}]}),
        "{names}"
    );
    assert_eq!(names["presence"]["s-01"]["counted"], true, "{names}");
    agent.terminate(LIMIT);
}
