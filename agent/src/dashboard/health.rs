//! Health checks (晨午检) and absences on the staff page (contract sections 9 and 10): a
//! logged-in member of staff records a child's check, the temperature taken (optional) and
//! `pass` or `refer`, or reports a child absent with a reason. Each is journalled as an event
//! like any other (`health_check`, `absence`), so `replay` reproduces it; the rules refuse
//! what they would refuse from any input (an implausible temperature: 409 with the reason).
//!
//! `GET /api/health` gives logged-in staff each child's state today, with names: it never
//! leaves the device.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{journal, page_ts, parse, ApiError, ApiResult};
use super::session::{CsrfChecked, LoggedIn};
use super::App;
use crate::alert::{AlertState, AlertType};
use crate::event::{AbsenceReason, Event, EventKind, HealthResult};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    #[serde(default)]
    celsius: Option<f64>,
    result: HealthResult,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AbsenceBody {
    reason: AbsenceReason,
    /// The local date; today (the rules' clock) when absent.
    #[serde(default)]
    date: Option<NaiveDate>,
}

/// The child's id as configured, or a 404 naming (the start of) what was asked for.
fn known_child(app: &App, id: &str) -> ApiResult<String> {
    if app.cfg.children.iter().any(|c| c.id == id) {
        return Ok(id.to_string());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no child with id `{}`",
            id.chars().take(64).collect::<String>()
        ),
    ))
}

/// `GET /api/health`: every child's health check and arrival today, for logged-in staff.
pub async fn list(State(app): State<App>, _staff: LoggedIn) -> Json<Value> {
    let view = app.live.view();
    let tz = app.cfg.facility.timezone;
    let children: Vec<Value> = view
        .health
        .iter()
        .map(|h| {
            let child = app.cfg.children.iter().find(|c| c.id == h.child);
            json!({
                "id": h.child,
                "name": child.map(|c| c.name.clone()),
                "room": child.map(|c| c.room.clone()),
                "checked_in": h.checked_in,
                "checked_at": h.checked_today.map(|t| t.with_timezone(&tz).fixed_offset()),
                "failed": h.failed.is_some(),
                "missing": h.missing.is_some(),
                "absent_today": h.absent_today,
                "expected_today": h.expected_today,
            })
        })
        .collect();
    Json(json!({
        "date": view.clock.map(|c| c.date_naive()),
        "children": children,
    }))
}

/// `POST /api/children/{id}/health-check` with `{"celsius": 36.6, "result": "pass"}`
/// (`celsius` optional): the logged-in member of staff checked the child, and is the
/// event's `by`.
pub async fn check(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body: CheckBody = parse(&body?)?;
    let child = known_child(&app, &id)?;
    let by = who.session.staff.clone();
    let event = Event::at(
        page_ts(&app),
        EventKind::HealthCheck {
            person: child.clone(),
            celsius: body.celsius,
            result: body.result,
            by: Some(by.clone()),
        },
    );
    let transitions = journal(&app, event, "health check").await?;
    tracing::info!(child = %child, staff = %by, result = body.result.as_str(), "staff page: health check");
    let failed = transitions
        .iter()
        .any(|t| t.alert_type == AlertType::HealthCheckFailed && t.state == AlertState::Raised);
    Ok(Json(json!({
        "child": child,
        "celsius": body.celsius,
        "result": body.result,
        "failed": failed,
    })))
}

/// `POST /api/children/{id}/absence` with `{"reason": "sick", "date": "2026-03-03"}`
/// (`date` optional, today by default): the child is reported absent.
pub async fn absence(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body: AbsenceBody = parse(&body?)?;
    let child = known_child(&app, &id)?;
    let ts = page_ts(&app);
    let date = body.date.unwrap_or_else(|| ts.date_naive());
    let event = Event::at(
        ts,
        EventKind::Absence {
            person: child.clone(),
            date,
            reason: body.reason,
        },
    );
    journal(&app, event, "absence").await?;
    let by = who.session.staff.clone();
    tracing::info!(child = %child, staff = %by, reason = body.reason.as_str(), "staff page: absence");
    Ok(Json(
        json!({ "child": child, "date": date, "reason": body.reason }),
    ))
}
