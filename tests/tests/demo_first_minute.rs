//! The demo as a newcomer meets it: the README's first command, `nursery-agent run --config
//! config/demo.toml`, and an alert on the console within the first minute (issue 10.7).

use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{demo_config, workspace, Agent};

/// The demo's own `[simulation] speed`, so the test runs the day at the pace a newcomer sees.
fn shipped_speed() -> f64 {
    let text = std::fs::read_to_string(workspace().join("config/demo.toml")).unwrap();
    let doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc["simulation"]["speed"]
        .as_float()
        .expect("config/demo.toml sets [simulation] speed")
}

#[test]
fn run_as_the_readme_says_the_demo_shows_its_first_alert_on_the_console_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    // The shipped file at its own speed, date, seed and start; only its storage moves to a
    // private directory, the staff page to a free port and the uplink off (the broker on
    // 1883 is not this test's), none of which changes when the simulated day's alerts come.
    let config = demo_config(dir.path(), shipped_speed());
    let started = Instant::now();
    let mut agent = Agent::start(&config, &[]);
    let line = agent.wait_for_line("▲", Duration::from_secs(60));
    let after = started.elapsed();
    assert!(after < Duration::from_secs(60), "{after:?}: {line}");
    println!("first alert after {after:?}: {line}");
}
