//! Who counts, through `nursery-agent replay` and `check-config` (issue 12 item 1): a break
//! moves the ratio at once, an expired certificate keeps a caregiver from counting and is
//! `staff_not_qualified` at check-in, a certificate about to run out is
//! `certificate_expiring` at `open`, and a `presence` for someone who is not checked in is
//! a rejected line with its reason.

use std::path::Path;

use nursery_agent_tests::agent::run;
use nursery_testkit::{ev, Child, Guardian, Raw, Room, Roster, Staff};
use serde_json::Value;

const DAY: &str = "2026-03-02";

fn at(time: &str) -> String {
    format!("{DAY}T{time}+08:00")
}

/// 乳儿班 with three infants (1:3, so one counted caregiver needed): `s-01` holds a
/// health certificate valid to 2026-03-20 (warned about at open), `s-02` one that ran out
/// on 2026-02-28, and the rules require it.
fn roster() -> Roster {
    let mut r = Roster::new()
        .facility("310115-0042", "向日葵托育园")
        .room(Room::new("infant", "乳儿班"))
        .staff(Staff::caregiver("s-01", "王老师", "infant").set(
            "certificates",
            Raw(r#"[{ kind = "health", expires = "2026-03-20" }]"#),
        ))
        .staff(Staff::caregiver("s-02", "李老师", "infant").set(
            "certificates",
            Raw(r#"[{ kind = "health", expires = "2026-02-28" }]"#),
        ))
        .rule("required_certificates", Raw(r#"["health"]"#))
        .rule("ratio_grace", "60s");
    for i in 1..=3 {
        r = r.child(Child::new(
            &format!("c-0{i}"),
            "宝宝",
            "2025-09-01",
            "infant",
        ));
    }
    r.mqtt_off()
}

fn presence(time: &str, person: &str, state: &str) -> String {
    ev::line(
        at(time),
        "presence",
        &[("person", person.into()), ("state", state.into())],
    )
}

fn replay(dir: &Path, lines: &[String]) -> (i32, Vec<Value>, String) {
    let config = roster().write(dir);
    let events = nursery_testkit::write_events(dir, "day.jsonl", lines);
    let (st, out, err) = run(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
    ]);
    let transitions = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (st.code().unwrap_or(-1), transitions, err)
}

fn brief(ts: &[Value]) -> Vec<(String, String, String, String)> {
    ts.iter()
        .map(|t| {
            (
                t["type"].as_str().unwrap().to_string(),
                t["state"].as_str().unwrap().to_string(),
                t["subject"].as_str().unwrap().to_string(),
                t["ts"].as_str().unwrap()[11..19].to_string(),
            )
        })
        .collect()
}

fn b(ty: &str, st: &str, subject: &str, at: &str) -> (String, String, String, String) {
    (ty.into(), st.into(), subject.into(), at.into())
}

#[test]
fn replay_judges_a_break_and_an_expired_certificate_and_warns_of_one_about_to_expire() {
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        ev::agent_started(at("07:00:00")),
        ev::check_in(at("07:40:00"), "s-02"),
        ev::check_in(at("07:41:00"), "s-01"),
        ev::check_in(at("07:50:00"), "c-01"),
        ev::check_in(at("07:51:00"), "c-02"),
        ev::check_in(at("07:52:00"), "c-03"),
        presence("10:00:00", "s-01", "break"),
        presence("10:00:30", "s-03", "break"),
        presence("10:15:00", "s-01", "on_duty"),
    ];
    let (code, out, err) = replay(dir.path(), &lines);
    assert_eq!(code, 1, "one line is rejected: {err}");
    assert!(
        err.contains("line 8") && err.contains("s-03"),
        "the rejected line is named with its number: {err}"
    );
    assert_eq!(
        brief(&out),
        vec![
            b("certificate_expiring", "raised", "s-01", "07:30:00"),
            b("staff_not_qualified", "raised", "s-02", "07:40:00"),
            // s-02 does not count, so the children have nobody counted until s-01 is back.
            b("unsupervised_children", "raised", "infant", "10:00:00"),
            b("ratio_breach", "raised", "infant", "10:01:00"),
            b("ratio_breach", "resolved", "infant", "10:15:00"),
            b("unsupervised_children", "resolved", "infant", "10:15:00"),
        ],
        "{out:#?}"
    );
    assert_eq!(
        out[0]["details"],
        serde_json::json!({"certificate": "health", "expires": "2026-03-20"})
    );
    assert_eq!(
        out[1]["details"],
        serde_json::json!({"certificate": "health", "expires": "2026-02-28"})
    );
}

#[test]
fn a_presence_for_a_member_of_staff_not_checked_in_is_rejected_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        ev::check_in(at("07:40:00"), "s-01"),
        presence("08:00:00", "s-02", "other_work"),
        presence("08:00:00", "c-01", "break"),
        ev::line(
            at("08:01:00"),
            "presence",
            &[("person", "s-01".into()), ("state", "asleep".into())],
        ),
    ];
    let (code, _out, err) = replay(dir.path(), &lines);
    assert_eq!(code, 1, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let said = |n: usize, what: &str| {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("line {n}")) && l.contains(what)),
            "line {n} should say `{what}`: {err}"
        );
    };
    said(2, "`s-02` is not checked in");
    said(3, "`c-01` is not a member of staff");
    said(4, "asleep");
}

#[test]
fn check_config_lists_every_certificate_problem_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = roster()
        .without("s-02")
        .staff(Staff::caregiver("s-02", "李老师", "infant").set(
            "certificates",
            Raw(r#"[{ kind = "health", expires = "2026-02-30" }, { kind = "healht", expires = "2027-01-01" }]"#),
        ))
        .staff(Staff::caregiver("s-03", "赵老师", "infant").set(
            "certificates",
            Raw(r#"[{ kind = "health", expires = "2027-01-01" }, { kind = "health", expires = "2028-01-01" }]"#),
        ))
        .toml();
    let config = nursery_testkit::write_config(dir.path(), &text);
    let (st, out, err) = run(&["check-config", "--config", config.to_str().unwrap()]);
    assert_eq!(st.code(), Some(2), "{out}{err}");
    let all = format!("{out}{err}");
    let file = config.display().to_string();
    for (key, says) in [
        (
            "staff[1].certificates[0].expires",
            "invalid date \"2026-02-30\"",
        ),
        ("staff[1].certificates[1].kind", "unknown value `healht`"),
        (
            "staff[2].certificates[1].kind",
            "`health` is listed twice for `s-03`",
        ),
    ] {
        assert!(
            all.lines().any(|l| l.starts_with(&format!("{file}:"))
                && l.contains(&format!(": {key}: "))
                && l.contains(says)),
            "`{key}: {says}` missing from:\n{all}"
        );
    }
}

#[test]
fn a_home_nursery_under_cn_home_2023_needs_one_caregiver_per_three_children_of_any_age_and_takes_five(
) {
    let dir = tempfile::tempdir().unwrap();
    // An infant, a toddler and four older children: every age counts 1:3.
    let births = [
        "2025-12-01",
        "2025-01-10",
        "2024-06-01",
        "2024-03-01",
        "2023-09-01",
        "2023-05-01",
    ];
    let mut r = Roster::new()
        .ratio_preset("cn-home-2023")
        .room(Room::new("home", "家庭托育点"))
        .staff(Staff::caregiver("s-01", "王阿姨", "home"))
        .guardian(Guardian::new("g-01", "李女士"))
        .rule("ratio_grace", "0s")
        .mqtt_off();
    for (i, born) in births.iter().enumerate() {
        r = r.child(Child::new(&format!("c-0{}", i + 1), "宝宝", born, "home").guardians(["g-01"]));
    }
    let config = r.write(dir.path());
    let mut lines = vec![ev::check_in(at("08:00:00"), "s-01")];
    for i in 1..=6 {
        lines.push(ev::check_in(at(&format!("08:0{i}:00")), &format!("c-0{i}")));
    }
    // Down to five (capacity), then four (still two caregivers' worth), then three.
    lines.push(ev::pick_up(at("09:00:00"), "c-06", "g-01"));
    lines.push(ev::pick_up(at("09:01:00"), "c-05", "g-01"));
    lines.push(ev::pick_up(at("09:02:00"), "c-04", "g-01"));
    let events = nursery_testkit::write_events(dir.path(), "home.jsonl", &lines);
    let (st, out, err) = run(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
    ]);
    assert!(st.success(), "{err}");
    let got: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        brief(&got),
        vec![
            b("ratio_breach", "raised", "home", "08:04:00"),
            b("capacity_exceeded", "raised", "home", "08:06:00"),
            b("capacity_exceeded", "resolved", "home", "09:00:00"),
            b("ratio_breach", "resolved", "home", "09:02:00"),
        ],
        "{out}"
    );
    assert_eq!(
        got[0]["details"],
        serde_json::json!({"children": 4, "staff": 1, "required": 2})
    );
    assert_eq!(
        got[1]["details"],
        serde_json::json!({"children": 6, "capacity": 5})
    );
}
