//! The kit's own promises: its text is valid TOML and JSON, laid out one key per line, and
//! says exactly what was asked.

use super::*;

fn parsed(text: &str) -> toml::Table {
    text.parse()
        .unwrap_or_else(|e| panic!("not TOML ({e}):\n{text}"))
}

#[test]
fn a_new_roster_is_the_sunflower_facility_alone() {
    assert_eq!(
        Roster::new().toml(),
        "[facility]\nid = \"310115-0042\"\nname = \"向日葵托育园\"\ntimezone = \"Asia/Shanghai\"\n\
         ratio_preset = \"cn-2019\"\nopen = \"07:30\"\nclose = \"18:00\"\n"
    );
}

#[test]
fn parts_come_out_in_the_contract_s_order_one_key_per_line() {
    let text = Roster::new()
        .facility("f-1", "Sunflower")
        .guardian(Guardian::new("g-01", "Li").card("20001"))
        .child(Child::new("c-01", "Ming", "2025-05-20", "infant").guardians(["g-01"]))
        .staff(Staff::caregiver("s-01", "Wang", "infant").card("10001"))
        .sensor(Sensor::new("t-infant", "infant"))
        .reader(Reader::access("entrance-reader", "entrance"))
        .door(Door::new("entrance"))
        .room(Room::new("toddler", "Toddlers").capacity(15))
        .rule("ratio_grace", "90s")
        .toml();
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(
        headers,
        [
            "[facility]",
            "[[rooms]]",
            "[[doors]]",
            "[[readers]]",
            "[[sensors]]",
            "[[staff]]",
            "[[children]]",
            "[[guardians]]",
            "[rules]"
        ]
    );
    assert!(text.contains(
        "[[staff]]\nid = \"s-01\"\nname = \"Wang\"\ncard = \"10001\"\nrole = \"caregiver\"\nroom = \"infant\"\n"
    ));
    assert!(text.contains("[[rooms]]\nid = \"toddler\"\nname = \"Toddlers\"\ncapacity = 15\n"));
    assert!(text.contains("guardians = [\"g-01\"]\n"));
    let t = parsed(&text);
    assert_eq!(t["rules"]["ratio_grace"].as_str(), Some("90s"));
    assert_eq!(t["facility"]["id"].as_str(), Some("f-1"));
}

#[test]
fn the_sunflower_roster_has_the_people_and_devices_it_promises() {
    let r = Roster::sunflower().children("infant", &["2025-06-15", "2025-03-02"]);
    assert_eq!(r.room_ids(), ["infant", "toddler"]);
    assert_eq!(r.staff_ids(), ["s-01", "s-02", "s-cook", "s-nurse"]);
    assert_eq!(r.child_ids(), ["c-01", "c-02"]);
    let t = parsed(&r.toml());
    let list = |k: &str| t[k].as_array().unwrap().len();
    assert_eq!(
        (
            list("doors"),
            list("readers"),
            list("sensors"),
            list("guardians")
        ),
        (2, 3, 1, 2)
    );
    let c2 = &t["children"].as_array().unwrap()[1];
    assert_eq!(c2["birth_date"].as_str(), Some("2025-03-02"));
    assert_eq!(c2["name"].as_str(), Some("孩子2"));
    let nurse = &t["staff"].as_array().unwrap()[3];
    assert_eq!(nurse.get("card"), None);
    assert_eq!(nurse["counts_in_ratio"].as_bool(), Some(true));
}

#[test]
fn setting_a_key_again_replaces_it_where_it_stands() {
    let text = Roster::new()
        .hours("00:00", "23:59")
        .facility_set("open", "06:00")
        .set("mqtt", "port", 1883u16)
        .set("mqtt", "port", 8883u16)
        .toml();
    assert!(text.contains("ratio_preset = \"cn-2019\"\nopen = \"06:00\"\nclose = \"23:59\"\n"));
    assert_eq!(text.matches("port = ").count(), 1);
    assert!(text.contains("port = 8883"));
}

#[test]
fn without_takes_a_part_off_the_roster() {
    let r = Roster::sunflower()
        .children("infant", &["2025-06-15"; 3])
        .without("c-02")
        .without("garden");
    assert_eq!(r.child_ids(), ["c-01", "c-03"]);
    assert!(!r.toml().contains("garden"));
    // Numbering goes on from the children on the roster, past the ids taken.
    assert_eq!(
        r.children("infant", &["2025-06-15"]).child_ids(),
        ["c-01", "c-03", "c-04"]
    );
}

#[test]
fn strings_are_escaped_and_raw_text_is_not() {
    let text = Roster::new()
        .facility("f", "a \"quoted\" \\ name\n")
        .rule("temperature", Raw("{ min_c = 28.0, max_c = 18.0 }"))
        .rule("humidity_floor", 30.0)
        .storage(std::path::Path::new("/tmp/x y"))
        .raw("[simulation]\nenabled = true\n")
        .toml();
    let t = parsed(&text);
    assert_eq!(
        t["facility"]["name"].as_str(),
        Some("a \"quoted\" \\ name\n")
    );
    assert_eq!(t["rules"]["temperature"]["min_c"].as_float(), Some(28.0));
    assert_eq!(t["rules"]["humidity_floor"].as_float(), Some(30.0));
    assert_eq!(t["storage"]["dir"].as_str(), Some("/tmp/x y"));
    assert_eq!(t["simulation"]["enabled"].as_bool(), Some(true));
}

#[test]
fn a_temporary_config_gets_its_own_storage_directory() {
    let c = Roster::sunflower().temp();
    let t = parsed(&std::fs::read_to_string(&c.path).unwrap());
    assert_eq!(
        t["storage"]["dir"].as_str().map(std::path::PathBuf::from),
        Some(c.dir.path().join("state"))
    );
    let elsewhere = Roster::new().storage(std::path::Path::new("/var/x")).temp();
    let t = parsed(&std::fs::read_to_string(&elsewhere.path).unwrap());
    assert_eq!(t["storage"]["dir"].as_str(), Some("/var/x"));
}

#[test]
fn event_lines_put_ts_and_type_first_and_leave_out_what_was_not_given() {
    let day = ev::Day::new("2026-03-02", "+08:00");
    assert_eq!(day.at("09:15"), "2026-03-02T09:15:00+08:00");
    assert_eq!(
        ev::door_open(day.at("07:31:07"), "entrance"),
        r#"{"ts":"2026-03-02T07:31:07+08:00","type":"door","door":"entrance","state":"open"}"#
    );
    assert_eq!(
        ev::pick_up(ev::NOW, "c-01", "g-01"),
        r#"{"type":"attendance","person":"c-01","action":"check_out","by":"g-01"}"#
    );
    assert_eq!(
        ev::move_to("2026-03-02T09:00:00+08:00", "s-02", "toddler"),
        r#"{"ts":"2026-03-02T09:00:00+08:00","type":"attendance","person":"s-02","action":"move","room":"toddler"}"#
    );
    assert_eq!(
        ev::reading(ev::NOW, "t-infant", 24.5, 45.0),
        r#"{"type":"reading","sensor":"t-infant","celsius":24.5,"humidity":45.0}"#
    );
    assert_eq!(
        ev::reading(ev::NOW, "t-infant", None, 50.0),
        r#"{"type":"reading","sensor":"t-infant","humidity":50.0}"#
    );
    assert_eq!(
        ev::reading(ev::NOW, "t", None, None),
        r#"{"type":"reading","sensor":"t"}"#
    );
    assert_eq!(
        ev::line(ev::NOW, "teleport", &[("to", serde_json::json!("moon"))]),
        r#"{"type":"teleport","to":"moon"}"#
    );
}

#[test]
fn a_chrono_time_is_written_with_its_offset() {
    use chrono::{FixedOffset, TimeZone, Utc};
    let t = FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, 3, 2, 7, 40, 0)
        .unwrap();
    assert_eq!(
        ev::exit_button(t, "entrance"),
        r#"{"ts":"2026-03-02T07:40:00+08:00","type":"exit_button","door":"entrance"}"#
    );
    let u = Utc.with_ymd_and_hms(2026, 3, 1, 23, 40, 0).unwrap();
    assert_eq!(
        ev::check_in(u, "s-01"),
        r#"{"ts":"2026-03-01T23:40:00+00:00","type":"attendance","person":"s-01","action":"check_in"}"#
    );
}

#[test]
fn every_line_is_one_json_object() {
    let lines = [
        ev::badge(ev::NOW, "r", "1\"0"),
        ev::sensor_fault(ev::NOW, "t", "crc"),
        ev::acknowledge(ev::NOW, "a-1", "s-01"),
        ev::agent_started("2026-03-02T07:00:00+08:00"),
        ev::check_in_to(ev::NOW, "s-01", "toddler"),
        ev::check_out(ev::NOW, "c-01"),
        ev::door_closed(ev::NOW, "d"),
    ];
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(v["type"].is_string(), "{l}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_events(dir.path(), "day.jsonl", &lines);
    assert_eq!(std::fs::read_to_string(path).unwrap(), ev::log(&lines));
}
