//! What goes upstream, and in what form: alert bodies with personal data taken out,
//! telemetry snapshots, and the daily summary's schedule.
//!
//! Contract section 7: names, birth dates and card numbers never leave the device. Alert
//! transitions carry ids and counts only, except `badge_denied`, whose `card` is kept on
//! the device (journal, console, staff page) and goes upstream masked.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::alert::Transition;
use crate::config::Config;
use crate::rules::Engine;

/// The body of an MQTT alert: the transition, with any card number masked, and a `by`
/// that is not a roster id (a pick-up terminal may send whatever the adult typed or
/// showed) masked the same way.
pub fn alert_body(t: &Transition, person_ids: &HashSet<String>) -> Value {
    let mut v = serde_json::to_value(t).expect("transitions always serialize");
    let text = |v: &Value, k: &str| {
        v["details"]
            .get(k)
            .and_then(|c| c.as_str().map(str::to_owned))
    };
    if let Some(card) = text(&v, "card") {
        v["details"]["card"] = Value::String(mask_card(&card));
    }
    if let Some(by) = text(&v, "by").filter(|b| !person_ids.contains(b)) {
        v["details"]["by"] = Value::String(mask_card(&by));
    }
    v
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
pub fn telemetry_body(cfg: &Config, engine: &mut Engine, at: DateTime<Utc>) -> Value {
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
    let rooms: Vec<Value> = engine
        .rooms()
        .into_iter()
        .map(|r| {
            let (celsius, humidity) = climate.get(r.room.as_str()).copied().unwrap_or_default();
            json!({
                "room": r.room,
                "children": r.children,
                "staff": r.counted_staff,
                "required": r.required,
                "capacity": r.capacity,
                "celsius": celsius,
                "humidity": humidity,
            })
        })
        .collect();
    json!({
        "ts": engine.local(at).to_rfc3339(),
        "rooms": rooms,
        "open_alerts": engine.open_alert_list().len(),
    })
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
        let body = alert_body(&t, &HashSet::new()).to_string();
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
        let body = alert_body(&t, &ids).to_string();
        assert!(
            !body.contains("张三") && !body.contains("13800138000"),
            "{body}"
        );
        t.details = serde_json::from_str(r#"{"by":"g-026"}"#).unwrap();
        assert!(alert_body(&t, &ids).to_string().contains(r#""by":"g-026""#));
    }

    #[test]
    fn a_short_card_is_masked_entirely() {
        assert_eq!(mask_card("1234"), "****");
        assert_eq!(mask_card(""), "");
        assert_eq!(mask_card("卡12345"), "****45");
    }
}
