//! `GET /report`: the completeness report as JSON, or as text with `?format=text`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio_postgres::Client;

#[derive(serde::Deserialize)]
struct Params {
    format: Option<String>,
}

pub fn router(db: Arc<Client>) -> Router {
    Router::new().route("/report", get(report)).with_state(db)
}

async fn report(State(db): State<Arc<Client>>, Query(p): Query<Params>) -> Response {
    match crate::report::build(&db).await {
        Ok(r) if p.format.as_deref() == Some("text") => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            crate::report::text(&r),
        )
            .into_response(),
        Ok(r) => axum::Json(r).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the report could not be built: {e:#}\n"),
        )
            .into_response(),
    }
}
