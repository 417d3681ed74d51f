//! Syntax and shape: every problem at once, with its line; unknown keys, wrong types,
//! missing keys, bad dates and durations, and what a dropped element does to the rest.

use super::*;

#[test]
fn a_small_valid_file_loads_with_the_contract_defaults() {
    let cfg = ok(BASE);
    assert_eq!(cfg.facility.id, "310115-0042");
    assert_eq!(cfg.rooms.len(), 2);
    assert_eq!(cfg.rooms[1].capacity, Some(15));
    assert_eq!(cfg.rules.ratio_grace, Dur::secs(60));
    assert_eq!(cfg.rules.pickup_grace, Dur::secs(15 * 60));
    assert_eq!(cfg.rules.temperature.max_c, 28.0);
    assert_eq!(cfg.mqtt.port, 1883);
    assert_eq!(cfg.mqtt.topic_prefix, "childcare/v1");
    assert_eq!(cfg.dashboard.listen, "127.0.0.1:8080");
    assert_eq!(cfg.storage.dir, PathBuf::from("/var/lib/nursery-agent"));
    assert!(cfg.simulation.is_none());
}

#[test]
fn every_problem_in_a_file_is_reported_at_once_with_its_line() {
    let text = r#"
[facility]
id = "310115-0042"
name = "Sunflower"
timezone = "Asia/Shanghia"
ratio_preset = "cn-2020"
open = "07:30"
close = "18:00"

[[rooms]]
id = "infant"
name = "Infants"

[[rooms]]
id = "toddler"
name = "Toddlers"
capcity = 15

[[readers]]
id = "hall-reader"
purpose = "room"

[[staff]]
id = "s-01"
name = "Wang"
card = "10001"
role = "caregiver"
room = "infant"

[[children]]
id = "c-01"
name = "Ming"
birth_date = "2025-05-20"
room = "ducklings"
guardians = ["g-01"]

[[children]]
id = "c-02"
name = "Hua"
room = "infant"

[[guardians]]
id = "g-01"
name = "Li"
card = "10001"

[rules]
ratio_grace = "soon"
"#;
    let found = problems(text);
    let got: Vec<(&str, Option<usize>)> = found.iter().map(|p| (p.key.as_str(), p.line)).collect();
    let want = vec![
        ("facility.timezone", Some(line(text, "Asia/Shanghia"))),
        ("facility.ratio_preset", Some(line(text, "cn-2020"))),
        ("rooms[1].capcity", Some(line(text, "capcity"))),
        ("readers[0].room", Some(line(text, "hall-reader") - 1)),
        ("children[0].room", Some(line(text, "ducklings"))),
        ("children[1].birth_date", Some(line(text, "c-02") - 1)),
        ("guardians[0].card", Some(line(text, "name = \"Li\"") + 1)),
        ("rules.ratio_grace", Some(line(text, "soon"))),
    ];
    let listed = found
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(got, want, "\n{listed}");
}

#[test]
fn problems_print_as_file_line_key_message() {
    let text = with("open = \"07:30\"", "open = \"7:30\"");
    let err = parse(&text, Path::new(ORIGIN)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{ORIGIN}:{}: facility.open: invalid time of day `7:30` (expected \"HH:MM\", e.g. \"07:30\")",
            line(&text, "7:30")
        )
    );
}

#[test]
fn a_syntax_error_is_reported_with_its_line_and_no_key() {
    let text = with("name = \"Infants\"", "name = \"Infants");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "");
    assert_eq!(found[0].line, Some(line(&text, "\"Infants")));
}

/// Found by fuzzing (`fuzz/corpus/config`): toml_edit has no words for a control
/// character in a comment, and `check-config` printed `file:31: ` and nothing else.
#[test]
fn a_control_character_in_a_comment_is_refused_with_a_message_that_names_it() {
    let text = with("name = \"Infants\"", "# a\u{10}b\nname = \"Infants\"");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, Some(line(&text, "# a")), "{found:?}");
    assert!(found[0].message.contains("U+0010"), "{found:?}");
}

#[test]
fn a_key_given_twice_is_a_syntax_error() {
    let text = with("capacity = 15", "capacity = 15\ncapacity = 16");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].message.contains("duplicate key"), "{found:?}");
}

#[test]
fn unknown_keys_are_reported_at_every_depth_with_the_accepted_keys() {
    let text = with(
        "[[rooms]]\nid = \"infant\"",
        "[rule]\nratio_grace = \"1m\"\n\n[rules.temperature]\nmaxc = 30.0\n\n[[rooms]]\nid = \"infant\"\nnmae = \"x\"",
    );
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["rule", "rules.temperature.maxc", "rooms[0].nmae"],
        "{found:?}"
    );
    assert_eq!(found[0].line, Some(line(&text, "[rule]")));
    assert!(found[0].message.starts_with("unknown key, expected one of"));
    assert!(found[0].message.contains("`rules`"), "{}", found[0].message);
    assert!(found[1].message.contains("`max_c`"), "{}", found[1].message);
    assert_eq!(found[2].line, Some(line(&text, "nmae")));
}

#[test]
fn an_unknown_preset_names_the_accepted_values() {
    let text = with("\"cn-2019\"", "\"cn2019\"");
    only(
        &text,
        "facility.ratio_preset",
        line(&text, "cn2019"),
        "`cn-2019`, `uk-eyfs`, `us-cfoc`, `au-nqf`, `cn-home-2023`",
    );
}

#[test]
fn an_unknown_time_zone_is_reported_with_an_example() {
    let text = with("Asia/Shanghai", "China/Beijing");
    only(
        &text,
        "facility.timezone",
        line(&text, "China/Beijing"),
        "IANA name",
    );
}

#[test]
fn a_missing_required_key_is_reported_at_its_table() {
    let text = with("birth_date = \"2025-05-20\"\n", "");
    only(
        &text,
        "children[0].birth_date",
        line(&text, "[[children]]"),
        "missing required key",
    );
}

#[test]
fn a_malformed_required_value_is_not_also_reported_missing() {
    let text = with("room = \"infant\"\nguardians", "room = 5\nguardians");
    only(
        &text,
        "children[0].room",
        line(&text, "room = 5"),
        "invalid type",
    );
}

#[test]
fn a_missing_facility_is_reported_and_the_rest_still_checked() {
    let text = BASE
        .replace("[facility]", "[facilities]")
        .replace("door = \"entrance\"", "door = \"front\"");
    let keys: Vec<String> = problems(&text).into_iter().map(|p| p.key).collect();
    assert_eq!(keys, ["facilities", "readers[0].door", "facility"]);
}

#[test]
fn references_to_an_element_that_could_not_be_read_are_not_reported_again() {
    // The room lacks its name; the staff member, child and sensor in it are fine.
    let text = with("name = \"Infants\"\n", "");
    only(
        &text,
        "rooms[0].name",
        line(&text, "id = \"infant\"") - 1,
        "missing required key",
    );
}

#[test]
fn keys_keep_the_file_s_indices_after_an_element_was_dropped() {
    let text = with("name = \"Infants\"\n", "").replace("capacity = 15", "capacity = 0");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["rooms[0].name", "rooms[1].capacity"], "{found:?}");
    assert_eq!(found[1].line, Some(line(&text, "capacity = 0")));
}

#[test]
fn bad_dates_and_times_are_reported_with_the_expected_form() {
    let text = with("\"2025-05-20\"", "\"2025-13-01\"")
        .replace("\"07:30\"", "\"7:30\"")
        .replace("\"18:00\"", "\"25:00\"");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["facility.open", "facility.close", "children[0].birth_date"],
        "{found:?}"
    );
    assert!(found[0].message.contains("\"HH:MM\""));
    assert!(found[1].message.contains("`25:00`"));
    assert!(
        found[2].message.contains("\"YYYY-MM-DD\"") && found[2].message.contains("2025-13-01"),
        "{}",
        found[2].message
    );
}

#[test]
fn a_toml_date_is_accepted_as_a_birth_date() {
    let cfg = ok(&with("\"2025-05-20\"", "2025-05-20"));
    assert_eq!(
        cfg.children[0].birth_date,
        chrono::NaiveDate::from_ymd_opt(2025, 5, 20).unwrap()
    );
}

#[test]
fn a_bad_duration_names_the_accepted_form() {
    let text = format!("{BASE}\n[rules]\ntemperature = {{ sustain = \"ten minutes\" }}\n");
    only(
        &text,
        "rules.temperature.sustain",
        line(&text, "ten minutes"),
        "\"10m\"",
    );
}

#[test]
fn the_rules_durations_are_read_as_typed_durations() {
    let text = format!(
        "{BASE}\n[rules]\nratio_grace = \"90s\"\npickup_grace = \"1h 30m\"\ntemperature = {{ sustain = \"2m\" }}\n"
    );
    let cfg = ok(&text);
    assert_eq!(cfg.rules.ratio_grace.0, Duration::from_secs(90));
    assert_eq!(cfg.rules.pickup_grace.0, Duration::from_secs(5400));
    assert_eq!(cfg.rules.temperature.sustain.0, Duration::from_secs(120));
    assert_eq!(
        cfg.rules.temperature.min_c, 18.0,
        "the rest of the table keeps its defaults"
    );
}

#[test]
fn a_malformed_facility_key_does_not_hide_the_other_facility_checks() {
    let text = with("Asia/Shanghai", "Mars/Olympus")
        .replace("id = \"310115-0042\"", "id = \"310115/0042\"")
        .replace("close = \"18:00\"", "close = \"06:00\"")
        .replace("open = \"07:30\"\n", "");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["facility.open", "facility.id", "facility.timezone"],
        "{found:?}"
    );
    assert_eq!(found[0].line, Some(line(&text, "[facility]")));

    let text =
        with("\"cn-2019\"", "\"cn-2019-bis\"").replace("close = \"18:00\"", "close = \"06:00\"");
    let keys: Vec<String> = problems(&text).into_iter().map(|p| p.key).collect();
    assert_eq!(keys, ["facility.ratio_preset", "facility.close"]);
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever is cut out of or pasted into a valid file, the loader answers with a
        /// config or a list of problems, never a panic or an empty list.
        #[test]
        fn on_a_damaged_file(start in 0..BASE.len(), len in 0usize..40, paste in "[ -~\n]{0,12}") {
            let mut text = BASE.as_bytes().to_vec();
            let end = (start + len).min(text.len());
            text.splice(start..end, paste.bytes());
            let text = String::from_utf8_lossy(&text);
            if let Err(e) = parse(&text, Path::new(ORIGIN)) {
                prop_assert!(!e.problems.is_empty());
            }
        }
    }
}

#[test]
fn the_configuration_s_enum_names_are_their_serde_names() {
    for p in ReaderPurpose::ALL {
        let back: ReaderPurpose = serde_json::from_str(&format!("\"{}\"", p.as_str())).unwrap();
        assert_eq!(back, *p);
        assert_eq!(
            serde_json::to_string(p).unwrap(),
            format!("\"{}\"", p.as_str())
        );
    }
    for r in Role::ALL {
        let back: Role = serde_json::from_str(&format!("\"{}\"", r.as_str())).unwrap();
        assert_eq!(back, *r);
    }
    for k in SensorKind::ALL {
        let back: SensorKind = serde_json::from_str(&format!("\"{}\"", k.as_str())).unwrap();
        assert_eq!(back, *k);
    }
    assert_eq!(ReaderPurpose::ALL.len(), 5);
    assert_eq!(ReaderPurpose::Assembly.as_str(), "assembly");
    assert_eq!(ReaderPurpose::SleepCheck.as_str(), "sleep_check");
    assert_eq!(Role::ALL.len(), 6);
    assert_eq!(SensorKind::Ds18b20.as_str(), "ds18b20");
    assert_eq!(Role::Caregiver.as_str(), "caregiver");
}
