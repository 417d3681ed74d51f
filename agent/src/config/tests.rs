//! Loader tests: each names a mistake someone will make in a real file and checks that it
//! is reported with the right key, line and a message that says what to write instead.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// A small valid file; tests change one thing in it.
const BASE: &str = r#"
[facility]
id = "310115-0042"
name = "Sunflower"
timezone = "Asia/Shanghai"
ratio_preset = "cn-2019"
open = "07:30"
close = "18:00"

[[rooms]]
id = "infant"
name = "Infants"

[[rooms]]
id = "toddler"
name = "Toddlers"
capacity = 15

[[doors]]
id = "entrance"

[[readers]]
id = "entrance-reader"
purpose = "access"
door = "entrance"

[[sensors]]
id = "t-infant"
room = "infant"

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
room = "infant"
guardians = ["g-01"]

[[guardians]]
id = "g-01"
name = "Li"
card = "20001"
"#;

const ORIGIN: &str = "/etc/nursery/agent.toml";

fn problems(text: &str) -> Vec<Problem> {
    match parse(text, Path::new(ORIGIN)) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems,
    }
}

fn ok(text: &str) -> Config {
    match parse(text, Path::new(ORIGIN)) {
        Ok(cfg) => cfg,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// `BASE` with `from` replaced by `to`; `from` must occur exactly once.
fn with(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur once in BASE"
    );
    BASE.replacen(from, to, 1)
}

/// The 1-based line of the only line of `text` containing `needle`.
fn line(text: &str, needle: &str) -> usize {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "`{needle}` must be on exactly one line");
    hits[0]
}

/// Asserts that `text` has exactly one problem, at `key` on line `at`, whose message
/// contains `says`.
fn only(text: &str, key: &str, at: usize, says: &str) {
    let found = problems(text);
    let listed = found
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(found.len(), 1, "expected one problem, got:\n{listed}");
    let p = &found[0];
    assert_eq!(p.key, key, "{listed}");
    assert_eq!(p.line, Some(at), "{listed}");
    assert!(p.message.contains(says), "`{says}` not in: {listed}");
    assert_eq!(p.file, PathBuf::from(ORIGIN));
}

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
        "`cn-2019`, `uk-eyfs`, `us-cfoc`, `au-nqf`",
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
fn ids_must_be_1_to_64_letters_digits_dashes_or_underscores() {
    let long = "x".repeat(65);
    let text = with("id = \"310115-0042\"", "id = \"310115 0042\"")
        .replace("id = \"toddler\"", &format!("id = \"{long}\""))
        .replace("id = \"g-01\"", "id = \"\"")
        .replace("guardians = [\"g-01\"]", "guardians = [\"\"]");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["facility.id", "rooms[1].id", "guardians[0].id"],
        "{found:?}"
    );
    assert!(found.iter().all(|p| p.message.starts_with("invalid id")));
    assert!(valid_ids_are_accepted());
}

fn valid_ids_are_accepted() -> bool {
    ["a", "A-z_09", &"x".repeat(64)]
        .iter()
        .all(|id| validate::valid_id(id))
        && !["", "ü", "a b", "a/b", "a+b"]
            .iter()
            .any(|id| validate::valid_id(id))
}

#[test]
fn a_duplicate_id_within_a_kind_points_at_the_first_use() {
    let text = with("id = \"toddler\"", "id = \"infant\"");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "rooms[1].id");
    assert_eq!(found[0].line, Some(line(&text, "name = \"Toddlers\"") - 1));
    let first = line(&text, "name = \"Infants\"") - 2;
    assert!(
        found[0].message.ends_with(&format!(
            "duplicate id `infant`, already used by rooms[0] (line {first})"
        )),
        "{}",
        found[0].message
    );
}

#[test]
fn different_kinds_of_places_may_share_an_id() {
    // A room, a door, a reader and a sensor all called "hall" are four different things.
    let text = format!(
        "{BASE}\n[[rooms]]\nid = \"hall\"\nname = \"Hall\"\n[[doors]]\nid = \"hall\"\n[[readers]]\nid = \"hall\"\npurpose = \"room\"\nroom = \"hall\"\n[[sensors]]\nid = \"hall\"\nroom = \"hall\"\n"
    );
    ok(&text);
}

#[test]
fn staff_children_and_guardians_share_one_id_space() {
    let text = with("id = \"g-01\"", "id = \"s-01\"").replace("[\"g-01\"]", "[\"s-01\"]");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "guardians[0].id");
    assert!(
        found[0].message.contains("already used by staff[0]"),
        "{}",
        found[0].message
    );
    assert!(
        found[0].message.contains("share one id space"),
        "{}",
        found[0].message
    );
}

#[test]
fn a_card_used_by_a_member_of_staff_and_a_guardian_is_reported() {
    let text = with("card = \"20001\"", "card = \"10001\"");
    only(
        &text,
        "guardians[0].card",
        line(&text, "name = \"Li\"") + 1,
        "already used by staff[0]",
    );
}

#[test]
fn a_home_room_or_sensor_room_that_does_not_exist_is_reported() {
    let text = BASE.replace("room = \"infant\"", "room = \"nursery\"");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["sensors[0].room", "staff[0].room", "children[0].room"],
        "{found:?}"
    );
    assert!(found[0]
        .message
        .contains("unknown room `nursery` (defined: infant, toddler)"));
}

#[test]
fn an_access_reader_needs_a_door_that_exists() {
    let text = with("door = \"entrance\"", "door = \"front\"");
    only(
        &text,
        "readers[0].door",
        line(&text, "\"front\""),
        "unknown door `front`",
    );
    let text = with("door = \"entrance\"\n", "");
    only(
        &text,
        "readers[0].door",
        line(&text, "[[readers]]"),
        "needs a door",
    );
}

#[test]
fn a_room_reader_needs_a_room_that_exists() {
    let text = with(
        "purpose = \"access\"\ndoor = \"entrance\"",
        "purpose = \"room\"",
    );
    only(
        &text,
        "readers[0].room",
        line(&text, "[[readers]]"),
        "needs a room",
    );
    let text = with(
        "purpose = \"access\"\ndoor = \"entrance\"",
        "purpose = \"room\"\nroom = \"hall\"",
    );
    only(
        &text,
        "readers[0].room",
        line(&text, "\"hall\""),
        "unknown room `hall`",
    );
}

#[test]
fn an_attendance_reader_may_name_a_door_or_room_but_it_must_exist() {
    ok(&with("purpose = \"access\"", "purpose = \"attendance\""));
    ok(&with(
        "purpose = \"access\"\ndoor = \"entrance\"",
        "purpose = \"attendance\"",
    ));
    let text = with(
        "purpose = \"access\"\ndoor = \"entrance\"",
        "purpose = \"attendance\"\nroom = \"hall\"",
    );
    only(
        &text,
        "readers[0].room",
        line(&text, "\"hall\""),
        "unknown room",
    );
}

#[test]
fn a_child_s_guardian_must_be_defined_as_a_guardian() {
    let text = with("[\"g-01\"]", "[\"g-01\", \"g-02\"]");
    only(
        &text,
        "children[0].guardians[1]",
        line(&text, "g-02"),
        "unknown guardian `g-02` (defined: g-01)",
    );
    let text = with("[\"g-01\"]", "[\"s-01\"]");
    only(
        &text,
        "children[0].guardians[0]",
        line(&text, "[\"s-01\"]"),
        "member of staff",
    );
    let text = with("[\"g-01\"]", "[\"g-01\", \"g-01\"]");
    only(
        &text,
        "children[0].guardians[1]",
        line(&text, "guardians = ["),
        "listed twice",
    );
}

#[test]
fn the_nursery_must_open_before_it_closes() {
    let text = with("close = \"18:00\"", "close = \"07:00\"");
    only(
        &text,
        "facility.close",
        line(&text, "07:00"),
        "must be after open (07:30)",
    );
    let text = with("close = \"18:00\"", "close = \"07:30\"");
    only(
        &text,
        "facility.close",
        line(&text, "close = "),
        "must be after open",
    );
}

#[test]
fn the_temperature_band_must_be_ordered_and_wider_than_its_hysteresis() {
    let text = format!("{BASE}\n[rules.temperature]\nmin_c = 26.0\nmax_c = 20.0\n");
    only(
        &text,
        "rules.temperature.max_c",
        line(&text, "max_c"),
        "must be greater than min_c (26)",
    );
    let text =
        format!("{BASE}\n[rules.temperature]\nmin_c = 20.0\nmax_c = 21.0\nhysteresis_c = 1.0\n");
    only(
        &text,
        "rules.temperature.hysteresis_c",
        line(&text, "hysteresis_c"),
        "could never clear",
    );
    let text = format!("{BASE}\n[rules.temperature]\nhysteresis_c = -0.5\n");
    only(
        &text,
        "rules.temperature.hysteresis_c",
        line(&text, "hysteresis_c"),
        "at least 0",
    );
    let text = format!("{BASE}\n[rules.temperature]\nmax_c = inf\n");
    only(
        &text,
        "rules.temperature.max_c",
        line(&text, "max_c"),
        "finite",
    );
}

#[test]
fn humidity_limits_lie_within_0_and_100_percent() {
    let text = format!("{BASE}\n[rules]\nhumidity = {{ min_pct = -5, max_pct = 120 }}\n");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["rules.humidity.min_pct", "rules.humidity.max_pct"],
        "{found:?}"
    );
    assert!(found[1].message.contains("between 0 and 100"));
    assert_eq!(found[1].line, Some(line(&text, "humidity =")));
    let text = format!("{BASE}\n[rules.humidity]\nmin_pct = 60\nmax_pct = 40\n");
    only(
        &text,
        "rules.humidity.max_pct",
        line(&text, "max_pct"),
        "greater than min_pct",
    );
}

#[test]
fn door_held_open_and_sensor_stale_after_must_be_longer_than_zero() {
    let text = format!("{BASE}\n[rules]\ndoor_held_open = \"0s\"\nsensor_stale_after = \"0\"\nunsupervised_grace = \"0s\"\n");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["rules.door_held_open", "rules.sensor_stale_after"],
        "{found:?}"
    );
}

#[test]
fn the_simulation_speed_must_be_a_number_above_zero() {
    for bad in ["0.0", "-60.0", "nan", "inf"] {
        let text = format!("{BASE}\n[simulation]\nspeed = {bad}\n");
        only(&text, "simulation.speed", line(&text, "speed"), "above 0");
    }
    let cfg = ok(&format!(
        "{BASE}\n[simulation]\nseed = 7\ndate = 2025-09-01\n"
    ));
    let sim = cfg.simulation.unwrap();
    assert_eq!((sim.seed, sim.speed), (7, 60.0));
}

#[test]
fn mqtt_port_zero_and_an_unusable_topic_prefix_are_rejected() {
    let text = format!("{BASE}\n[mqtt]\nport = 0\ntopic_prefix = \"childcare/#\"\n");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["mqtt.port", "mqtt.topic_prefix"], "{found:?}");
    let text = format!("{BASE}\n[mqtt]\nport = 70000\n");
    only(&text, "mqtt.port", line(&text, "70000"), "u16");
}

#[test]
fn a_room_capacity_must_be_at_least_one() {
    let text = with("capacity = 15", "capacity = 0");
    only(
        &text,
        "rooms[1].capacity",
        line(&text, "capacity"),
        "at least 1",
    );
    let text = with("capacity = 15", "capacity = -3");
    only(
        &text,
        "rooms[1].capacity",
        line(&text, "capacity"),
        "invalid value",
    );
}

#[test]
fn the_dashboard_listens_on_a_socket_address() {
    let text = format!("{BASE}\n[dashboard]\nlisten = \"localhost:8080\"\n");
    only(&text, "dashboard.listen", line(&text, "listen"), "IP:port");
    ok(&format!("{BASE}\n[dashboard]\nlisten = \"[::1]:0\"\n"));
}

#[test]
fn a_file_without_rooms_has_nothing_to_watch() {
    let text = r#"
[facility]
id = "f"
name = "Empty"
timezone = "UTC"
ratio_preset = "uk-eyfs"
open = "08:00"
close = "17:00"
"#;
    let found = problems(text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].key.as_str(), found[0].line), ("rooms", None));
}

#[test]
fn a_relative_storage_dir_resolves_against_the_config_file_s_directory() {
    let text = format!("{BASE}\n[storage]\ndir = \"../var/demo\"\n");
    let cfg = parse(&text, Path::new("/srv/nursery/config/demo.toml")).unwrap();
    assert_eq!(
        cfg.storage.dir,
        PathBuf::from("/srv/nursery/config/../var/demo")
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.toml");
    std::fs::write(&file, format!("{BASE}\n[storage]\ndir = \"state\"\n")).unwrap();
    let cfg = load(&file).unwrap();
    assert_eq!(cfg.storage.dir, dir.path().join("state"));
    assert!(cfg.storage.dir.is_absolute());

    let cfg = ok(&format!("{BASE}\n[storage]\ndir = \"/var/lib/x\"\n"));
    assert_eq!(cfg.storage.dir, PathBuf::from("/var/lib/x"));
}

#[test]
fn an_unreadable_or_non_utf8_file_is_one_problem_without_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let err = load(&missing).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(err.problems[0].message.starts_with("cannot read"));
    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"[facility]\nname = \"caf\xe9\"\n").unwrap();
    let err = load(&latin1).unwrap_err();
    assert!(err.problems[0].message.contains("offset 22"), "{err}");
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

#[test]
fn ids_and_cards_of_an_element_that_could_not_be_read_still_count() {
    // The staff member's role is wrong, so the entry is dropped; its id and card are still
    // taken, by the guardian below.
    let text = with("role = \"caregiver\"", "role = \"nurse\"")
        .replace("id = \"g-01\"", "id = \"s-01\"")
        .replace("[\"g-01\"]", "[\"s-01\"]")
        .replace("card = \"20001\"", "card = \"10001\"");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["staff[0].role", "guardians[0].id", "guardians[0].card"],
        "{found:?}"
    );
    assert!(found[1].message.contains("already used by staff[0]"));
}

// ---- hardware keys (hw) ---------------------------------------------------------------

/// `BASE` with one more room sensor section appended.
fn with_hw(extra: &str) -> String {
    format!("{BASE}\n{extra}")
}

#[test]
fn hardware_sensors_take_their_bus_address_and_poll_with_defaults() {
    let cfg = ok(&with_hw(
        "[[sensors]]\nid = \"t-sht\"\nroom = \"infant\"\nkind = \"sht4x\"\naddress = 0x46\n",
    ));
    let s = cfg.sensors.iter().find(|s| s.id == "t-sht").unwrap();
    assert_eq!(s.kind, SensorKind::Sht4x);
    assert_eq!(s.i2c_bus(), PathBuf::from("/dev/i2c-1"));
    assert_eq!(s.i2c_address(), 0x46);
    assert_eq!(s.poll.0, Duration::from_secs(60));
}

#[test]
fn two_sensors_on_one_bus_address_are_reported_at_the_second() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht3x\"\naddress = 0x44\n\n\
         [[sensors]]\nid = \"b\"\nroom = \"toddler\"\nkind = \"sht4x\"\nbus = \"/dev/i2c-1\"\naddress = 0x44 # second\n",
    );
    only(
        &text,
        "sensors[2].address",
        line(&text, "# second"),
        "address 0x44 on /dev/i2c-1 is already used by sensors[1].address",
    );
}

#[test]
fn the_same_address_on_two_buses_is_fine() {
    ok(&with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht3x\"\n\n\
         [[sensors]]\nid = \"b\"\nroom = \"toddler\"\nkind = \"sht3x\"\nbus = \"/dev/i2c-3\"\n",
    ));
}

#[test]
fn one_gpio_line_used_twice_is_reported_at_the_second_use() {
    let text = BASE.replacen(
        "[[doors]]\nid = \"entrance\"\n",
        "[[doors]]\nid = \"entrance\"\ncontact = { line = 17 }\n\n[outputs]\nbuzzer = { line = 17 } # again\n",
        1,
    );
    only(
        &text,
        "outputs.buzzer.line",
        line(&text, "# again"),
        "line 17 of /dev/gpiochip0 is already used by doors[0].contact.line",
    );
}

#[test]
fn the_pis_i2c_pins_are_not_free_gpio_while_a_sensor_uses_i2c_1() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht3x\"\n\n\
         [outputs]\nlight = { line = 3 } # scl\n",
    );
    only(&text, "outputs.light.line", line(&text, "# scl"), "SCL1");
}

#[test]
fn an_i2c_address_outside_0x03_to_0x77_is_reserved() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht4x\"\naddress = 0x78 # here\n",
    );
    only(
        &text,
        "sensors[1].address",
        line(&text, "# here"),
        "reserved",
    );
}

#[test]
fn an_sht3x_at_an_address_it_cannot_answer_is_reported() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht3x\"\naddress = 0x46 # here\n",
    );
    only(
        &text,
        "sensors[1].address",
        line(&text, "# here"),
        "a sht3x answers only at 0x44 or 0x45",
    );
}

#[test]
fn a_malformed_w1_id_is_reported_and_a_missing_one_asked_for() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"ds18b20\"\nw1_id = \"28-0316A2791C2F\" # upper\n",
    );
    only(
        &text,
        "sensors[1].w1_id",
        line(&text, "# upper"),
        "lower-case hex",
    );
    let text = with_hw("[[sensors]] # none\nid = \"a\"\nroom = \"infant\"\nkind = \"ds18b20\"\n");
    only(
        &text,
        "sensors[1].w1_id",
        line(&text, "# none"),
        "needs its 1-Wire id",
    );
}

#[test]
fn hardware_keys_on_a_virtual_sensor_are_reported() {
    let text = BASE.replacen(
        "id = \"t-infant\"\nroom = \"infant\"\n",
        "id = \"t-infant\"\nroom = \"infant\"\naddress = 0x44 # stray\n",
        1,
    );
    only(
        &text,
        "sensors[0].address",
        line(&text, "# stray"),
        "not used by a sensor of kind \"virtual\"",
    );
}

#[test]
fn a_poll_as_long_as_the_stale_limit_is_reported() {
    let text = with_hw(
        "[[sensors]]\nid = \"a\"\nroom = \"infant\"\nkind = \"sht3x\"\npoll = \"5m\" # slow\n",
    );
    only(
        &text,
        "sensors[1].poll",
        line(&text, "# slow"),
        "sensor_stale_after",
    );
}

#[test]
fn a_wiegand_reader_needs_both_data_lines_and_a_keyboard_reader_its_device() {
    let text = BASE.replacen(
        "door = \"entrance\"\n",
        "door = \"entrance\"\ninput = { kind = \"wiegand\", d0 = 5 } # one line\n",
        1,
    );
    only(
        &text,
        "readers[0].input.d1",
        line(&text, "# one line"),
        "needs d1",
    );
    let text = BASE.replacen(
        "door = \"entrance\"\n",
        "door = \"entrance\"\ninput = { kind = \"keyboard\" } # no device\n",
        1,
    );
    only(
        &text,
        "readers[0].input.device",
        line(&text, "# no device"),
        "needs its device",
    );
}

#[test]
fn an_unknown_key_in_a_door_contact_is_reported() {
    let text = BASE.replacen(
        "[[doors]]\nid = \"entrance\"\n",
        "[[doors]]\nid = \"entrance\"\ncontact = { line = 17, pin = 11 } # typo\n",
        1,
    );
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|p| p.key == "doors[0].contact.pin" && p.message.contains("`line`")),
        "{found:?}"
    );
}

#[test]
fn mqtt_settings_that_cannot_work_are_reported_each_with_its_key() {
    let text = format!(
        "{}\n[mqtt]\nusername = \"\"\npassword_file = \"pw\"\nmax_inflight = 0\ntelemetry_qos = 2\noutbox_max_bytes = 10\nreconnect_min = \"5s\"\nreconnect_max = \"1s\"\ntls = {{ ca_file = \"ca.pem\", cert_file = \"c.pem\" }}\n",
        MQTT_BASE
    );
    let err = parse(&text, std::path::Path::new("/etc/na/agent.toml")).unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    for k in [
        "mqtt.tls",
        "mqtt.max_inflight",
        "mqtt.telemetry_qos",
        "mqtt.outbox_max_bytes",
        "mqtt.reconnect_max",
    ] {
        assert!(keys.contains(&k), "{k} not in {keys:?}");
    }
    assert!(err.problems.iter().all(|p| p.line.is_some()), "{err}");
}

#[test]
fn tls_and_password_files_are_found_beside_the_configuration() {
    let text = format!(
        "{}\n[mqtt]\nusername = \"agent\"\npassword_file = \"secrets/pw\"\ntls = {{ ca_file = \"ca.pem\" }}\n",
        MQTT_BASE
    );
    let cfg = parse(&text, std::path::Path::new("/etc/na/agent.toml")).unwrap();
    assert_eq!(
        cfg.mqtt.password_file.as_deref(),
        Some(std::path::Path::new("/etc/na/secrets/pw"))
    );
    assert_eq!(
        cfg.mqtt.tls.unwrap().ca_file,
        std::path::Path::new("/etc/na/ca.pem")
    );
}

const MQTT_BASE: &str = r#"
[facility]
id = "f-1"
name = "n"
timezone = "Asia/Shanghai"
ratio_preset = "cn-2019"
open = "07:30"
close = "18:00"

[[rooms]]
id = "r1"
name = "r1"
"#;
