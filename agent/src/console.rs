//! Human-readable alert lines for the console, in the facility's locale.

use std::collections::HashMap;

use crate::alert::{AlertState, Severity, Transition};
use crate::config::{Config, Locale};

/// Turns transitions into lines a person reads at a glance: time, severity, what, where.
pub struct Console {
    locale: Locale,
    /// Display names of rooms, doors, readers, sensors (with their room) and children,
    /// by id. Children's names appear only on the local console, never upstream.
    names: HashMap<String, String>,
}

impl Console {
    pub fn new(cfg: &Config) -> Console {
        let mut names = HashMap::new();
        let room_name: HashMap<&str, &str> = cfg
            .rooms
            .iter()
            .map(|r| (r.id.as_str(), r.name.as_str()))
            .collect();
        for r in &cfg.rooms {
            names.insert(r.id.clone(), format!("{} ({})", r.name, r.id));
        }
        for d in &cfg.doors {
            names.insert(d.id.clone(), d.name.clone().unwrap_or_else(|| d.id.clone()));
        }
        for s in &cfg.sensors {
            let room = room_name.get(s.room.as_str()).copied().unwrap_or(&s.room);
            names.insert(s.id.clone(), format!("{} @ {room}", s.id));
        }
        for s in &cfg.staff {
            names.insert(s.id.clone(), format!("{} ({})", s.name, s.id));
        }
        for c in &cfg.children {
            names.insert(c.id.clone(), format!("{} ({})", c.name, c.id));
        }
        Console {
            locale: cfg.facility.locale,
            names,
        }
    }

    pub fn line(&self, t: &Transition) -> String {
        let when = t.ts.format("%m-%d %H:%M:%S");
        let subject = self.names.get(&t.subject).unwrap_or(&t.subject);
        let (sev_zh, sev_en) = match t.severity {
            Severity::Critical => ("严重", "CRITICAL"),
            Severity::Warning => ("警告", "warning"),
        };
        let (state_zh, state_en) = match t.state {
            AlertState::Raised => ("▲ 报警", "raised"),
            AlertState::Resolved => ("✓ 解除", "resolved"),
            AlertState::Acknowledged => ("☑ 已确认", "acknowledged"),
            AlertState::Disposed => ("✎ 已处置", "disposed"),
        };
        let details = self.details(t);
        let zh = format!(
            "{state_zh} [{sev_zh}] {}：{subject}{}",
            t.alert_type.label_zh(),
            details.0
        );
        let en = format!(
            "{state_en} [{sev_en}] {}: {subject}{}",
            t.alert_type.label_en(),
            details.1
        );
        match self.locale {
            Locale::Zh => format!("{when}  {zh}"),
            Locale::En => format!("{when}  {en}"),
            Locale::Bilingual => format!("{when}  {zh} | {en}"),
        }
    }

    fn details(&self, t: &Transition) -> (String, String) {
        let d = &t.details;
        let n = |k: &str| d.get(k).and_then(|v| v.as_f64());
        if let (Some(c), Some(s), Some(r)) = (n("children"), n("staff"), n("required")) {
            return (
                format!("，幼儿 {c} 名，在岗 {s} 人，应配 {r} 人"),
                format!(", children {c}, staff {s}, required {r}"),
            );
        }
        if let (Some(c), Some(cap)) = (n("children"), n("capacity")) {
            return (
                format!("，幼儿 {c} 名，限额 {cap}"),
                format!(", children {c}, capacity {cap}"),
            );
        }
        if let Some(c) = n("children") {
            return (format!("，幼儿 {c} 名"), format!(", children {c}"));
        }
        if let Some(c) = n("celsius") {
            return (format!("，{c:.1} °C"), format!(", {c:.1} °C"));
        }
        if let Some(h) = n("humidity") {
            return (format!("，湿度 {h:.0}%"), format!(", humidity {h:.0}%"));
        }
        if let Some(by) = d.get("by").and_then(|v| v.as_str()) {
            let who = self.names.get(by).map_or(by, String::as_str);
            if t.state == AlertState::Acknowledged {
                return (format!("，确认人 {who}"), format!(", by {who}"));
            }
            return (format!("，接走人 {who}"), format!(", by {who}"));
        }
        (String::new(), String::new())
    }
}
