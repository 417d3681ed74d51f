//! What goes upstream, and in what form: alert bodies with personal data taken out,
//! telemetry snapshots, and the daily summary's schedule.
//!
//! Contract section 7: names, birth dates and card numbers never leave the device. Alert
//! transitions carry ids and counts only, except `badge_denied`, whose `card` is kept on
//! the device (journal, console, staff page) and goes upstream masked.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::alert::Transition;
use crate::config::Config;
use crate::rules::Engine;
use crate::wire::{AlertBody, RoomTelemetry, Telemetry};

/// The body of an MQTT alert: the transition, with any card number masked, and a `by`
/// that is not a roster id (a pick-up terminal may send whatever the adult typed or
/// showed) masked the same way. The details are copied only when something is masked.
pub fn alert_body<'a>(t: &'a Transition, person_ids: &HashSet<String>) -> AlertBody<'a> {
    let mut details = Cow::Borrowed(&t.details);
    let text = |k: &str| t.details.get(k).and_then(Value::as_str);
    if let Some(card) = text("card") {
        details
            .to_mut()
            .insert("card".into(), Value::String(mask_card(card)));
    }
    if let Some(by) = text("by").filter(|b| !person_ids.contains(*b)) {
        details
            .to_mut()
            .insert("by".into(), Value::String(mask_card(by)));
    }
    AlertBody {
        alert_id: &t.alert_id,
        details,
        severity: t.severity,
        state: t.state,
        subject: &t.subject,
        ts: t.ts,
        alert_type: t.alert_type,
    }
}

/// `12345678` → `******78`: enough for staff at the platform to tell two unknown cards
/// apart on a call with the nursery, not enough to clone or look one up.
pub fn mask_card(card: &str) -> String {
    let chars: Vec<char> = card.chars().collect();
    let keep = if chars.len() > 4 { 2 } else { 0 };
    let hidden = chars.len() - keep;
    std::iter::repeat_n('*', hidden)
        .chain(chars[hidden..].iter().copied())
        .collect()
}

/// The unique id of the MQTT message carrying a transition: the alert id and the state
/// (a raise, an acknowledgement and a resolve of one alert are three messages).
pub fn alert_message_id(t: &Transition) -> String {
    let state = serde_json::to_value(t.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!("{}:{state}", t.alert_id)
}

/// A telemetry snapshot: per room the children, counted staff, required staff, capacity
/// and the latest temperature and humidity of its sensors. Counts and ids only.
pub fn telemetry_body(cfg: &Config, engine: &mut Engine, at: DateTime<Utc>) -> Telemetry {
    let mut climate: HashMap<&str, (Option<f64>, Option<f64>)> = HashMap::new();
    let sensors = engine.sensors();
    for (s, figures) in cfg.sensors.iter().zip(&sensors) {
        let e = climate.entry(s.room.as_str()).or_default();
        if figures.stale || figures.fault {
            continue;
        }
        e.0 = e.0.or(figures.celsius);
        e.1 = e.1.or(figures.humidity);
    }
    let rooms = engine
        .rooms()
        .into_iter()
        .map(|r| {
            let (celsius, humidity) = climate.get(r.room.as_str()).copied().unwrap_or_default();
            RoomTelemetry {
                capacity: r.capacity,
                celsius,
                children: r.children,
                humidity,
                required: r.required,
                room: r.room,
                staff: r.counted_staff,
            }
        })
        .collect();
    Telemetry {
        open_alerts: engine.open_alert_list().len(),
        rooms,
        ts: engine.local(at).to_rfc3339(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertState, AlertType, Severity};

    #[test]
    fn an_unknown_card_goes_upstream_masked_and_stays_whole_on_the_device() {
        let t = Transition {
            ts: "2026-03-02T07:31:05+08:00".parse().unwrap(),
            alert_id: "A1".into(),
            alert_type: AlertType::BadgeDenied,
            severity: Severity::Warning,
            state: AlertState::Raised,
            subject: "entrance-reader".into(),
            details: serde_json::from_str(r#"{"card":"98765432"}"#).unwrap(),
        };
        let body = serde_json::to_string(&alert_body(&t, &HashSet::new())).unwrap();
        assert!(!body.contains("98765432"), "{body}");
        assert!(body.contains(r#""card":"******32""#), "{body}");
        assert_eq!(t.details["card"], "98765432");
        assert_eq!(alert_message_id(&t), "A1:raised");
    }

    #[test]
    fn a_pick_up_by_someone_not_on_the_roster_goes_upstream_masked() {
        let mut t = Transition {
            ts: "2026-03-02T17:02:17+08:00".parse().unwrap(),
            alert_id: "A2".into(),
            alert_type: AlertType::UnauthorizedPickup,
            severity: Severity::Critical,
            state: AlertState::Raised,
            subject: "c-31".into(),
            details: serde_json::from_str(r#"{"by":"张三 13800138000"}"#).unwrap(),
        };
        let ids: HashSet<String> = ["g-026".to_string()].into();
        let body = serde_json::to_string(&alert_body(&t, &ids)).unwrap();
        assert!(
            !body.contains("张三") && !body.contains("13800138000"),
            "{body}"
        );
        t.details = serde_json::from_str(r#"{"by":"g-026"}"#).unwrap();
        assert!(serde_json::to_string(&alert_body(&t, &ids))
            .unwrap()
            .contains(r#""by":"g-026""#));
    }

    #[test]
    fn a_short_card_is_masked_entirely() {
        assert_eq!(mask_card("1234"), "****");
        assert_eq!(mask_card(""), "");
        assert_eq!(mask_card("卡12345"), "****45");
    }

    /// Transitions covering what an alert body can hold: a card and a `by` to mask (with
    /// characters JSON escapes), a roster `by` kept, floats, a u64, fractional seconds, no
    /// details at all, and every state.
    fn transitions() -> Vec<Transition> {
        let t = |ts: &str, id: &str, alert_type, state, subject: &str, details: &str| Transition {
            ts: ts.parse().unwrap(),
            alert_id: id.into(),
            alert_type,
            severity: AlertType::severity(alert_type),
            state,
            subject: subject.into(),
            details: serde_json::from_str(details).unwrap(),
        };
        use AlertState::*;
        use AlertType::*;
        vec![
            t(
                "2026-03-02T07:31:05+08:00",
                "A1",
                BadgeDenied,
                Raised,
                "entrance-reader",
                r#"{"card":"98765432","reader":"entrance-reader"}"#,
            ),
            t(
                "2026-03-02T17:02:17+08:00",
                "A2",
                UnauthorizedPickup,
                Raised,
                "c-31",
                r#"{"by":"张三 \"13800138000\"\n","child":"c-31"}"#,
            ),
            t(
                "2026-03-02T17:02:18.250+08:00",
                "A3",
                UnauthorizedPickup,
                Raised,
                "c-31",
                r#"{"by":"g-026"}"#,
            ),
            t(
                "2026-03-02T14:05:00+08:00",
                "temperature_high:t-infant:1",
                TemperatureHigh,
                Resolved,
                "t-infant",
                r#"{"celsius":30.25,"threshold":28.0,"sustain_s":600,"room":"infant","ratio":1e-7,"big":12345678901234567890}"#,
            ),
            t(
                "2026-03-02T09:00:00+08:00",
                "ratio_breach:infant:7",
                RatioBreach,
                Acknowledged,
                "infant",
                r#"{"by":"s-01","children":4,"staff":1,"required":2}"#,
            ),
            t(
                "2026-03-02T09:00:00+08:00",
                "storage_pressure:1",
                StoragePressure,
                Raised,
                "outbox",
                "{}",
            ),
        ]
    }

    #[test]
    fn alert_bodies_are_byte_for_byte_what_the_platform_received_before() {
        // Captured from the agent before the bodies were typed (`serde_json::Value`, keys sorted).
        let before = [
            r#"{"alert_id":"A1","details":{"card":"******32","reader":"entrance-reader"},"severity":"warning","state":"raised","subject":"entrance-reader","ts":"2026-03-02T07:31:05+08:00","type":"badge_denied"}"#,
            r#"{"alert_id":"A2","details":{"by":"***************\"\n","child":"c-31"},"severity":"critical","state":"raised","subject":"c-31","ts":"2026-03-02T17:02:17+08:00","type":"unauthorized_pickup"}"#,
            r#"{"alert_id":"A3","details":{"by":"g-026"},"severity":"critical","state":"raised","subject":"c-31","ts":"2026-03-02T17:02:18.250+08:00","type":"unauthorized_pickup"}"#,
            r#"{"alert_id":"temperature_high:t-infant:1","details":{"big":12345678901234567890,"celsius":30.25,"ratio":1e-7,"room":"infant","sustain_s":600,"threshold":28.0},"severity":"warning","state":"resolved","subject":"t-infant","ts":"2026-03-02T14:05:00+08:00","type":"temperature_high"}"#,
            r#"{"alert_id":"ratio_breach:infant:7","details":{"by":"s-01","children":4,"required":2,"staff":1},"severity":"critical","state":"acknowledged","subject":"infant","ts":"2026-03-02T09:00:00+08:00","type":"ratio_breach"}"#,
            r#"{"alert_id":"storage_pressure:1","details":{},"severity":"warning","state":"raised","subject":"outbox","ts":"2026-03-02T09:00:00+08:00","type":"storage_pressure"}"#,
        ];
        let ids: HashSet<String> = ["g-026".to_string(), "s-01".to_string()].into();
        let ts = transitions();
        assert_eq!(ts.len(), before.len());
        for (t, want) in ts.iter().zip(before) {
            assert_eq!(serde_json::to_string(&alert_body(t, &ids)).unwrap(), want);
        }
        let ids: Vec<String> = ts.iter().map(alert_message_id).collect();
        assert_eq!(
            ids,
            [
                "A1:raised",
                "A2:raised",
                "A3:raised",
                "temperature_high:t-infant:1:resolved",
                "ratio_breach:infant:7:acknowledged",
                "storage_pressure:1:raised"
            ]
        );
    }

    #[test]
    fn alert_envelopes_are_byte_for_byte_what_the_platform_received_before() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::outbox::migrate(&conn).unwrap();
        let cap = crate::outbox::Cap {
            max_bytes: u64::MAX,
            tz: chrono_tz::Asia::Shanghai,
        };
        let ids: HashSet<String> = ["g-026".to_string(), "s-01".to_string()].into();
        for t in transitions().iter().take(3) {
            let (id, body) = (alert_message_id(t), alert_body(t, &ids));
            let kind = crate::outbox::Kind::Alert;
            crate::outbox::enqueue(&conn, "310115-0042", kind, &id, t.ts.to_utc(), &body, &cap)
                .unwrap();
        }
        let payloads: Vec<String> = crate::outbox::durable_after(&conn, 0, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.payload)
            .collect();
        // Captured from the agent before the bodies were typed.
        assert_eq!(
            payloads,
            [
                r#"{"schema":"nursery-agent/1","facility":"310115-0042","seq":1,"id":"A1:raised","kind":"alert","created_at":"2026-03-01T23:31:05Z","body":{"alert_id":"A1","details":{"card":"******32","reader":"entrance-reader"},"severity":"warning","state":"raised","subject":"entrance-reader","ts":"2026-03-02T07:31:05+08:00","type":"badge_denied"}}"#,
                r#"{"schema":"nursery-agent/1","facility":"310115-0042","seq":2,"id":"A2:raised","kind":"alert","created_at":"2026-03-02T09:02:17Z","body":{"alert_id":"A2","details":{"by":"***************\"\n","child":"c-31"},"severity":"critical","state":"raised","subject":"c-31","ts":"2026-03-02T17:02:17+08:00","type":"unauthorized_pickup"}}"#,
                r#"{"schema":"nursery-agent/1","facility":"310115-0042","seq":3,"id":"A3:raised","kind":"alert","created_at":"2026-03-02T09:02:18.250Z","body":{"alert_id":"A3","details":{"by":"g-026"},"severity":"critical","state":"raised","subject":"c-31","ts":"2026-03-02T17:02:18.250+08:00","type":"unauthorized_pickup"}}"#,
            ]
        );
    }

    /// The telemetry of [`two_rooms_telemetry`] at 09:16 local, captured from the agent before the
    /// body was typed (`json!`, keys sorted).
    const TWO_ROOMS_TELEMETRY: &str = r#"{"open_alerts":0,"rooms":[{"capacity":10,"celsius":23.45,"children":2,"humidity":41.5,"required":1,"room":"infant","staff":1},{"capacity":15,"celsius":19.0,"children":0,"humidity":null,"required":0,"room":"toddler","staff":0}],"ts":"2026-03-02T09:16:00+08:00"}"#;

    /// Two rooms: one with children, staff and a fresh reading; one empty whose sensor sends
    /// no humidity; capacities from the preset and from the configuration.
    fn two_rooms_telemetry() -> Telemetry {
        use nursery_testkit::{ev, Child, Guardian, Room, Roster, Sensor, Staff};
        let text = Roster::new()
            .room(Room::new("infant", "乳儿班"))
            .room(Room::new("toddler", "托小班").capacity(15))
            .sensor(Sensor::new("t-infant", "infant"))
            .sensor(Sensor::new("t-toddler", "toddler"))
            .staff(Staff::caregiver("s-01", "王老师", "infant").card("10001"))
            .guardian(Guardian::new("g-01", "李女士").card("20001"))
            .child(Child::new("c-01", "孩子1", "2025-06-15", "infant").guardians(["g-01"]))
            .child(Child::new("c-02", "孩子2", "2025-06-15", "infant").guardians(["g-01"]))
            .toml();
        let cfg: Config = toml::from_str(&text).unwrap();
        let mut engine = Engine::new(&cfg).unwrap();
        let day = ev::Day::new("2026-03-02", "+08:00");
        for line in [
            ev::check_in(day.at("07:40"), "s-01"),
            ev::check_in(day.at("07:50"), "c-01"),
            ev::check_in(day.at("07:51"), "c-02"),
            ev::reading(day.at("09:10"), "t-infant", 23.45, 41.5),
            ev::reading(day.at("09:11"), "t-toddler", 19.0, None),
        ] {
            engine
                .on_event(&serde_json::from_str(&line).unwrap())
                .unwrap();
        }
        telemetry_body(&cfg, &mut engine, "2026-03-02T01:16:00Z".parse().unwrap())
    }

    #[test]
    fn telemetry_is_byte_for_byte_what_the_platform_received_before() {
        let body = two_rooms_telemetry();
        assert_eq!(serde_json::to_string(&body).unwrap(), TWO_ROOMS_TELEMETRY);
        // And so is the row the link publishes.
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::outbox::migrate(&conn).unwrap();
        let cap = crate::outbox::Cap {
            max_bytes: u64::MAX,
            tz: chrono_tz::Asia::Shanghai,
        };
        crate::outbox::enqueue_telemetry(&conn, Utc::now(), &body, &cap).unwrap();
        let rows = crate::outbox::telemetry_before(&conn, i64::MAX, 10).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].payload, TWO_ROOMS_TELEMETRY);
    }

    #[test]
    fn a_snapshot_result_is_byte_for_byte_what_the_platform_received_before() {
        // The core answers `snapshot` with the result and the telemetry in it.
        let mut body = crate::outbox::command_result_body("cmd-3", Ok(()));
        body.snapshot = Some(two_rooms_telemetry());
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            format!(r#"{{"command_id":"cmd-3","ok":true,"snapshot":{TWO_ROOMS_TELEMETRY}}}"#)
        );
    }
}
