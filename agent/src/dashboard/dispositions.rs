//! Dispositions on the staff page (一事一反馈, contract sections 9 and 10): a logged-in
//! member of staff records what was done about an alert, an action code and a free note.
//! It is journalled as a `disposition` event like any other, so `replay` reproduces it; the
//! note stays in the journal and the ledger, and never leaves the device (upstream the
//! alert gets a `disposed` transition with the action and the staff id only).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{journal, page_ts, parse, plausible_alert_id, ApiError, ApiResult};
use super::session::CsrfChecked;
use super::App;
use crate::alert::AlertState;
use crate::event::{DispositionAction, Event, EventKind};

/// Longest note the page takes, in characters: a few sentences on a phone.
pub const NOTE_MAX_CHARS: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    action: String,
    #[serde(default)]
    note: Option<String>,
}

/// The action code, or a 400 that lists the valid ones.
fn action(code: &str) -> ApiResult<DispositionAction> {
    DispositionAction::ALL
        .iter()
        .copied()
        .find(|a| a.as_str() == code)
        .ok_or_else(|| {
            let valid: Vec<&str> = DispositionAction::ALL.iter().map(|a| a.as_str()).collect();
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown action `{}`; expected one of {}",
                    code.chars().take(40).collect::<String>(),
                    valid.join(", ")
                ),
            )
        })
}

/// The note as it will be journalled: trimmed, `None` when empty; a 400 when too long or
/// when it holds control characters other than line breaks.
fn note(note: Option<String>) -> ApiResult<Option<String>> {
    let Some(n) = note else { return Ok(None) };
    let n = n.replace("\r\n", "\n");
    let n = n.trim();
    if n.chars().count() > NOTE_MAX_CHARS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the note is longer than {NOTE_MAX_CHARS} characters"),
        ));
    }
    if n.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the note holds control characters",
        ));
    }
    Ok((!n.is_empty()).then(|| n.to_string()))
}

/// `POST /api/alerts/{id}/disposition` with `{"action": "...", "note": "..."}`: the
/// logged-in member of staff records what was done about the alert.
pub async fn record(
    State(app): State<App>,
    CsrfChecked(who): CsrfChecked,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body: Body = parse(&body?)?;
    let action = action(&body.action)?;
    let note = note(body.note)?;
    if !plausible_alert_id(&id) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no alert with id `{}`",
                id.chars().take(128).collect::<String>()
            ),
        ));
    }
    let by = who.session.staff.clone();
    let event = Event::at(
        page_ts(&app),
        EventKind::Disposition {
            alert_id: id.clone(),
            by: by.clone(),
            action,
            note,
        },
    );
    let transitions = journal(&app, event, "disposition").await?;
    tracing::info!(alert = %id, staff = %by, action = action.as_str(), "staff page: disposition");
    let resolved = transitions
        .iter()
        .any(|t| t.alert_id == id && t.state == AlertState::Resolved);
    Ok(Json(json!({
        "alert_id": id,
        "disposed": { "action": action, "by": by },
        "resolved": resolved,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_action_code_is_accepted_and_others_are_refused_with_the_list() {
        for a in DispositionAction::ALL {
            assert_eq!(action(a.as_str()).unwrap(), *a);
        }
        let e = action("called_police").unwrap_err();
        let shown = format!("{e:?}");
        assert!(shown.contains("parent_notified"), "{shown}");
    }

    #[test]
    fn a_note_is_trimmed_and_an_empty_one_is_none() {
        assert_eq!(
            note(Some("  已通知家长 \r\n明早复查 ".into()))
                .unwrap()
                .as_deref(),
            Some("已通知家长 \n明早复查")
        );
        assert_eq!(note(Some("   ".into())).unwrap(), None);
        assert_eq!(note(None).unwrap(), None);
    }

    #[test]
    fn a_note_too_long_or_with_control_characters_is_refused() {
        assert!(note(Some("字".repeat(NOTE_MAX_CHARS + 1))).is_err());
        assert!(note(Some("字".repeat(NOTE_MAX_CHARS))).is_ok());
        assert!(note(Some("bell\u{7}".into())).is_err());
    }
}
