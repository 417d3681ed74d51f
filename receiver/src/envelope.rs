//! What arrives on `{prefix}/{facility}/…` (contract sections 6 and 12, docs/mqtt/): the
//! topic's facility and channel, and the envelope checked field by field.

use serde_json::Value;

/// The channel of a topic under `{prefix}/{facility}/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Alerts,
    Summaries,
    CommandResults,
    Status,
    Telemetry,
    /// Commands to the agent (ours and other platforms'): seen because of `#`, not stored.
    Commands,
}

impl Channel {
    /// The envelope `kind` this channel carries, if it carries envelopes.
    pub fn kind(self) -> Option<&'static str> {
        match self {
            Channel::Alerts => Some("alert"),
            Channel::Summaries => Some("summary"),
            Channel::CommandResults => Some("command_result"),
            _ => None,
        }
    }
}

/// `topic` split as `{prefix}/{facility}/{channel}`, or why it cannot be.
pub fn parse_topic<'a>(prefix: &str, topic: &'a str) -> Result<(&'a str, Channel), String> {
    let rest = topic
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| format!("topic {topic:?} is not under {prefix:?}"))?;
    let (facility, channel) = rest
        .split_once('/')
        .ok_or_else(|| format!("topic {topic:?} has no channel after the facility"))?;
    if facility.is_empty() {
        return Err(format!("topic {topic:?} has an empty facility"));
    }
    let channel = match channel {
        "alerts" => Channel::Alerts,
        "summaries/daily" => Channel::Summaries,
        "command-results" => Channel::CommandResults,
        "status" => Channel::Status,
        "telemetry" => Channel::Telemetry,
        "commands" => Channel::Commands,
        other => return Err(format!("topic {topic:?}: unknown channel {other:?}")),
    };
    Ok((facility, channel))
}

/// An envelope whose frame was checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub facility: String,
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub created_at: String,
    pub body: Value,
}

/// Checks the frame of `payload` received on `facility`'s `channel`: the schema, the
/// facility (the same as the topic's), a seq of at least 1, an id, the kind of the channel,
/// `created_at`, an object body. The error names the field.
pub fn parse_envelope(
    facility: &str,
    channel: Channel,
    payload: &[u8],
) -> Result<Envelope, String> {
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("not JSON: {e} (line {}, column {})", e.line(), e.column()))?;
    let o = v.as_object().ok_or("the envelope is not a JSON object")?;
    let text = |k: &str| -> Result<String, String> {
        match o.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(other) => Err(format!("`{k}` is not a non-empty string: {other}")),
            None => Err(format!("`{k}` is missing")),
        }
    };
    let schema = text("schema")?;
    if schema != "nursery-agent/1" {
        return Err(format!("`schema` is {schema:?}, not \"nursery-agent/1\""));
    }
    let f = text("facility")?;
    if f != facility {
        return Err(format!(
            "`facility` is {f:?} but the topic's facility is {facility:?}"
        ));
    }
    let seq = match o.get("seq") {
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|s| *s >= 1)
            .ok_or_else(|| format!("`seq` is not an integer of at least 1: {n}"))?,
        Some(other) => return Err(format!("`seq` is not an integer: {other}")),
        None => return Err("`seq` is missing".into()),
    };
    let id = text("id")?;
    let kind = text("kind")?;
    let want = channel.kind().ok_or("this channel carries no envelopes")?;
    if kind != want {
        return Err(format!("`kind` is {kind:?} on a channel of {want:?}"));
    }
    let created_at = text("created_at")?;
    chrono::DateTime::parse_from_rfc3339(&created_at)
        .map_err(|e| format!("`created_at` {created_at:?} is not RFC 3339: {e}"))?;
    let body = match o.get("body") {
        Some(b @ Value::Object(_)) => b.clone(),
        Some(other) => return Err(format!("`body` is not an object: {other}")),
        None => return Err("`body` is missing".into()),
    };
    Ok(Envelope {
        facility: f,
        seq,
        id,
        kind,
        created_at,
        body,
    })
}

/// The oldest seq the agent still holds, as named in its answer to `resend` (contract
/// section 12 names it without pinning the field): the first integer field of the result
/// body whose name starts with `oldest`, at the top or one object down.
pub fn oldest_held(result: &Value) -> Option<i64> {
    let o = result.as_object()?;
    let here = o
        .iter()
        .find(|(k, v)| k.starts_with("oldest") && v.is_i64())
        .and_then(|(_, v)| v.as_i64());
    here.or_else(|| {
        o.values()
            .filter_map(Value::as_object)
            .flat_map(|inner| inner.iter())
            .find(|(k, v)| k.starts_with("oldest") && v.is_i64())
            .and_then(|(_, v)| v.as_i64())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P: &str = "childcare/v1";

    fn env(seq: Value) -> Vec<u8> {
        json!({"schema":"nursery-agent/1","facility":"f-1","seq":seq,"id":"a:raised",
               "kind":"alert","created_at":"2026-03-02T01:16:00Z","body":{}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn every_channel_of_the_contract_is_read_from_its_topic() {
        assert_eq!(
            parse_topic(P, "childcare/v1/f-1/alerts"),
            Ok(("f-1", Channel::Alerts))
        );
        assert_eq!(
            parse_topic(P, "childcare/v1/f-1/summaries/daily"),
            Ok(("f-1", Channel::Summaries))
        );
        assert_eq!(
            parse_topic(P, "childcare/v1/f-1/command-results"),
            Ok(("f-1", Channel::CommandResults))
        );
        assert_eq!(
            parse_topic(P, "childcare/v1/f-1/status"),
            Ok(("f-1", Channel::Status))
        );
        assert!(parse_topic(P, "childcare/v1/f-1/weather")
            .unwrap_err()
            .contains("unknown channel"));
        assert!(parse_topic(P, "other/f-1/alerts")
            .unwrap_err()
            .contains("not under"));
        assert!(parse_topic(P, "childcare/v1//alerts")
            .unwrap_err()
            .contains("empty facility"));
    }

    #[test]
    fn a_well_formed_envelope_is_read_and_every_bad_frame_is_named() {
        let e = parse_envelope("f-1", Channel::Alerts, &env(json!(7))).unwrap();
        assert_eq!(
            (e.seq, e.id.as_str(), e.kind.as_str()),
            (7, "a:raised", "alert")
        );
        for (seq, what) in [
            (json!(0), "at least 1"),
            (json!(-3), "at least 1"),
            (json!(1.5), "at least 1"),
            (json!("7"), "not an integer"),
        ] {
            let err = parse_envelope("f-1", Channel::Alerts, &env(seq)).unwrap_err();
            assert!(err.contains("`seq`") && err.contains(what), "{err}");
        }
        let err = parse_envelope("f-2", Channel::Alerts, &env(json!(1))).unwrap_err();
        assert!(err.contains("topic's facility"), "{err}");
        let err = parse_envelope("f-1", Channel::Summaries, &env(json!(1))).unwrap_err();
        assert!(err.contains("`kind`"), "{err}");
        let err = parse_envelope("f-1", Channel::Alerts, b"{\"schema\":").unwrap_err();
        assert!(err.contains("not JSON") && err.contains("column"), "{err}");
    }

    #[test]
    fn the_oldest_held_seq_is_found_whatever_the_agent_calls_it() {
        assert_eq!(oldest_held(&json!({"ok":true,"oldest_held":5})), Some(5));
        assert_eq!(
            oldest_held(&json!({"ok":true,"resend":{"oldest_seq":9}})),
            Some(9)
        );
        assert_eq!(oldest_held(&json!({"ok":true,"from_seq":3})), None);
    }
}
