//! References between rooms, doors, readers and people, and that there is a room.

use super::*;

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
fn a_sleep_check_reader_needs_a_room_that_exists() {
    let text = with(
        "purpose = \"access\"\ndoor = \"entrance\"",
        "purpose = \"sleep_check\"",
    );
    only(
        &text,
        "readers[0].room",
        line(&text, "[[readers]]"),
        "a reader of purpose \"sleep_check\" needs a room",
    );
    ok(&with(
        "purpose = \"access\"\ndoor = \"entrance\"",
        "purpose = \"sleep_check\"\nroom = \"infant\"",
    ));
}
