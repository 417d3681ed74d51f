//! The numbers of the rules and the services: hours, bands, durations, MQTT, the staff page.

use super::*;

#[test]
fn the_nursery_must_open_before_it_closes() {
    let text = with("close = \"18:00\"", "close = \"07:00\"");
    only(
        &text,
        "facility.close",
        line(&text, "07:00"),
        "must be after open (07:30)",
    );
    let text = with("close = \"18:00\"", "close = \"07:30\"");
    only(
        &text,
        "facility.close",
        line(&text, "close = "),
        "must be after open",
    );
}

#[test]
fn the_temperature_band_must_be_ordered_and_wider_than_its_hysteresis() {
    let text = format!("{BASE}\n[rules.temperature]\nmin_c = 26.0\nmax_c = 20.0\n");
    only(
        &text,
        "rules.temperature.max_c",
        line(&text, "max_c"),
        "must be greater than min_c (26)",
    );
    let text =
        format!("{BASE}\n[rules.temperature]\nmin_c = 20.0\nmax_c = 21.0\nhysteresis_c = 1.0\n");
    only(
        &text,
        "rules.temperature.hysteresis_c",
        line(&text, "hysteresis_c"),
        "could never clear",
    );
    let text = format!("{BASE}\n[rules.temperature]\nhysteresis_c = -0.5\n");
    only(
        &text,
        "rules.temperature.hysteresis_c",
        line(&text, "hysteresis_c"),
        "at least 0",
    );
    let text = format!("{BASE}\n[rules.temperature]\nmax_c = inf\n");
    only(
        &text,
        "rules.temperature.max_c",
        line(&text, "max_c"),
        "finite",
    );
}

#[test]
fn humidity_limits_lie_within_0_and_100_percent() {
    let text = format!("{BASE}\n[rules]\nhumidity = {{ min_pct = -5, max_pct = 120 }}\n");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["rules.humidity.min_pct", "rules.humidity.max_pct"],
        "{found:?}"
    );
    assert!(found[1].message.contains("between 0 and 100"));
    assert_eq!(found[1].line, Some(line(&text, "humidity =")));
    let text = format!("{BASE}\n[rules.humidity]\nmin_pct = 60\nmax_pct = 40\n");
    only(
        &text,
        "rules.humidity.max_pct",
        line(&text, "max_pct"),
        "greater than min_pct",
    );
}

#[test]
fn door_held_open_and_sensor_stale_after_must_be_longer_than_zero() {
    let text = format!("{BASE}\n[rules]\ndoor_held_open = \"0s\"\nsensor_stale_after = \"0\"\nunsupervised_grace = \"0s\"\n");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["rules.door_held_open", "rules.sensor_stale_after"],
        "{found:?}"
    );
}

#[test]
fn the_simulation_speed_must_be_a_number_above_zero() {
    for bad in ["0.0", "-60.0", "nan", "inf"] {
        let text = format!("{BASE}\n[simulation]\nspeed = {bad}\n");
        only(&text, "simulation.speed", line(&text, "speed"), "above 0");
    }
    let cfg = ok(&format!(
        "{BASE}\n[simulation]\nseed = 7\ndate = 2025-09-01\n"
    ));
    let sim = cfg.simulation.unwrap();
    assert_eq!((sim.seed, sim.speed), (7, 60.0));
}

#[test]
fn mqtt_port_zero_and_an_unusable_topic_prefix_are_rejected() {
    let text = format!("{BASE}\n[mqtt]\nport = 0\ntopic_prefix = \"childcare/#\"\n");
    let found = problems(&text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["mqtt.port", "mqtt.topic_prefix"], "{found:?}");
    let text = format!("{BASE}\n[mqtt]\nport = 70000\n");
    only(&text, "mqtt.port", line(&text, "70000"), "u16");
}

#[test]
fn the_dashboard_listens_on_a_socket_address() {
    let text = format!("{BASE}\n[dashboard]\nlisten = \"localhost:8080\"\n");
    only(&text, "dashboard.listen", line(&text, "listen"), "IP:port");
    ok(&format!("{BASE}\n[dashboard]\nlisten = \"[::1]:0\"\n"));
}

#[test]
fn mqtt_settings_that_cannot_work_are_reported_each_with_its_key() {
    let text = format!(
        "{}\n[mqtt]\nusername = \"\"\npassword_file = \"pw\"\nmax_inflight = 0\ntelemetry_qos = 2\noutbox_max_bytes = 10\nreconnect_min = \"5s\"\nreconnect_max = \"1s\"\nprotocol = 3\nresend_per_second = 0\ntls = {{ ca_file = \"ca.pem\", cert_file = \"c.pem\" }}\n",
        MQTT_BASE
    );
    let err = parse(&text, std::path::Path::new("/etc/na/agent.toml")).unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    for k in [
        "mqtt.tls",
        "mqtt.max_inflight",
        "mqtt.telemetry_qos",
        "mqtt.outbox_max_bytes",
        "mqtt.reconnect_max",
        "mqtt.protocol",
        "mqtt.resend_per_second",
    ] {
        assert!(keys.contains(&k), "{k} not in {keys:?}");
    }
    assert!(err.problems.iter().all(|p| p.line.is_some()), "{err}");
}

#[test]
fn a_sleep_check_interval_of_zero_is_reported_for_the_rules_and_for_a_room() {
    let text = format!("{BASE}\n[rules]\nsleep_check_interval = \"0s\"\n");
    only(
        &text,
        "rules.sleep_check_interval",
        line(&text, "sleep_check_interval"),
        "must be longer than 0s",
    );
    let text = BASE.replacen(
        "name = \"Infants\"",
        "name = \"Infants\"\nsleep_check_interval = \"0m\"",
        1,
    );
    only(
        &text,
        "rooms[0].sleep_check_interval",
        line(&text, "sleep_check_interval"),
        "must be longer than 0s",
    );
    ok(&BASE.replacen(
        "name = \"Infants\"",
        "name = \"Infants\"\nsleep_check_interval = \"10m\"",
        1,
    ));
}
