//! The numbers of the rules and of the services: bands, durations, ports, addresses.

use std::net::SocketAddr;

use super::{Doc, Findings, Found};
use crate::config::Config;

/// Durations that must not be zero, and the temperature and humidity bands.
pub(super) fn check_rules(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    let r = &cfg.rules;
    f.positive(
        "rules.door_held_open",
        r.door_held_open,
        "0s would alert on every door opening",
    );
    f.positive(
        "rules.sensor_stale_after",
        r.sensor_stale_after,
        "0s would call every sensor stale at once",
    );
    f.positive(
        "rules.sleep_check_interval",
        r.sleep_check_interval,
        "0s would call every nap's check missed at once",
    );
    f.positive(
        "rules.panic_test_every",
        r.panic_test_every,
        "0s would call every panic button untested every morning",
    );
    f.positive(
        "rules.roll_call_within",
        r.roll_call_within,
        "0s would call every roll call incomplete the moment an emergency starts",
    );
    if let Some(d) = r.drill_every {
        f.positive(
            "rules.drill_every",
            d,
            "0s would call a drill overdue every morning",
        );
    }
    if let Some(d) = r.health_check_within {
        f.positive(
            "rules.health_check_within",
            d,
            "0s would call every child's health check missing at check-in",
        );
    }
    if !(35.0..=42.0).contains(&r.fever_c) {
        f.report(
            "rules.fever_c",
            format!(
                "must be a body temperature between 35 and 42 °C, not {}",
                r.fever_c
            ),
        );
    }
    for (i, room) in cfg.rooms.iter().enumerate() {
        if let Some(d) = room.sleep_check_interval {
            let key = format!("{}.sleep_check_interval", doc.elem("rooms", i));
            f.positive(&key, d, "0s would call every nap's check missed at once");
        }
    }
    let t = &r.temperature;
    band(
        &mut f,
        "rules.temperature",
        ("min_c", t.min_c),
        ("max_c", t.max_c),
        ("hysteresis_c", t.hysteresis_c),
        None,
    );
    let h = &r.humidity;
    band(
        &mut f,
        "rules.humidity",
        ("min_pct", h.min_pct),
        ("max_pct", h.max_pct),
        ("hysteresis_pct", h.hysteresis_pct),
        Some((0.0, 100.0)),
    );
    f.done()
}

/// A band `min < max` with a hysteresis narrower than it, all finite; `limits` bounds
/// both ends when given.
fn band(
    f: &mut Findings,
    table: &str,
    (min_key, min): (&str, f64),
    (max_key, max): (&str, f64),
    (hyst_key, hyst): (&str, f64),
    limits: Option<(f64, f64)>,
) {
    let mut ends_ok = true;
    for (key, value) in [(min_key, min), (max_key, max)] {
        let bad = match limits {
            _ if !value.is_finite() => Some("must be a finite number".to_owned()),
            Some((lo, hi)) if !(lo..=hi).contains(&value) => {
                Some(format!("must be between {lo} and {hi}, not {value}"))
            }
            _ => None,
        };
        if let Some(message) = bad {
            f.report(format!("{table}.{key}"), message);
            ends_ok = false;
        }
    }
    if ends_ok && min >= max {
        f.report(
            format!("{table}.{max_key}"),
            format!("{max_key} ({max}) must be greater than {min_key} ({min})"),
        );
        ends_ok = false;
    }
    let key = format!("{table}.{hyst_key}");
    if !hyst.is_finite() || hyst < 0.0 {
        f.report(key, format!("must be a number of at least 0, not {hyst}"));
    } else if ends_ok && hyst >= max - min {
        f.report(
            key,
            format!(
                "{hyst} must be smaller than the band {min_key}..{max_key} ({}), or an alert could never clear",
                max - min
            ),
        );
    }
}

/// MQTT settings that cannot work.
pub(super) fn check_mqtt(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    let m = &cfg.mqtt;
    if m.port == 0 {
        f.report("mqtt.port", "port must be between 1 and 65535");
    }
    if m.host.trim().is_empty() {
        f.report("mqtt.host", "host must not be empty");
    }
    let prefix = &m.topic_prefix;
    if prefix.is_empty()
        || prefix.starts_with('/')
        || prefix.ends_with('/')
        || prefix.contains(['+', '#', '\0'])
    {
        f.report(
            "mqtt.topic_prefix",
            format!("invalid topic prefix `{prefix}` (expected e.g. \"childcare/v1\": no wildcards, no leading or trailing /)"),
        );
    }
    if m.client_id.as_deref().is_some_and(|c| c.trim().is_empty()) {
        f.report(
            "mqtt.client_id",
            "client_id must not be empty (leave it out to use the facility id)",
        );
    }
    if let Some(tls) = &m.tls {
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            f.report(
                "mqtt.tls",
                "a client certificate needs its key: give both `cert_file` and `key_file`, or neither",
            );
        }
    }
    if m.password_file.is_some() && m.username.is_none() {
        f.report("mqtt.password_file", "a password needs a `username`");
    }
    if m.keep_alive.0.as_secs() > u64::from(u16::MAX)
        || (m.keep_alive.0 > std::time::Duration::ZERO && m.keep_alive.0.as_secs() == 0)
    {
        f.report(
            "mqtt.keep_alive",
            "keep_alive must be 0 (off) or between 1s and 65535s",
        );
    }
    if m.max_inflight == 0 || m.max_inflight > 65000 {
        f.report(
            "mqtt.max_inflight",
            "max_inflight must be between 1 and 65000",
        );
    }
    if m.telemetry_qos > 1 {
        f.report("mqtt.telemetry_qos", "telemetry_qos must be 0 or 1");
    }
    if m.outbox_max_bytes < 16 * 1024 {
        f.report(
            "mqtt.outbox_max_bytes",
            "outbox_max_bytes must be at least 16384 (16 KiB; the default is 64 MiB)",
        );
    }
    if m.command_max_bytes == 0 || m.command_max_bytes > 256 * 1024 {
        f.report(
            "mqtt.command_max_bytes",
            "command_max_bytes must be between 1 and 262144",
        );
    }
    if m.reconnect_min.0.is_zero() {
        f.report("mqtt.reconnect_min", "reconnect_min must be longer than 0s");
    }
    if m.reconnect_max.0 < m.reconnect_min.0 {
        f.report(
            "mqtt.reconnect_max",
            "reconnect_max must not be shorter than reconnect_min",
        );
    }
    if m.resend_per_second == 0 || m.resend_per_second > 10_000 {
        f.report(
            "mqtt.resend_per_second",
            "resend_per_second must be between 1 and 10000 (the default is 500)",
        );
    }
    if !matches!(m.protocol, 4 | 5) {
        f.report(
            "mqtt.protocol",
            "protocol must be 4 (MQTT 3.1.1, the default) or 5 (MQTT 5)",
        );
    }
    f.done()
}

/// The staff page listens on a socket address, the storage has a directory, and a
/// simulation runs forward, on a plausible date.
pub(super) fn check_services(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    if cfg.dashboard.listen.parse::<SocketAddr>().is_err() {
        f.report(
            "dashboard.listen",
            format!(
                "invalid address `{}` (expected IP:port, e.g. \"127.0.0.1:8080\")",
                cfg.dashboard.listen
            ),
        );
    }
    if cfg.storage.dir.as_os_str().is_empty() {
        f.report("storage.dir", "dir must not be empty");
    }
    if cfg.storage.keep_days == 0 {
        f.report(
            "storage.keep_days",
            "keep_days must be at least 1 (today is always kept)",
        );
    }
    if cfg.storage.max_bytes < 1 << 20 {
        f.report(
            "storage.max_bytes",
            format!(
                "max_bytes is {} bytes; the journal needs at least 1MiB",
                cfg.storage.max_bytes
            ),
        );
    }
    if let Some(sim) = &cfg.simulation {
        if !(sim.speed.is_finite() && sim.speed > 0.0) {
            f.report(
                "simulation.speed",
                format!(
                    "speed must be a number above 0 (simulated seconds per second), not {}",
                    sim.speed
                ),
            );
        }
        if let Some(date) = sim.date {
            let (first, last) = SIMULATED_DATES;
            if date < first || date > last {
                f.report(
                    "simulation.date",
                    format!(
                        "date {date} is outside {first} to {last}: a simulated nursery day is \
                         judged, journalled and summarised like a real one"
                    ),
                );
            }
        }
    }
    f.done()
}

/// The dates a `[simulation] date` may take: a nursery day of the recent past or the
/// coming two centuries, not the ends of the calendar (`9999-12-31`).
const SIMULATED_DATES: (chrono::NaiveDate, chrono::NaiveDate) = (
    match chrono::NaiveDate::from_ymd_opt(1970, 1, 1) {
        Some(d) => d,
        None => panic!("a valid date"),
    },
    match chrono::NaiveDate::from_ymd_opt(2199, 12, 31) {
        Some(d) => d,
        None => panic!("a valid date"),
    },
);
