//! Presence on the staff page (contract section 9): a logged-in member of staff marks a
//! colleague (or themself) checked in as on duty, on a break or at other work. It is
//! journalled as a `presence` event like any other, so `replay` reproduces it, and the
//! room's ratio reacts at once; the page waits until it is journalled. The rules refuse a
//! member of staff who is not checked in (409, with their reason).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::api::{journal, page_ts, ApiError, ApiResult};
use super::session::CsrfChecked;
use super::App;
use crate::event::{Event, EventKind, PresenceState};

/// `POST /api/staff/{id}/presence/{on_duty|break|other_work}`.
pub async fn presence(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    Path((staff, state)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    body?;
    if !app.staff.contains_key(&staff) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no member of staff with id `{}`",
                staff.chars().take(64).collect::<String>()
            ),
        ));
    }
    let Some(state) = PresenceState::ALL
        .iter()
        .copied()
        .find(|s| s.as_str() == state)
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "presence is `on_duty`, `break` or `other_work`",
        ));
    };
    let event = Event::at(
        page_ts(&app),
        EventKind::Presence {
            person: staff.clone(),
            state,
        },
    );
    journal(&app, event, "presence").await?;
    let by = who.session.staff.clone();
    tracing::info!(staff = %staff, by = %by, state = state.as_str(), "staff page: presence");
    Ok(Json(json!({ "staff": staff, "presence": state.as_str() })))
}
