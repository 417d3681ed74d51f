//! Health checks and expected days (contract section 8): `days`, `health_check_within`,
//! `fever_c`, `arrival_deadline`.

use super::*;
use crate::config::DayName;

#[test]
fn without_days_the_facility_opens_monday_to_friday_and_children_follow_it() {
    let cfg = ok(BASE);
    use DayName::*;
    assert_eq!(cfg.facility.days, [Mon, Tue, Wed, Thu, Fri]);
    let child = &cfg.children[0];
    assert!(child.expected_on(&cfg.facility, Wed));
    assert!(!child.expected_on(&cfg.facility, Sat));
    assert!(cfg.rules.health_check_within.is_none());
    assert!(cfg.rules.arrival_deadline.is_none());
    assert_eq!(cfg.rules.fever_c, 37.3);
}

#[test]
fn a_child_is_expected_only_on_their_own_days_that_the_facility_opens() {
    let text = with(
        "close = \"18:00\"",
        "close = \"18:00\"\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\"]",
    )
    .replace(
        "guardians = [\"g-01\"]",
        "guardians = [\"g-01\"]\ndays = [\"mon\", \"sat\", \"sun\"]",
    );
    let cfg = ok(&text);
    let child = &cfg.children[0];
    assert!(child.expected_on(&cfg.facility, DayName::Mon));
    assert!(child.expected_on(&cfg.facility, DayName::Sat));
    assert!(!child.expected_on(&cfg.facility, DayName::Tue));
    // Sunday is the child's day, but the nursery is closed.
    assert!(!child.expected_on(&cfg.facility, DayName::Sun));
}

#[test]
fn an_unknown_day_name_is_reported_with_the_names_it_may_be() {
    let text = with(
        "close = \"18:00\"",
        "close = \"18:00\"\ndays = [\"monday\"]",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].key.starts_with("facility.days"), "{found:?}");
    assert!(found[0].message.contains("monday"), "{found:?}");
    assert!(found[0].message.contains("mon"), "{found:?}");
    assert_eq!(found[0].line, Some(line(&text, "monday")));
}

#[test]
fn the_health_rules_are_read_and_a_fever_threshold_outside_body_temperatures_is_reported() {
    let text = format!(
        "{BASE}\n[rules]\nhealth_check_within = \"30m\"\nfever_c = 37.5\narrival_deadline = \"09:30\"\n"
    );
    let cfg = ok(&text);
    assert_eq!(
        cfg.rules.health_check_within,
        Some(crate::config::Dur::secs(1800))
    );
    assert_eq!(cfg.rules.fever_c, 37.5);
    assert_eq!(
        cfg.rules.arrival_deadline.map(|t| t.to_string()),
        Some("09:30".into())
    );

    let text = format!("{BASE}\n[rules]\nfever_c = 73.0\n");
    only(
        &text,
        "rules.fever_c",
        line(&text, "fever_c"),
        "between 35 and 42",
    );
    let text = format!("{BASE}\n[rules]\nhealth_check_within = \"0s\"\n");
    only(
        &text,
        "rules.health_check_within",
        line(&text, "health_check_within"),
        "longer than 0s",
    );
    let text = format!("{BASE}\n[rules]\narrival_deadline = \"9h30\"\n");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "rules.arrival_deadline", "{found:?}");
}
