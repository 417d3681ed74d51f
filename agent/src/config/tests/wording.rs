//! What the loader takes from its dependencies, pinned.
//!
//! The loader reads no dependency's wording: what kind of mistake serde found comes to it as
//! data ([`de::ErrorKind`]), and the messages for unknown keys and values, missing keys and
//! dates are its own. Some messages are still the dependencies' words, passed through as
//! they are — serde's "invalid type: integer `5`, expected a string", toml_edit's syntax
//! errors. These tests pin each of them, and pin that serde's derive hands over the kind
//! of error at all, so that an upgrade that changes either fails here rather than silently
//! changing what `check-config` prints.

use serde::Deserialize;

use super::super::de::{self, ErrorKind};
use super::*;

/// The only problem of `text`, as `check-config` prints it after the file name.
fn only_message(text: &str) -> String {
    let found = problems(text);
    assert_eq!(found.len(), 1, "{found:?}");
    let p = &found[0];
    format!("{}: {}", p.key, p.message)
}

#[test]
fn serde_s_words_for_a_wrong_type_or_a_number_out_of_range_pass_through() {
    let cases = [
        (
            format!("{BASE}\n[mqtt]\nport = 70000\n"),
            "mqtt.port: invalid value: integer `70000`, expected u16",
        ),
        (
            format!("{BASE}\n[mqtt]\ntelemetry_qos = 1.5\n"),
            "mqtt.telemetry_qos: invalid type: floating point `1.5`, expected u8",
        ),
        (
            format!("{BASE}\n[mqtt]\nenabled = \"yes\"\n"),
            "mqtt.enabled: invalid type: string \"yes\", expected a boolean",
        ),
        (
            format!("{BASE}\n[mqtt]\nkeep_alive = 5\n"),
            "mqtt.keep_alive: invalid type: integer `5`, expected a string",
        ),
        (
            with("capacity = 15", "capacity = -3"),
            "rooms[1].capacity: invalid value: integer `-3`, expected u32",
        ),
        (
            format!("{BASE}\n[simulation]\ndate = 5\n"),
            "simulation.date: invalid type: integer `5`, expected a formatted date string",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(only_message(&text), want);
    }
}

#[test]
fn toml_edit_s_words_for_a_syntax_error_pass_through_on_one_line() {
    let text = with("name = \"Infants\"", "name = \"Infants");
    assert_eq!(only_message(&text), ": invalid basic string");
    let text = with("capacity = 15", "capacity = 15\ncapacity = 16");
    assert_eq!(
        only_message(&text),
        ": duplicate key `capacity` in table `rooms`"
    );
}

#[test]
fn an_enum_that_is_not_a_string_says_so_in_toml_edit_s_words() {
    let text = with("purpose = \"access\"", "purpose = 5");
    assert_eq!(
        only_message(&text),
        "readers[0].purpose: wanted string or table"
    );
    let text = with("purpose = \"access\"", "purpose = {}");
    assert_eq!(
        only_message(&text),
        "readers[0].purpose: wanted exactly 1 element, found 0 elements"
    );
}

#[test]
fn every_date_chrono_rejects_gets_the_loader_s_own_message() {
    for bad in [
        "2025-13-01",
        "2025-02-30",
        "20250520",
        "2025-05-20x",
        "",
        "next week",
    ] {
        let text = with("\"2025-05-20\"", &format!("\"{bad}\""));
        assert_eq!(
            only_message(&text),
            format!(
                "children[0].birth_date: invalid date \"{bad}\" (expected \"YYYY-MM-DD\", e.g. \"2025-05-20\")"
            )
        );
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Sample {
    a: u32,
    b: Colour,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Colour {
    Red,
    Green,
}

/// The error `de` gives for `text` as a [`Sample`], and the text its span covers.
fn sample_error(text: &str) -> (ErrorKind, String) {
    let doc = toml_edit::ImDocument::parse(text).unwrap();
    let err = de::from_table::<Sample>(doc.as_table()).unwrap_err();
    let spanned = err.span.map_or(String::new(), |s| text[s].to_owned());
    (err.kind, spanned)
}

#[test]
fn serde_s_derive_hands_over_the_kind_of_error_as_data_with_its_span() {
    let (kind, at) = sample_error("a = 1\nb = \"red\"\nc = 2\n");
    assert_eq!(
        kind,
        ErrorKind::UnknownField {
            field: "c".into(),
            expected: &["a", "b"],
        }
    );
    assert_eq!(at, "c");

    let (kind, at) = sample_error("a = 1\nb = \"blue\"\n");
    assert_eq!(
        kind,
        ErrorKind::UnknownVariant {
            variant: "blue".into(),
            expected: &["red", "green"],
        }
    );
    assert_eq!(at, "\"blue\"");

    let (kind, _) = sample_error("a = 1\n");
    assert_eq!(kind, ErrorKind::MissingField("b"));

    let (kind, at) = sample_error("a = \"one\"\nb = \"red\"\n");
    assert_eq!(
        kind,
        ErrorKind::Other("invalid type: string \"one\", expected u32".into())
    );
    assert_eq!(at, "\"one\"");
}

#[test]
fn lists_of_accepted_keys_and_values_read_as_serde_wrote_them() {
    assert_eq!(de::one_of(&["a"]), "`a`");
    assert_eq!(de::one_of(&["a", "b"]), "`a` or `b`");
    assert_eq!(de::one_of(&["a", "b", "c"]), "one of `a`, `b`, `c`");
}
