//! Properties: the transitions do not depend on how events are batched or on a
//! snapshot in between, and every raise is resolved at most once.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::json;

use super::*;

/// A random but valid stream of events over the test roster, one every 1–300 s.
fn arb_events() -> impl Strategy<Value = Vec<Event>> {
    let people = [
        "s-01", "s-02", "s-cook", "c-01", "c-02", "c-03", "c-04", "c-05",
    ];
    let one = prop_oneof![
        (0..people.len(), 0..3usize, 0..2usize, 0..3usize).prop_map(move |(p, a, r, by)| {
            let action = ["check_in", "check_out", "move"][a];
            let mut v = json!({"type": "attendance", "person": people[p], "action": action});
            if action == "move" || r == 1 {
                v["room"] = json!(["infant", "toddler"][r]);
            }
            if action == "check_out" && by > 0 {
                v["by"] = json!(["g-01", "g-02"][by - 1]);
            }
            v
        }),
        (0..2usize).prop_map(
            |s| json!({"type": "door", "door": "entrance", "state": (["open", "closed"][s])})
        ),
        Just(json!({"type": "exit_button", "door": "entrance"})),
        (0..3usize, 0..3usize).prop_map(|(r, c)| json!({
            "type": "badge",
            "reader": (["entrance-reader", "kiosk", "toddler-reader"][r]),
            "card": (["10001", "20001", "55555"][c])
        })),
        (10.0f64..35.0, 20.0f64..80.0).prop_map(
            |(c, h)| json!({"type": "reading", "sensor": "t-infant", "celsius": c, "humidity": h})
        ),
        Just(json!({"type": "reading", "sensor": "t-infant", "celsius": 85.0})),
    ];
    prop::collection::vec((1i64..300, one), 1..120).prop_map(|steps| {
        let mut at = t("07:00:00");
        steps
            .into_iter()
            .map(|(gap, mut v)| {
                at += chrono::Duration::seconds(gap);
                v["ts"] = json!(at);
                serde_json::from_value(v).unwrap()
            })
            .collect()
    })
}

fn run_all(e: &mut Engine, events: &[Event], end: DateTime<Utc>) -> Vec<Transition> {
    let mut out = run(e, events);
    out.extend(e.on_tick(end));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn transitions_do_not_depend_on_how_often_the_clock_ticks(
        events in arb_events(),
        ticks in prop::collection::vec(0u32..10_000, 0..60),
    ) {
        let cfg = config();
        let end = events.last().unwrap().utc().unwrap() + chrono::Duration::hours(30);
        let expected = run_all(&mut Engine::new(&cfg).unwrap(), &events, end);

        let mut e = Engine::new(&cfg).unwrap();
        let mut got = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            // Ticks at arbitrary moments between the previous event and this one.
            let from = if i == 0 { ev.utc().unwrap() } else { events[i - 1].utc().unwrap() };
            let span = (ev.utc().unwrap() - from).num_seconds().max(0);
            for tick in ticks.iter().filter(|t| **t as usize % events.len() == i) {
                got.extend(e.on_tick(from + chrono::Duration::seconds(i64::from(*tick) % (span + 1))));
            }
            got.extend(e.on_event(ev).unwrap());
        }
        got.extend(e.on_tick(end));
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn a_snapshot_restored_anywhere_continues_identically(events in arb_events(), cut in 0usize..120) {
        let cfg = config();
        let end = events.last().unwrap().utc().unwrap() + chrono::Duration::hours(30);
        let expected = run_all(&mut Engine::new(&cfg).unwrap(), &events, end);

        let cut = cut % events.len();
        let mut e = Engine::new(&cfg).unwrap();
        let mut got = run(&mut e, &events[..cut]);
        let snap = Snapshot::from_json(&e.snapshot().to_json()).unwrap();
        let mut r = Engine::restore(&cfg, &snap).unwrap();
        got.extend(run_all(&mut r, &events[cut..], end));
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn every_raise_is_resolved_at_most_once_and_one_shots_never(events in arb_events()) {
        let cfg = config();
        let end = events.last().unwrap().utc().unwrap() + chrono::Duration::hours(30);
        let out = run_all(&mut Engine::new(&cfg).unwrap(), &events, end);
        let mut open = std::collections::HashMap::new();
        for t in &out {
            match t.state {
                Raised => prop_assert!(open.insert(t.alert_id.clone(), t.alert_type).is_none()),
                Resolved => {
                    prop_assert!(!t.alert_type.is_one_shot());
                    prop_assert_eq!(open.remove(&t.alert_id), Some(t.alert_type));
                }
                Acknowledged => prop_assert!(open.contains_key(&t.alert_id)),
                Disposed => prop_assert!(false, "no disposition was fed: {}", t.alert_id),
            }
        }
        // And the transitions come out in time order.
        prop_assert!(out.windows(2).all(|w| w[0].ts <= w[1].ts));
    }
}
