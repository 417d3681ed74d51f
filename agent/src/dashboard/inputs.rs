//! Panic buttons on the staff page: a logged-in member of staff arms a wired panic button
//! for a test press (测试一键报警); the next press within two minutes is journalled as a
//! test (`input` with `test: true`), which raises nothing and resolves `panic_untested`.
//! See [`crate::hw::test_press`].

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::api::{ApiError, ApiResult};
use super::session::CsrfChecked;
use super::App;
use crate::config::{Config, InputKind};
use crate::hw::test_press::TEST_WINDOW;

/// The inputs for the page: id, name, kind, and whether a contact on this board reads it
/// (only those can be armed; the others' test presses arrive in their events).
pub fn listed(cfg: &Config) -> Vec<Value> {
    cfg.inputs
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "name": i.name,
                "kind": i.kind.as_str(),
                "wired": i.contact.is_some(),
            })
        })
        .collect()
}

/// `POST /api/inputs/{id}/test`: arms the wired panic button `id` for a test press.
pub async fn arm_test(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    body?;
    let Some(input) = app.cfg.inputs.iter().find(|i| i.id == id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no input with id `{}`",
                id.chars().take(64).collect::<String>()
            ),
        ));
    };
    if input.kind != InputKind::Panic {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "input `{id}` is a {} input; only panic buttons take test presses here",
                input.kind.as_str()
            ),
        ));
    }
    if input.contact.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "input `{id}` has no contact on this board; its test presses arrive in its \
                 events with \"test\": true"
            ),
        ));
    }
    app.live.test_presses().arm(&id, Instant::now());
    tracing::info!(input = %id, staff = %who.session.staff, "staff page: panic button armed for a test press");
    Ok(Json(json!({
        "input": id,
        "window_s": TEST_WINDOW.as_secs(),
    })))
}
