//! Platform commands (contract section 6): what a `commands` payload is, checked without
//! ever panicking.

use chrono::NaiveDate;

use super::MAX_COMMAND_ID;
pub use crate::input::Command;

/// What a `commands` payload turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedCommand {
    Valid(Command),
    /// `resend` (contract 1.1 section 12): carried out by the uplink itself, from the
    /// acknowledged copies it holds; the core never sees it.
    Resend(Resend),
    /// Answer with an error result.
    Invalid {
        id: String,
        error: String,
    },
    /// No usable id: nobody to answer; log and drop.
    Unanswerable(String),
}

/// A valid `resend`: publish again the held messages with `from_seq <= seq <= to_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resend {
    pub id: String,
    pub from_seq: u64,
    pub to_seq: u64,
}

/// The largest seq a `resend` may name: SQLite's integers are signed 64-bit.
pub const MAX_SEQ: u64 = i64::MAX as u64;

/// `from_seq` / `to_seq` of a `resend`: a whole number from 1 to [`MAX_SEQ`].
fn seq_field(v: &serde_json::Value, name: &str) -> Result<u64, String> {
    let shown = |x: &serde_json::Value| {
        let s: String = x.to_string().chars().take(40).collect();
        printable(&s)
    };
    match v.get(name) {
        None | Some(serde_json::Value::Null) => Err(format!(
            "resend needs `{name}`: a whole number, the first seq is 1"
        )),
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(0) => Err(format!("`{name}` is 0: seq starts at 1")),
            Some(s) if s <= MAX_SEQ => Ok(s),
            Some(s) => Err(format!("`{name}` {s} is beyond the largest seq {MAX_SEQ}")),
            None if n.as_i64().is_some() => {
                Err(format!("`{name}` is negative ({n}): seq starts at 1"))
            }
            None => Err(format!(
                "`{name}` must be a whole number, not {}",
                shown(&serde_json::Value::Number(n.clone()))
            )),
        },
        Some(other) => Err(format!(
            "`{name}` must be a whole number, not {}",
            shown(other)
        )),
    }
}

/// Checks the range of a `resend`.
fn resend(v: &serde_json::Value, id: &str) -> ParsedCommand {
    let range = seq_field(v, "from_seq").and_then(|from| {
        let to = seq_field(v, "to_seq")?;
        if from > to {
            return Err(format!(
                "reversed range: `from_seq` {from} is after `to_seq` {to}"
            ));
        }
        Ok((from, to))
    });
    match range {
        Ok((from_seq, to_seq)) => ParsedCommand::Resend(Resend {
            id: id.to_owned(),
            from_seq,
            to_seq,
        }),
        Err(error) => ParsedCommand::Invalid {
            id: id.to_owned(),
            error,
        },
    }
}

/// Checks a `commands` payload. Never panics, whatever the bytes.
///
/// A payload over `max_bytes` is never parsed as a whole: only its `id` is looked for (the
/// rest is skipped without being kept), so an oversize command costs no more memory than
/// its bytes. An id with control or bidirectional-formatting characters is not echoed
/// upstream (nor answered: an escaped id would not match the platform's anyway).
pub fn parse_command(payload: &[u8], max_bytes: usize) -> ParsedCommand {
    if payload.len() > max_bytes {
        return oversize(payload, max_bytes);
    }
    let v: serde_json::Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => return ParsedCommand::Unanswerable(format!("malformed JSON: {e}")),
    };
    let id = match usable_id(v.get("id")) {
        Ok(id) => id,
        Err(why) => return ParsedCommand::Unanswerable(why),
    };
    let invalid = |error: String| ParsedCommand::Invalid {
        id: id.clone(),
        error,
    };
    match v.get("command").and_then(|c| c.as_str()) {
        Some("snapshot") => ParsedCommand::Valid(Command::Snapshot { id }),
        Some("resend") => resend(&v, &id),
        Some("resend_summary") => match v.get("date").and_then(|d| d.as_str()) {
            Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(date) if d.len() == 10 => ParsedCommand::Valid(Command::ResendSummary {
                    id: id.clone(),
                    date,
                }),
                _ => invalid("invalid `date`: expected \"YYYY-MM-DD\"".into()),
            },
            None => invalid("resend_summary needs a string `date` (\"YYYY-MM-DD\")".into()),
        },
        Some(other) => {
            let shown: String = other.chars().take(64).collect();
            invalid(format!("unknown command `{}`", printable(&shown)))
        }
        None => invalid("no string `command`".into()),
    }
}

/// An oversize payload: its id (if it has a usable one) gets an error naming the limit.
fn oversize(payload: &[u8], max_bytes: usize) -> ParsedCommand {
    /// Only `id`; every other key is skipped by serde without being kept.
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: Option<serde_json::Value>,
    }
    let size = payload.len();
    match serde_json::from_slice::<IdOnly>(payload) {
        Ok(IdOnly { id }) => match usable_id(id.as_ref()) {
            Ok(id) => ParsedCommand::Invalid {
                id,
                error: format!("payload too large: {size} bytes, limit {max_bytes}"),
            },
            Err(why) => ParsedCommand::Unanswerable(format!(
                "payload of {size} bytes over the {max_bytes}-byte limit, and {why}"
            )),
        },
        Err(e) => ParsedCommand::Unanswerable(format!(
            "payload of {size} bytes over the {max_bytes}-byte limit and not JSON: {e}"
        )),
    }
}

/// The command id, if it can be echoed in a result: a non-empty string of at most
/// [`MAX_COMMAND_ID`] bytes with no control or bidirectional-formatting character.
fn usable_id(id: Option<&serde_json::Value>) -> Result<String, String> {
    match id {
        Some(serde_json::Value::String(s)) if s.is_empty() => Err("an empty `id`".into()),
        Some(serde_json::Value::String(s)) if s.len() > MAX_COMMAND_ID => Err(format!(
            "command id of {} bytes, over {MAX_COMMAND_ID}",
            s.len()
        )),
        Some(serde_json::Value::String(s)) => match s.char_indices().find(|(_, c)| unsafe_char(*c)) {
            Some((at, c)) => Err(format!(
                "command id `{}` has U+{:04X} at byte {at}: control and bidirectional characters are not echoed",
                printable(s),
                u32::from(c)
            )),
            None => Ok(s.clone()),
        },
        _ => Err("no string `id`".into()),
    }
}

/// A character that must not be echoed upstream or into a log: a control character, or
/// one that reorders or hides text (bidirectional controls, zero-width joiners, BOM).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
}

/// `s` with every [`unsafe_char`] written as `\u{…}`.
pub(super) fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn commands_are_classified_by_what_can_be_answered() {
        let p = |s: &str| parse_command(s.as_bytes(), 4096);
        assert_eq!(
            p(r#"{"id":"a","command":"snapshot"}"#),
            ParsedCommand::Valid(Command::Snapshot { id: "a".into() })
        );
        assert_eq!(
            p(r#"{"id":"b","command":"resend_summary","date":"2026-03-02"}"#),
            ParsedCommand::Valid(Command::ResendSummary {
                id: "b".into(),
                date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
            })
        );
        for bad_date in [
            "2026-3-2",
            "2026-02-30",
            "yesterday",
            "2026-03-02T00:00:00Z",
        ] {
            let cmd = format!(r#"{{"id":"c","command":"resend_summary","date":"{bad_date}"}}"#);
            assert!(
                matches!(p(&cmd), ParsedCommand::Invalid { ref id, .. } if id == "c"),
                "{bad_date}"
            );
        }
        assert!(matches!(
            p(r#"{"id":"d","command":"reboot"}"#),
            ParsedCommand::Invalid { .. }
        ));
        assert!(matches!(p("{"), ParsedCommand::Unanswerable(_)));
        assert!(matches!(
            p(r#"{"command":"snapshot"}"#),
            ParsedCommand::Unanswerable(_)
        ));
        assert!(matches!(p(r#"{"id":""}"#), ParsedCommand::Unanswerable(_)));
        let long_id = format!(r#"{{"id":"{}","command":"snapshot"}}"#, "x".repeat(500));
        assert!(matches!(p(&long_id), ParsedCommand::Unanswerable(_)));
        let huge = format!(
            r#"{{"id":"e","command":"snapshot","pad":"{}"}}"#,
            "x".repeat(5000)
        );
        assert!(
            matches!(p(&huge), ParsedCommand::Invalid { ref error, .. } if error.contains("too large"))
        );
    }

    #[test]
    fn a_resend_range_is_checked_and_every_bad_one_is_answered_with_what_is_wrong() {
        let p = |s: &str| parse_command(s.as_bytes(), 4096);
        assert_eq!(
            p(r#"{"id":"r-1","command":"resend","from_seq":5,"to_seq":14}"#),
            ParsedCommand::Resend(Resend {
                id: "r-1".into(),
                from_seq: 5,
                to_seq: 14
            })
        );
        assert_eq!(
            p(r#"{"id":"r","command":"resend","from_seq":7,"to_seq":9223372036854775807}"#),
            ParsedCommand::Resend(Resend {
                id: "r".into(),
                from_seq: 7,
                to_seq: MAX_SEQ
            })
        );
        for (range, says) in [
            (r#""from_seq":14,"to_seq":5"#, "reversed range"),
            (r#""from_seq":-1,"to_seq":5"#, "negative"),
            (r#""from_seq":0,"to_seq":5"#, "seq starts at 1"),
            (r#""from_seq":"5","to_seq":14"#, "whole number, not \"5\""),
            (r#""from_seq":1.5,"to_seq":14"#, "whole number, not 1.5"),
            (r#""from_seq":1,"to_seq":1e300"#, "whole number"),
            (
                r#""from_seq":1,"to_seq":18446744073709551615"#,
                "beyond the largest seq",
            ),
            (r#""from_seq":1,"to_seq":[1,2]"#, "whole number, not [1,2]"),
            (r#""to_seq":5"#, "needs `from_seq`"),
            (r#""from_seq":5,"to_seq":null"#, "needs `to_seq`"),
        ] {
            let cmd = format!(r#"{{"id":"x","command":"resend",{range}}}"#);
            match p(&cmd) {
                ParsedCommand::Invalid { id, error } => {
                    assert_eq!(id, "x");
                    assert!(error.contains(says), "{range}: {error}");
                }
                other => panic!("{range}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_command_id_with_nul_newline_or_bidi_override_is_never_echoed() {
        for id in [
            "a\u{0}b",
            "line\nbreak",
            "evil\u{202E}txt",
            "tab\there",
            "\u{2066}x",
        ] {
            let cmd = serde_json::json!({"id": id, "command": "snapshot"}).to_string();
            match parse_command(cmd.as_bytes(), 4096) {
                ParsedCommand::Unanswerable(why) => {
                    assert!(why.contains("not echoed"), "{why}");
                    assert!(!why.chars().any(unsafe_char), "{why:?}");
                }
                other => panic!("{id:?}: {other:?}"),
            }
        }
        // Text in other scripts is fine.
        let ok = serde_json::json!({"id": "命令-1", "command": "snapshot"}).to_string();
        assert!(matches!(
            parse_command(ok.as_bytes(), 4096),
            ParsedCommand::Valid(_)
        ));
    }

    #[test]
    fn an_unknown_command_name_is_echoed_without_control_characters() {
        let cmd = serde_json::json!({"id": "x", "command": "re\u{0}boot\u{202E}"}).to_string();
        match parse_command(cmd.as_bytes(), 4096) {
            ParsedCommand::Invalid { error, .. } => {
                assert!(!error.chars().any(unsafe_char), "{error:?}");
                assert!(error.contains("re\\u{0}boot\\u{202e}"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_oversize_command_is_refused_by_its_id_naming_the_limit() {
        let cmd = format!(
            r#"{{"pad":"{}","id":"big-1","command":"snapshot"}}"#,
            "x".repeat(300 * 1024)
        );
        match parse_command(cmd.as_bytes(), 4096) {
            ParsedCommand::Invalid { id, error } => {
                assert_eq!(id, "big-1");
                assert!(error.contains("limit 4096"), "{error}");
                assert!(error.contains(&cmd.len().to_string()), "{error}");
            }
            other => panic!("{other:?}"),
        }
        let no_id = format!(r#"{{"pad":"{}"}}"#, "x".repeat(5000));
        assert!(matches!(
            parse_command(no_id.as_bytes(), 4096),
            ParsedCommand::Unanswerable(why) if why.contains("4096-byte limit")
        ));
    }

    proptest! {
        #[test]
        fn any_payload_is_classified_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_command(&bytes, 256);
        }

        #[test]
        fn any_json_object_is_classified_without_panicking(
            id in proptest::option::of(".{0,200}"),
            command in proptest::option::of("(snapshot|resend_summary|.{0,20})"),
            date in proptest::option::of(".{0,12}"),
        ) {
            let mut v = serde_json::Map::new();
            if let Some(id) = id { v.insert("id".into(), id.into()); }
            if let Some(c) = command { v.insert("command".into(), c.into()); }
            if let Some(d) = date { v.insert("date".into(), d.into()); }
            let bytes = serde_json::to_vec(&v).unwrap();
            let _ = parse_command(&bytes, 4096);
        }
    }
}
