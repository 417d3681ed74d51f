//! Naps on the staff page (contract sections 9 and 10): a logged-in member of staff starts
//! or ends a room's nap, and records a sleep check in one tap. Each is journalled as an
//! event like any other (`nap`, `sleep_check` with the staff member's id as `by`), so
//! `replay` reproduces it; the page waits until it is.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::api::{journal, page_ts, ApiError, ApiResult};
use super::session::CsrfChecked;
use super::App;
use crate::alert::{AlertState, AlertType};
use crate::event::{Event, EventKind, NapAction};

/// The room's id as configured, or a 404 naming (the start of) what was asked for.
fn known_room(app: &App, id: &str) -> ApiResult<String> {
    if app.cfg.rooms.iter().any(|r| r.id == id) {
        return Ok(id.to_string());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no room with id `{}`",
            id.chars().take(64).collect::<String>()
        ),
    ))
}

fn napping(app: &App, room: &str) -> bool {
    app.live.view().naps.iter().any(|n| n.room == room)
}

/// `POST /api/rooms/{id}/sleep-check`: the logged-in member of staff checked the napping
/// children of the room.
pub async fn sleep_check(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    body?;
    let room = known_room(&app, &room)?;
    if !napping(&app, &room) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("no nap is under way in room `{room}`"),
        ));
    }
    let by = who.session.staff.clone();
    let event = Event::at(
        page_ts(&app),
        EventKind::SleepCheck {
            room: room.clone(),
            by: by.clone(),
        },
    );
    let transitions = journal(&app, event, "sleep check").await?;
    tracing::info!(room = %room, staff = %by, "staff page: sleep check");
    let resolved: Vec<&str> = transitions
        .iter()
        .filter(|t| t.alert_type == AlertType::SleepCheckMissed)
        .filter(|t| t.state == AlertState::Resolved)
        .map(|t| t.alert_id.as_str())
        .collect();
    Ok(Json(
        json!({ "room": room, "by": by, "resolved": resolved }),
    ))
}

/// `POST /api/rooms/{id}/nap/{start|end}`: the room's nap begins or ends.
pub async fn nap(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    Path((room, action)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    body?;
    let room = known_room(&app, &room)?;
    let action = match action.as_str() {
        "start" => NapAction::Start,
        "end" => NapAction::End,
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "a nap can only `start` or `end`",
            ))
        }
    };
    match (action, napping(&app, &room)) {
        (NapAction::Start, true) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("a nap is already under way in room `{room}`"),
            ))
        }
        (NapAction::End, false) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("no nap is under way in room `{room}`"),
            ))
        }
        _ => {}
    }
    let event = Event::at(
        page_ts(&app),
        EventKind::Nap {
            room: room.clone(),
            action,
        },
    );
    journal(&app, event, "nap").await?;
    let by = who.session.staff.clone();
    tracing::info!(room = %room, staff = %by, action = action.as_str(), "staff page: nap");
    Ok(Json(json!({ "room": room, "nap": action.as_str() })))
}
