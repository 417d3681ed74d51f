//! Doors and badges: grants, forced and held doors, unknown cards, staff cards.

use serde_json::json;

use super::*;

#[test]
fn a_grant_ten_seconds_before_opening_authorises_the_door_and_eleven_does_not() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "badge", "reader": "entrance-reader", "card": "20001"}),
            ),
            ev(
                "08:00:10",
                json!({"type": "door", "door": "entrance", "state": "open"}),
            ),
            ev(
                "08:00:15",
                json!({"type": "door", "door": "entrance", "state": "closed"}),
            ),
            ev(
                "08:10:00",
                json!({"type": "exit_button", "door": "entrance"}),
            ),
            ev(
                "08:10:11",
                json!({"type": "door", "door": "entrance", "state": "open"}),
            ),
            ev(
                "08:10:20",
                json!({"type": "door", "door": "entrance", "state": "closed"}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(DoorForced, Raised, "entrance", "08:10:11"),
            k(DoorForced, Resolved, "entrance", "08:10:20")
        ]
    );
}

#[test]
fn a_door_held_open_raises_at_its_due_time_and_closing_resolves_everything() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "door", "door": "entrance", "state": "open"}),
            ),
            ev(
                "08:05:00",
                json!({"type": "badge", "reader": "entrance-reader", "card": "10001"}),
            ),
            ev(
                "08:05:30",
                json!({"type": "door", "door": "entrance", "state": "closed"}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(DoorForced, Raised, "entrance", "08:00:00"),
            k(DoorHeldOpen, Raised, "entrance", "08:01:00"),
            k(DoorForced, Resolved, "entrance", "08:05:30"),
            k(DoorHeldOpen, Resolved, "entrance", "08:05:30"),
        ]
    );
}

#[test]
fn an_unknown_card_is_denied_at_any_reader_once_per_presentation() {
    let mut e = Engine::new(&config()).unwrap();
    let out = run(
        &mut e,
        &[
            ev(
                "08:00:00",
                json!({"type": "badge", "reader": "kiosk", "card": "99999"}),
            ),
            ev(
                "08:00:01",
                json!({"type": "badge", "reader": "entrance-reader", "card": "99999"}),
            ),
        ],
    );
    assert_eq!(
        kinds(&out),
        vec![
            k(BadgeDenied, Raised, "kiosk", "08:00:00"),
            k(BadgeDenied, Raised, "entrance-reader", "08:00:01")
        ]
    );
    assert_eq!(out[0].details["card"], json!("99999"));
    assert_ne!(out[0].alert_id, out[1].alert_id);
}

#[test]
fn staff_cards_check_in_and_out_at_the_kiosk_and_move_at_room_readers() {
    let mut e = Engine::new(&config()).unwrap();
    run(
        &mut e,
        &[ev(
            "07:40:00",
            json!({"type": "badge", "reader": "kiosk", "card": "10001"}),
        )],
    );
    assert_eq!(
        e.occupancy(),
        vec![("s-01".to_string(), "infant".to_string())]
    );
    run(
        &mut e,
        &[ev(
            "09:00:00",
            json!({"type": "badge", "reader": "toddler-reader", "card": "10001"}),
        )],
    );
    assert_eq!(
        e.occupancy(),
        vec![("s-01".to_string(), "toddler".to_string())]
    );
    run(
        &mut e,
        &[ev(
            "17:00:00",
            json!({"type": "badge", "reader": "kiosk", "card": "10001"}),
        )],
    );
    assert!(e.occupancy().is_empty());
    // A staff member not checked in is checked in by a room reader.
    run(
        &mut e,
        &[ev(
            "17:01:00",
            json!({"type": "badge", "reader": "toddler-reader", "card": "10002"}),
        )],
    );
    assert_eq!(
        e.occupancy(),
        vec![("s-02".to_string(), "toddler".to_string())]
    );
}
