//! `nursery-agent replay` across the day Samoa skipped: Pacific/Apia went from UTC−10 to
//! UTC+14 at the end of 2011-12-29, so 2011-12-30 never happened there. A valid
//! configuration in that zone used to make `replay` panic (exit 101); it must replay the
//! days either side and check pick-ups on each day that happened.

use std::path::Path;
use std::process::{Command, Output};

use nursery_agent_tests::agent::{binary as agent_bin, workspace as workspace_dir};
use nursery_testkit::{ev, Roster};

/// The kit's 向日葵 roster moved to Pacific/Apia, with three infants 11 months old
/// (`c-01` … `c-03`).
fn apia() -> String {
    Roster::sunflower()
        .timezone("Pacific/Apia")
        .children("infant", &["2011-01-10"; 3])
        .toml()
}

fn replay(config: &Path, events: &Path, until: &str) -> Output {
    Command::new(agent_bin())
        .args(["replay", "--config"])
        .arg(config)
        .arg("--events")
        .arg(events)
        .args(["--until", until])
        .output()
        .expect("run nursery-agent replay")
}

/// The printed transitions, each as JSON, checked to be in time order.
fn transitions(out: &Output) -> Vec<serde_json::Value> {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let instants: Vec<_> = lines
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t["ts"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        instants.windows(2).all(|w| w[0] <= w[1]),
        "transitions in time order:\n{stdout}"
    );
    lines
}

#[test]
fn replay_in_samoa_flags_children_left_on_the_29th_and_the_31st_and_checks_no_skipped_30th() {
    let dir = tempfile::tempdir().unwrap();
    let config = nursery_testkit::write_config(dir.path(), &apia());
    // c-01 stays on the 29th; c-03 arrives after the 29th's check and leaves before
    // 07:00 on the 31st, so only a check for the 30th could see it; c-02 stays on the 31st.
    let log = [
        ev::check_in("2011-12-29T07:40:00-10:00", "s-01"),
        ev::check_in("2011-12-29T08:00:00-10:00", "c-01"),
        ev::check_in("2011-12-29T23:00:00-10:00", "c-03"),
        ev::pick_up("2011-12-31T07:00:00+14:00", "c-03", "g-01"),
        ev::pick_up("2011-12-31T08:00:00+14:00", "c-01", "g-01"),
        ev::check_in("2011-12-31T08:30:00+14:00", "c-02"),
    ];
    let events = nursery_testkit::write_events(dir.path(), "days.jsonl", &log);

    let out = replay(&config, &events, "2012-01-01T12:00:00+14:00");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    let pickups: Vec<(String, String, String)> = transitions(&out)
        .iter()
        .filter(|t| t["type"] == "child_not_checked_out")
        .map(|t| {
            let s = |k: &str| t[k].as_str().unwrap().to_string();
            (s("state"), s("subject"), s("ts"))
        })
        .collect();
    let row = |state: &str, child: &str, ts: &str| (state.into(), child.into(), ts.into());
    assert_eq!(
        pickups,
        vec![
            row("raised", "c-01", "2011-12-29T18:15:00-10:00"),
            row("resolved", "c-01", "2011-12-31T08:00:00+14:00"),
            row("raised", "c-02", "2011-12-31T18:15:00+14:00"),
        ]
    );
}

#[test]
fn the_demo_nursery_replays_its_simulated_days_either_side_of_samoas_skipped_day() {
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(workspace_dir().join("config/demo.toml")).unwrap();
    let mut doc: toml_edit::DocumentMut = demo.parse().unwrap();
    doc["facility"]["timezone"] = toml_edit::value("Pacific/Apia");
    let config = dir.path().join("demo-apia.toml");
    std::fs::write(&config, doc.to_string()).unwrap();

    let mut log = String::new();
    for date in ["2011-12-29", "2011-12-31"] {
        let out = Command::new(agent_bin())
            .args(["simulate", "--config"])
            .arg(&config)
            .args(["--seed", "9", "--date", date])
            .output()
            .expect("run nursery-agent simulate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        log.push_str(&String::from_utf8(out.stdout).unwrap());
    }
    let events = dir.path().join("days.jsonl");
    std::fs::write(&events, &log).unwrap();

    let out = replay(&config, &events, "2012-01-01T12:00:00+14:00");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    let printed = transitions(&out);
    let on = |date: &str| {
        printed
            .iter()
            .filter(|t| t["ts"].as_str().unwrap().starts_with(date))
            .count()
    };
    assert!(on("2011-12-29") > 0 && on("2011-12-31") > 0, "{printed:?}");
}
