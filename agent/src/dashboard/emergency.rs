//! Emergencies on the staff page (contract sections 9 and 10): during one the page turns
//! into the roll-call list. Anyone (the `/wall`) sees the kind, since when and counts — how
//! many are still missing, per room; logged-in staff get the missing people's ids with
//! `/api/names`, so the page shows their names. A logged-in member of staff ticks a person
//! as accounted for (journalled as `roll_call`) and starts or ends an emergency or drill
//! (journalled as `emergency`), so `replay` reproduces all of it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::api::{journal, page_ts, ApiError, ApiResult};
use super::session::CsrfChecked;
use super::App;
use crate::config::Config;
use crate::event::{EmergencyAction, EmergencyKind, Event, EventKind};
use crate::live::LiveView;

/// The room a missing person is listed under: where they are checked in, else their home
/// room.
fn room_of<'c>(cfg: &'c Config, view: &'c LiveView, person: &str) -> Option<&'c str> {
    if let Some((_, room)) = view.occupancy.iter().find(|(p, _)| p == person) {
        return Some(room.as_str());
    }
    let child = cfg
        .children
        .iter()
        .find(|c| c.id == person)
        .map(|c| &c.room);
    let staff = cfg.staff.iter().find(|s| s.id == person).map(|s| &s.room);
    child.or(staff).map(|r| r.as_str())
}

/// For anyone: the emergency under way with counts only, per room in configuration order.
pub fn public(cfg: &Config, view: &LiveView) -> Value {
    let Some(e) = &view.emergency else {
        return Value::Null;
    };
    let rooms: Vec<Value> = cfg
        .rooms
        .iter()
        .map(|r| {
            let missing = e
                .missing
                .iter()
                .filter(|p| room_of(cfg, view, p) == Some(r.id.as_str()))
                .count();
            json!({ "id": r.id, "name": r.name, "missing": missing })
        })
        .collect();
    json!({
        "kind": e.kind.as_str(),
        "since": e.since,
        "expected": e.expected,
        "missing": e.missing.len(),
        "rooms": rooms,
        "incomplete": e.alert.is_some(),
    })
}

/// For logged-in staff: who is still missing, by id, with the room they are listed under.
pub fn missing(cfg: &Config, view: &LiveView) -> Value {
    let Some(e) = &view.emergency else {
        return json!([]);
    };
    e.missing
        .iter()
        .map(|p| json!({ "person": p, "room": room_of(cfg, view, p) }))
        .collect()
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no {what} `{}`", id.chars().take(64).collect::<String>()),
    )
}

/// `POST /api/emergency/{kind}/{start|end}`: an emergency or drill starts or ends.
pub async fn emergency(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    Path((kind, action)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    body?;
    let kind = EmergencyKind::ALL
        .iter()
        .copied()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| not_found("kind of emergency", &kind))?;
    let action = match action.as_str() {
        "start" => EmergencyAction::Start,
        "end" => EmergencyAction::End,
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "an emergency can only `start` or `end`",
            ))
        }
    };
    let event = Event::at(page_ts(&app), EventKind::Emergency { kind, action });
    // The rules refuse a second start or an end of none (409, with their reason).
    journal(&app, event, "emergency").await?;
    let by = who.session.staff.clone();
    let word = if action == EmergencyAction::Start {
        "start"
    } else {
        "end"
    };
    tracing::info!(kind = kind.as_str(), action = word, staff = %by, "staff page: emergency");
    Ok(Json(json!({ "kind": kind.as_str(), "action": word })))
}

/// `POST /api/roll-call/{person}`: the logged-in member of staff accounts for a child or
/// member of staff in the roll call under way.
pub async fn roll_call(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    Path(person): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    body?;
    let known = app.cfg.children.iter().any(|c| c.id == person)
        || app.cfg.staff.iter().any(|s| s.id == person);
    if !known {
        return Err(not_found("child or member of staff", &person));
    }
    let event = Event::at(
        page_ts(&app),
        EventKind::RollCall {
            person: person.clone(),
        },
    );
    // The rules refuse a roll call with no emergency under way (409, with their reason).
    journal(&app, event, "roll call").await?;
    let by = who.session.staff.clone();
    tracing::info!(person = %person, staff = %by, "staff page: roll call");
    Ok(Json(json!({ "person": person })))
}
