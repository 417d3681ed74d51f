//! Ids and cards: their syntax, and that none names two things.

use std::collections::HashMap;

use super::{Doc, Findings, Found};
use crate::config::Config;

/// Whether `id` is a valid identifier (contract section 2).
pub(in crate::config) fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Findings<'_> {
    fn check_id(&mut self, key: &str, id: &str) {
        if !valid_id(id) {
            self.report(
                key,
                format!("invalid id `{id}` (expected 1 to 64 of A-Z a-z 0-9 _ -)"),
            );
        }
    }
}

/// `facility.id` is an id; the nursery opens before it closes.
pub(super) fn check_facility(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    // Keys that were missing or malformed hold stand-ins: already reported.
    let real = |key: &str| !doc.stand_in(key);
    let facility = &cfg.facility;
    if real("facility.id") {
        f.check_id("facility.id", &facility.id);
    }
    if real("facility.open") && real("facility.close") && facility.open >= facility.close {
        f.report(
            "facility.close",
            format!(
                "close ({}) must be after open ({}); the day cannot run over midnight",
                facility.close, facility.open
            ),
        );
    }
    f.done()
}

/// Which string of a dropped element an [`entries`] list is about.
#[derive(Clone, Copy)]
enum Field {
    Id,
    Card,
}

fn some(v: Vec<&str>) -> Vec<Option<&str>> {
    v.into_iter().map(Some).collect()
}

/// Id syntax and uniqueness, per id space: rooms, doors, readers, sensors and inputs each
/// have their own; staff, children and guardians share one.
pub(super) fn check_ids(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    let rooms: Vec<&str> = cfg.rooms.iter().map(|r| r.id.as_str()).collect();
    let doors: Vec<&str> = cfg.doors.iter().map(|d| d.id.as_str()).collect();
    let readers: Vec<&str> = cfg.readers.iter().map(|r| r.id.as_str()).collect();
    let sensors: Vec<&str> = cfg.sensors.iter().map(|s| s.id.as_str()).collect();
    let inputs: Vec<&str> = cfg.inputs.iter().map(|s| s.id.as_str()).collect();
    for (kind, list) in [
        ("rooms", rooms),
        ("doors", doors),
        ("readers", readers),
        ("sensors", sensors),
        ("inputs", inputs),
    ] {
        let all = entries(doc, kind, some(list), Field::Id);
        unique(&mut f, all);
    }

    let staff: Vec<&str> = cfg.staff.iter().map(|s| s.id.as_str()).collect();
    let children: Vec<&str> = cfg.children.iter().map(|c| c.id.as_str()).collect();
    let guardians: Vec<&str> = cfg.guardians.iter().map(|g| g.id.as_str()).collect();
    let mut people = entries(doc, "staff", some(staff), Field::Id);
    people.extend(entries(doc, "children", some(children), Field::Id));
    people.extend(entries(doc, "guardians", some(guardians), Field::Id));
    unique(&mut f, people);
    f.done()
}

/// `(element path, value)` for the parsed elements of the top-level array `kind` (their
/// values in `parsed`) and for those the shape pass dropped, whose ids and cards are still in
/// the file.
fn entries(
    doc: &Doc,
    kind: &str,
    parsed: Vec<Option<&str>>,
    field: Field,
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = parsed
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| Some((doc.elem(kind, i), v?.to_owned())))
        .collect();
    for (path, id, card) in doc.dropped_elements(kind) {
        let value = match field {
            Field::Id => id,
            Field::Card => card,
        };
        if let Some(value) = value {
            all.push((path.to_owned(), value.to_owned()));
        }
    }
    in_file_order(doc, &mut all);
    all
}

/// File order, so that "already used by" names the earlier one.
fn in_file_order(doc: &Doc, all: &mut [(String, String)]) {
    all.sort_by_cached_key(|(path, _)| (doc.line(path).unwrap_or(usize::MAX), path.clone()));
}

/// Checks the syntax of every id in one id space and that none is used twice.
fn unique(f: &mut Findings, entries: Vec<(String, String)>) {
    let mut first: HashMap<&str, &str> = HashMap::new();
    for (elem, id) in &entries {
        let key = format!("{elem}.id");
        f.check_id(&key, id);
        match first.get(id.as_str()) {
            None => {
                first.insert(id, elem);
            }
            Some(other) => {
                let kind = |p: &str| p.split('[').next().unwrap_or("").to_owned();
                let shared = if kind(other) == kind(elem) {
                    ""
                } else {
                    "; staff, children and guardians share one id space"
                };
                let message = format!(
                    "duplicate id `{id}`, already used by {}{shared}",
                    f.at(other)
                );
                f.report(key, message);
            }
        }
    }
}

/// A card names one person, staff or guardian.
pub(super) fn check_cards(cfg: &Config, doc: &Doc) -> Vec<Found> {
    let mut f = Findings::new(doc);
    let staff: Vec<Option<&str>> = cfg.staff.iter().map(|s| s.card.as_deref()).collect();
    let guardians: Vec<Option<&str>> = cfg.guardians.iter().map(|g| g.card.as_deref()).collect();
    let mut all = entries(doc, "staff", staff, Field::Card);
    all.extend(entries(doc, "guardians", guardians, Field::Card));
    in_file_order(doc, &mut all);
    let mut first: HashMap<&str, &str> = HashMap::new();
    for (elem, card) in &all {
        let key = format!("{elem}.card");
        if card.trim().is_empty() {
            f.report(key, "card must not be empty");
            continue;
        }
        match first.get(card.as_str()) {
            None => {
                first.insert(card, elem);
            }
            Some(other) => {
                let message = format!("duplicate card `{card}`, already used by {}", f.at(other));
                f.report(key, message);
            }
        }
    }
    f.done()
}
