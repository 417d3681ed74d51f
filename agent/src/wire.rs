//! What the platform receives over MQTT (contract section 6): one `Serialize` type per
//! message, so that the shape on the wire can be read — and searched for — in one place.
//!
//! | topic (under `{topic_prefix}/{facility.id}/`) | what is published |
//! |---|---|
//! | `status` (retained; also the last will) | [`Status`] |
//! | `alerts` | [`Envelope`] of an [`AlertBody`] |
//! | `summaries/daily` | [`Envelope`] of the daily summary, whose body type lives with the summary (`crate::summary`) |
//! | `telemetry` | [`Telemetry`], not enveloped |
//! | `command-results` | [`Envelope`] of a [`CommandResult`] |
//! | `commands` (in) | read by the uplink (`uplink::parse_command`) into `input::Command` |
//!
//! A leaf: it knows the contract's alert types and nothing of who builds or sends these
//! messages. The daemon fills them (`daemon::upstream`, which also masks personal data), the
//! outbox stores them as JSON text, the uplink publishes that text unchanged.
//!
//! # Field order
//! serde writes a struct's fields in the order they are declared. The alert, telemetry and
//! command-result bodies were first built as `serde_json::Value`, whose objects write their
//! keys sorted (serde_json without `preserve_order`), and the platform has received them so
//! since: their structs below declare the fields **sorted by name**, so the bytes are the same.
//! The envelope and the status were always structs; their fields are in the contract's order.
//! The tests beside the code that builds each message compare it byte for byte with what the
//! agent published before these types existed.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::alert::{AlertState, AlertType, Severity};

/// The `schema` field of every envelope.
pub const ENVELOPE_SCHEMA: &str = "nursery-agent/1";

/// Topic of the retained [`Status`] and of the last will.
pub const STATUS_TOPIC: &str = "status";
/// Topic of [`Telemetry`].
pub const TELEMETRY_TOPIC: &str = "telemetry";
/// Topic the platform sends its commands on.
pub const COMMANDS_TOPIC: &str = "commands";

/// The UTC form used on the wire (`created_at`, `since`): `Z`, and fractional seconds only
/// when there are some.
pub fn rfc3339_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn utc<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_utc(*t))
}

/// What a durable (enveloped) message is: the envelope's `kind`, and its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Alert,
    Summary,
    CommandResult,
}

impl Kind {
    /// The envelope's `kind` field (and the outbox's `kind` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Alert => "alert",
            Kind::Summary => "summary",
            Kind::CommandResult => "command_result",
        }
    }

    /// The topic under `{topic_prefix}/{facility}/`.
    pub fn topic_suffix(self) -> &'static str {
        match self {
            Kind::Alert => "alerts",
            Kind::Summary => "summaries/daily",
            Kind::CommandResult => "command-results",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "alert" => Some(Kind::Alert),
            "summary" => Some(Kind::Summary),
            "command_result" => Some(Kind::CommandResult),
            _ => None,
        }
    }
}

/// The wrapper of every message on `alerts`, `summaries/daily` and `command-results`.
/// `seq` grows by exactly one per message across restarts (the outbox gives it); `id` is
/// the same each time one message is delivered.
#[derive(Debug, Serialize)]
pub struct Envelope<'a, B: ?Sized> {
    /// Always [`ENVELOPE_SCHEMA`].
    pub schema: &'static str,
    pub facility: &'a str,
    pub seq: u64,
    pub id: &'a str,
    pub kind: Kind,
    #[serde(serialize_with = "utc")]
    pub created_at: DateTime<Utc>,
    pub body: &'a B,
}

/// The body of an `alerts` message: one alert transition (contract section 4) as it may
/// leave the device — `details.card`, and a `details.by` that is not a roster id, masked.
/// Fields sorted by name (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertBody<'a> {
    pub alert_id: &'a str,
    pub details: Cow<'a, Map<String, Value>>,
    pub severity: Severity,
    pub state: AlertState,
    pub subject: &'a str,
    pub ts: DateTime<FixedOffset>,
    #[serde(rename = "type")]
    pub alert_type: AlertType,
}

/// A `telemetry` message, and the `snapshot` of a command result: the rooms now. Counts and
/// ids only. Fields sorted by name (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Telemetry {
    pub open_alerts: usize,
    pub rooms: Vec<RoomTelemetry>,
    /// The rules' clock in the facility's local time, RFC 3339.
    pub ts: String,
}

/// One room of a [`Telemetry`] message. Fields sorted by name (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomTelemetry {
    pub capacity: Option<u32>,
    /// The first fresh reading among the room's sensors; `null` when there is none.
    pub celsius: Option<f64>,
    pub children: u32,
    pub humidity: Option<f64>,
    /// Staff the ratio requires.
    pub required: u32,
    pub room: String,
    /// Staff counted in the ratio.
    pub staff: u32,
}

/// The body of a `command-results` message: `{"command_id","ok":true}` or
/// `{"command_id","error","ok":false}`, and for `snapshot` the rooms. `ok` is false exactly
/// when there is an `error`: the two are set together by [`CommandResult::new`].
/// Fields sorted by name (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandResult<'a> {
    command_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    ok: bool,
    /// The answer to a `resend` command (contract 1.1 section 12): what is sent again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resend: Option<ResendReport>,
    /// The answer to a `snapshot` command (additive to the contract's result).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Telemetry>,
}

/// What a `resend` publishes again, in its command result. Fields sorted by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResendReport {
    /// Acknowledged messages of the range held and published again (original seq, id, body).
    pub count: u64,
    /// The first and last seq published again (absent when `count` is 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_seq: Option<u64>,
    /// The last seq given so far, when the range goes beyond it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_seq: Option<u64>,
    /// The oldest seq still held, when the range starts earlier (older ones are gone
    /// after `keep_sent`); absent when it does not, or when nothing is held at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_held: Option<u64>,
    /// Messages of the range not acknowledged yet: they are delivered as usual, not resent.
    pub pending: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_seq: Option<u64>,
}

impl<'a> CommandResult<'a> {
    pub fn new(command_id: &'a str, result: Result<(), &'a str>) -> CommandResult<'a> {
        CommandResult {
            command_id,
            error: result.err(),
            ok: result.is_ok(),
            resend: None,
            snapshot: None,
        }
    }

    pub fn command_id(&self) -> &str {
        self.command_id
    }

    pub fn error(&self) -> Option<&str> {
        self.error
    }
}

/// The link's state in a [`Status`] message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Online,
    Offline,
}

/// The retained `status` message (and the last will): `{"state","version","since"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub state: LinkState,
    /// The agent's version.
    pub version: &'static str,
    /// When the link came online (or, for `offline`, when it was written).
    #[serde(serialize_with = "utc")]
    pub since: DateTime<Utc>,
    /// Additive: telemetry dropped under storage pressure since the agent was installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telemetry_dropped: Option<u64>,
    /// Contract 1.1 section 11: whether the board's clock is synchronised, when the
    /// message was written.
    pub clock_synced: bool,
    /// Additive: `ok`, or `failing` when journal writes fail (a full disk) and the agent
    /// holds what it could not write in memory; only in `online` messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<&'static str>,
    /// Additive: inputs held in memory for the journal while it is `failing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_held: Option<u64>,
}

impl Status {
    pub fn new(state: LinkState, since: DateTime<Utc>) -> Status {
        Status {
            state,
            version: env!("CARGO_PKG_VERSION"),
            since,
            telemetry_dropped: None,
            clock_synced: crate::wallclock::clock_synced(&crate::wallclock::sync_flag()),
            journal: None,
            journal_held: None,
        }
    }

    /// The journal's state: `(failing, held)`.
    pub fn with_journal(mut self, (failing, held): (bool, u64)) -> Status {
        self.journal = Some(if failing { "failing" } else { "ok" });
        self.journal_held = failing.then_some(held);
        self
    }

    pub fn with_dropped(mut self, dropped: u64) -> Status {
        self.telemetry_dropped = Some(dropped);
        self
    }

    /// The payload. Strings, numbers and a timestamp only: serializing cannot fail.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_says_when_the_journal_fails_and_how_much_it_holds() {
        let since = "2026-03-02T01:16:00Z".parse().unwrap();
        let mut s = Status::new(LinkState::Online, since).with_journal((true, 1234));
        s.clock_synced = true;
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(
            (v["journal"].as_str(), v["journal_held"].as_u64()),
            (Some("failing"), Some(1234))
        );
        let ok = Status::new(LinkState::Online, since)
            .with_journal((false, 0))
            .to_json();
        assert!(
            ok.contains(r#""journal":"ok""#) && !ok.contains("journal_held"),
            "{ok}"
        );
    }

    #[test]
    fn the_envelope_keeps_the_contracts_field_order_and_any_body() {
        let body = CommandResult::new("cmd-1", Ok(()));
        let e = Envelope {
            schema: ENVELOPE_SCHEMA,
            facility: "310115-0042",
            seq: 7,
            id: "command:cmd-1",
            kind: Kind::CommandResult,
            created_at: "2026-03-02T01:16:00.123Z".parse().unwrap(),
            body: &body,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"schema":"nursery-agent/1","facility":"310115-0042","seq":7,"id":"command:cmd-1","kind":"command_result","created_at":"2026-03-02T01:16:00.123Z","body":{"command_id":"cmd-1","ok":true}}"#
        );
    }

    #[test]
    fn a_kind_reads_back_from_its_own_name() {
        for k in [Kind::Alert, Kind::Summary, Kind::CommandResult] {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(Kind::parse("telemetry"), None);
    }

    #[test]
    fn a_failed_command_says_why_and_is_not_ok() {
        let r = CommandResult::new("c", Err("no"));
        assert_eq!((r.command_id(), r.error()), ("c", Some("no")));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"command_id":"c","error":"no","ok":false}"#
        );
    }
}
