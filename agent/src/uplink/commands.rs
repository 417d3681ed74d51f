//! Platform commands (contract section 6): what a `commands` payload is, checked without
//! ever panicking.

use chrono::NaiveDate;

use super::MAX_COMMAND_ID;
pub use crate::input::Command;

/// What a `commands` payload turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedCommand {
    Valid(Command),
    /// Answer with an error result.
    Invalid {
        id: String,
        error: String,
    },
    /// No usable id: nobody to answer; log and drop.
    Unanswerable(String),
}

/// Checks a `commands` payload. Never panics, whatever the bytes.
pub fn parse_command(payload: &[u8], max_bytes: usize) -> ParsedCommand {
    let v: serde_json::Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) if payload.len() > max_bytes => {
            return ParsedCommand::Unanswerable(format!(
                "payload of {} bytes over the {max_bytes}-byte limit and not JSON: {e}",
                payload.len()
            ))
        }
        Err(e) => return ParsedCommand::Unanswerable(format!("malformed JSON: {e}")),
    };
    let id = match v.get("id") {
        Some(serde_json::Value::String(s)) if !s.is_empty() && s.len() <= MAX_COMMAND_ID => {
            s.clone()
        }
        Some(serde_json::Value::String(s)) if !s.is_empty() => {
            return ParsedCommand::Unanswerable(format!(
                "command id of {} bytes, over {MAX_COMMAND_ID}",
                s.len()
            ))
        }
        _ => return ParsedCommand::Unanswerable("no string `id`".into()),
    };
    let invalid = |error: String| ParsedCommand::Invalid {
        id: id.clone(),
        error,
    };
    if payload.len() > max_bytes {
        return invalid(format!(
            "payload too large: {} bytes, limit {max_bytes}",
            payload.len()
        ));
    }
    match v.get("command").and_then(|c| c.as_str()) {
        Some("snapshot") => ParsedCommand::Valid(Command::Snapshot { id }),
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
            invalid(format!("unknown command `{shown}`"))
        }
        None => invalid("no string `command`".into()),
    }
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
