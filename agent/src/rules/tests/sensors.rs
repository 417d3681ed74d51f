//! Sensors: faults, physical ranges, sustained limits with hysteresis, staleness.

use serde_json::json;

use super::*;

#[test]
fn a_silent_sensor_counts_from_the_agents_restart_not_from_before() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &[reading("07:00:00", 22.0)]);
    e.agent_started(utc("09:00:00"));
    assert_eq!(e.next_due(), Some(utc("09:05:00")));
}

#[test]
fn eighty_five_degrees_is_a_sensor_fault_not_a_hot_room() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "reading", "sensor": "t-infant", "celsius": 85.0}),
            ),
            ev(
                "08:30:00",
                json!({"type": "reading", "sensor": "t-infant", "celsius": 85.0}),
            ),
            ev(
                "08:31:00",
                json!({"type": "reading", "sensor": "t-infant", "celsius": 24.0, "humidity": 45.0}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(SensorFault, Raised, "t-infant", "08:00:00"),
            k(SensorFault, Resolved, "t-infant", "08:31:00")
        ]
    );
}

#[test]
fn physical_range_limits_are_inclusive() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "reading", "sensor": "t-infant", "celsius": 60.0, "humidity": 100.0}),
            ),
            ev(
                "08:00:30",
                json!({"type": "reading", "sensor": "t-infant", "celsius": 24.0, "humidity": 100.1}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![k(SensorFault, Raised, "t-infant", "08:00:30")]
    );
}

#[test]
fn a_fault_event_raises_once_and_the_next_valid_reading_resolves_it() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "sensor_fault", "sensor": "t-infant", "reason": "crc"}),
            ),
            ev(
                "08:00:10",
                json!({"type": "sensor_fault", "sensor": "t-infant", "reason": "crc"}),
            ),
            ev(
                "08:01:00",
                json!({"type": "reading", "sensor": "t-infant", "humidity": 50.0}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(SensorFault, Raised, "t-infant", "08:00:00"),
            k(SensorFault, Resolved, "t-infant", "08:01:00")
        ]
    );
    assert_eq!(out[0].details["reason"], json!("crc"));
}

#[test]
fn a_hot_room_is_raised_when_the_heat_has_lasted_the_sustain_period() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            reading("13:00:00", 27.0),
            reading("13:01:00", 28.5),
            reading("13:06:00", 29.0),
            reading("13:10:59", 29.5),
        ],
    );
    assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
    let out = run(&mut e, &[reading("13:12:00", 29.0)]);
    assert_eq!(
        kinds(&out),
        vec![k(TemperatureHigh, Raised, "t-infant", "13:11:00")]
    );
    assert_eq!(out[0].details["celsius"], json!(29.5));
    // Within the hysteresis band: still raised.
    assert!(kinds(&run(&mut e, &[reading("13:20:00", 27.6)])).is_empty());
    let out = run(&mut e, &[reading("13:21:00", 27.5)]);
    assert_eq!(
        kinds(&out),
        vec![k(TemperatureHigh, Resolved, "t-infant", "13:21:00")]
    );
}

#[test]
fn one_cool_reading_restarts_the_sustain_period() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            reading("13:00:00", 28.5),
            reading("13:09:00", 28.0),
            reading("13:10:00", 28.5),
            reading("13:19:59", 28.5),
        ],
    );
    assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
    assert_eq!(
        kinds(&e.on_tick(utc("13:30:00"))),
        vec![k(TemperatureHigh, Raised, "t-infant", "13:20:00")]
    );
}

#[test]
fn cold_and_humid_rooms_have_their_own_alerts() {
    let mut e = Engine::new(&config()).unwrap();
    let mut evs = vec![];
    for m in 0..=40 {
        evs.push(ev(
            &format!("09:{m:02}:00"),
            json!({"type": "reading", "sensor": "t-infant", "celsius": 17.0, "humidity": 75.0}),
        ));
    }
    let out = run(&mut e, &evs);
    assert_eq!(
        kinds(&out),
        vec![
            k(TemperatureLow, Raised, "t-infant", "09:10:00"),
            k(HumidityHigh, Raised, "t-infant", "09:30:00")
        ]
    );
    let out = run(
        &mut e,
        &[ev(
            "09:41:00",
            json!({"type": "reading", "sensor": "t-infant", "celsius": 18.5, "humidity": 68.0}),
        )],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(TemperatureLow, Resolved, "t-infant", "09:41:00"),
            k(HumidityHigh, Resolved, "t-infant", "09:41:00")
        ]
    );
}

#[test]
fn a_sensor_never_heard_from_is_stale_from_the_start_of_the_log() {
    let mut e = Engine::new(&config()).unwrap();
    run(&mut e, &[att("07:00:00", "s-01", "check_in", json!({}))]);
    let out = e.on_tick(utc("07:10:00"));
    assert_eq!(stale(&out), vec![(Raised, "07:05:00".to_string())]);
    let out = run(&mut e, &[reading("07:11:00", 22.0)]);
    assert_eq!(stale(&out), vec![(Resolved, "07:11:00".to_string())]);
    assert_eq!(e.next_due(), Some(utc("07:16:00")));
}
