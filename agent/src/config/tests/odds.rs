//! Odd values a hostile or careless file holds (issue 11.11): TOML dates where text
//! belongs, a child nobody may collect, a child not born yet, a simulation at the end of
//! the calendar.

use super::*;

#[test]
fn a_toml_date_as_a_name_or_card_is_an_error_naming_the_key() {
    let text = with("name = \"Wang\"", "name = 2025-05-20");
    only(
        &text,
        "staff[0].name",
        line(&text, "name = 2025-05-20"),
        "a TOML date/time (2025-05-20) where text is expected",
    );
    let text = with("card = \"20001\"", "card = 10:30:00");
    only(
        &text,
        "guardians[0].card",
        line(&text, "card = 10:30:00"),
        "write it in quotes",
    );
    // Where a date belongs, TOML's own date type is still welcome.
    ok(&with(
        "birth_date = \"2025-05-20\"",
        "birth_date = 2025-05-20",
    ));
}

#[test]
fn a_toml_date_where_a_number_belongs_is_reported_once() {
    let text = with("capacity = 15", "capacity = 2025-05-20");
    only(
        &text,
        "rooms[1].capacity",
        line(&text, "capacity = 2025-05-20"),
        "TOML date/time",
    );
}

#[test]
fn an_empty_guardians_list_is_an_error_as_nobody_could_collect_the_child() {
    let text = with("guardians = [\"g-01\"]", "guardians = []");
    only(
        &text,
        "children[0].guardians",
        line(&text, "guardians = []"),
        "nobody may pick this child up",
    );
    // Leaving the key out is the installer's way of saying "none yet".
    ok(&with("guardians = [\"g-01\"]\n", ""));
}

#[test]
fn a_birth_date_in_the_future_is_an_error() {
    let text = with("birth_date = \"2025-05-20\"", "birth_date = \"2130-05-20\"");
    only(
        &text,
        "children[0].birth_date",
        line(&text, "2130-05-20"),
        "birth date 2130-05-20 is in the future",
    );
}

#[test]
fn a_simulation_date_at_the_end_of_the_calendar_is_an_error() {
    let text = format!("{BASE}\n[simulation]\ndate = \"9999-12-31\"\n");
    only(
        &text,
        "simulation.date",
        line(&text, "9999-12-31"),
        "outside 1970-01-01 to 2199-12-31",
    );
    ok(&format!("{BASE}\n[simulation]\ndate = \"2026-03-02\"\n"));
}
