//! Platform commands (contract section 6): what a `commands` payload is, checked without
//! ever panicking.

use chrono::NaiveDate;

use super::MAX_COMMAND_ID;

/// A platform command the core must carry out (contract section 6). Already checked:
/// well-formed, known, with an id never seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Enqueue the daily summary of `date` again (a new message: new id, new seq).
    ResendSummary { id: String, date: NaiveDate },
    /// Publish a telemetry snapshot now.
    Snapshot { id: String },
}

impl Command {
    /// The command's id, for its `command_id` in the result.
    pub fn id(&self) -> &str {
        match self {
            Command::ResendSummary { id, .. } | Command::Snapshot { id } => id,
        }
    }
}

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

