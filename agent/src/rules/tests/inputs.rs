//! Panic and fire inputs, test presses, `panic_untested` at open, and dispositions.

use serde_json::json;

use super::*;

const INPUTS: &str = "\n[[inputs]]\nid = \"panic-office\"\nkind = \"panic\"\n\n[[inputs]]\nid = \"fire-panel\"\nkind = \"fire\"\n";

fn with_inputs() -> Config {
    config_of(roster().raw(INPUTS))
}

fn input(at: &str, id: &str, state: &str, test: bool) -> Event {
    let mut v = json!({"type": "input", "input": id, "state": state});
    if test {
        v["test"] = json!(true);
    }
    ev(at, v)
}

fn dispose(at: &str, alert_id: &str, by: &str, action: &str) -> Event {
    ev(
        at,
        json!({"type": "disposition", "alert_id": alert_id, "by": by, "action": action,
               "note": "打电话给家长 小明妈妈"}),
    )
}

fn of(out: &[Transition], ty: AlertType) -> Vec<(AlertState, String)> {
    out.iter()
        .filter(|t| t.alert_type == ty)
        .map(|t| (t.state, t.ts.format("%H:%M:%S").to_string()))
        .collect()
}

#[test]
fn a_panic_press_is_critical_and_stays_open_after_release_until_a_disposition() {
    let mut e = Engine::new(&with_inputs()).unwrap();
    let out = run(
        &mut e,
        &[
            input("10:00:00", "panic-office", "active", false),
            input("10:00:02", "panic-office", "clear", false),
            input("10:00:05", "panic-office", "active", false),
        ],
    );
    assert_eq!(of(&out, PanicButton), vec![(Raised, "10:00:00".into())]);
    assert_eq!(out[0].severity, crate::alert::Severity::Critical);
    assert_eq!(out[0].subject, "panic-office");
    let id = out[0].alert_id.clone();
    let out = run(
        &mut e,
        &[dispose("10:04:00", &id, "s-01", "handled_on_site")],
    );
    assert_eq!(
        out.iter()
            .map(|t| (t.state, t.alert_id.as_str()))
            .collect::<Vec<_>>(),
        vec![(Disposed, id.as_str()), (Resolved, id.as_str())]
    );
    assert_eq!(
        serde_json::Value::Object(out[0].details.clone()),
        json!({"action": "handled_on_site", "by": "s-01"}),
        "the note never goes into a transition"
    );
}

#[test]
fn a_fire_input_is_a_critical_alarm_while_active_and_a_test_press_raises_nothing() {
    let mut e = Engine::new(&with_inputs()).unwrap();
    let out = run(
        &mut e,
        &[
            input("09:00:00", "fire-panel", "active", true),
            input("09:00:01", "fire-panel", "clear", true),
            input("10:00:00", "fire-panel", "active", false),
            input("10:12:00", "fire-panel", "clear", false),
            input("10:30:00", "panic-office", "active", true),
        ],
    );
    assert_eq!(
        of(&out, FireAlarm),
        vec![(Raised, "10:00:00".into()), (Resolved, "10:12:00".into())]
    );
    assert!(of(&out, PanicButton).is_empty(), "a test press raised");
}

#[test]
fn an_untested_panic_button_is_flagged_at_open_and_a_test_press_resolves_it() {
    let cfg = config_of(roster().raw(INPUTS).rule("panic_test_every", "2d"));
    let mut e = Engine::new(&cfg).unwrap();
    // The engine starts on 03-02 at 07:00; open is 07:30.
    let mut out = run(&mut e, &[ev("07:00:00", json!({"type": "agent_started"}))]);
    let day = |d: u32, hms: &str| {
        DateTime::parse_from_rfc3339(&format!("2026-03-{d:02}T{hms}+08:00"))
            .unwrap()
            .with_timezone(&Utc)
    };
    out.extend(e.on_tick(day(4, "07:29:59")));
    assert!(of(&out, PanicUntested).is_empty(), "{:?}", kinds(&out));
    out.extend(e.on_tick(day(4, "08:00:00")));
    let untested: Vec<_> = out
        .iter()
        .filter(|t| t.alert_type == PanicUntested)
        .collect();
    assert_eq!(
        untested.len(),
        1,
        "only the panic input is tested: {:?}",
        kinds(&out)
    );
    assert_eq!(untested[0].subject, "panic-office");
    assert_eq!(untested[0].ts.to_rfc3339(), "2026-03-04T07:30:00+08:00");
    assert_eq!(untested[0].details["last_test"], json!(null));
    // Days later it is not raised again; the test press resolves it.
    out.extend(e.on_tick(day(9, "08:00:00")));
    assert_eq!(
        out.iter().filter(|t| t.alert_type == PanicUntested).count(),
        1
    );
    let later = e
        .on_event(&Event::at(
            day(9, "08:05:00").with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()),
            serde_json::from_value(
                json!({"type": "input", "input": "panic-office", "state": "active", "test": true}),
            )
            .unwrap(),
        ))
        .unwrap();
    assert_eq!(
        later
            .iter()
            .map(|t| (t.alert_type, t.state))
            .collect::<Vec<_>>(),
        vec![(PanicUntested, Resolved)]
    );
}

#[test]
fn a_disposition_may_name_a_resolved_or_one_shot_alert_and_resolves_nothing_else() {
    let mut e = Engine::new(&with_inputs()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "door", "door": "entrance", "state": "open"}),
            ),
            ev(
                "08:00:05",
                json!({"type": "door", "door": "entrance", "state": "closed"}),
            ),
            ev(
                "08:01:00",
                json!({"type": "badge", "reader": "entrance-reader", "card": "77777"}),
            ),
        ],
    );
    let forced = out
        .iter()
        .find(|t| t.alert_type == DoorForced)
        .unwrap()
        .alert_id
        .clone();
    let denied = out
        .iter()
        .find(|t| t.alert_type == BadgeDenied)
        .unwrap()
        .alert_id
        .clone();
    for (id, ty) in [(&forced, DoorForced), (&denied, BadgeDenied)] {
        let out = run(&mut e, &[dispose("08:10:00", id, "s-02", "false_alarm")]);
        let out: Vec<_> = out
            .into_iter()
            .filter(|t| t.alert_type != SensorStale)
            .collect();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!((out[0].alert_type, out[0].state), (ty, Disposed));
        assert_eq!(out[0].details["by"], json!("s-02"));
    }
}

#[test]
fn a_disposition_for_an_unknown_alert_or_by_a_guardian_and_an_unknown_input_are_rejected() {
    let mut e = Engine::new(&with_inputs()).unwrap();
    let err = e
        .on_event(&dispose("10:00:00", "A20260302T020000Z-9", "s-01", "other"))
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown alert `A20260302T020000Z-9`");
    let out = run(
        &mut e,
        &[input("10:01:00", "panic-office", "active", false)],
    );
    let err = e
        .on_event(&dispose("10:02:00", &out[0].alert_id, "g-01", "other"))
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown member of staff `g-01`");
    let err = e
        .on_event(&input("10:03:00", "panic-kitchen", "active", false))
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown input `panic-kitchen`");
    let bad = Event::parse(
        r#"{"ts":"2026-03-02T10:04:00+08:00","type":"disposition","alert_id":"x","by":"s-01","action":"shrugged"}"#,
    );
    assert!(bad.unwrap_err().to_string().contains("shrugged"));
}

#[test]
fn an_open_panic_alert_and_its_untested_state_survive_a_snapshot() {
    let cfg = with_inputs();
    let mut e = Engine::new(&cfg).unwrap();
    let out = run(
        &mut e,
        &[input("10:00:00", "panic-office", "active", false)],
    );
    let snap = Snapshot::from_json(&e.snapshot().to_json()).unwrap();
    let mut back = Engine::restore(&cfg, &snap).unwrap();
    assert_eq!(back.open_alerts(), e.open_alerts());
    let done = run(
        &mut back,
        &[dispose("10:05:00", &out[0].alert_id, "s-01", "escalated")],
    );
    assert_eq!(
        of(&done, PanicButton),
        vec![(Disposed, "10:05:00".into()), (Resolved, "10:05:00".into())]
    );
}
