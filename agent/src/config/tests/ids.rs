//! Ids and cards: their syntax and their uniqueness, per id space.

use super::*;

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
