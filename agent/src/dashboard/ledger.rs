//! The daily ledger (台账) on the staff page, for logged-in staff only: `GET /ledger` is
//! the printable page of [`crate::ledger::html`], `GET /ledger.csv` the same as CSV.
//! `?date=YYYY-MM-DD` picks the local date; without it, today on the rules' clock.
//!
//! The ledger names children, guardians and staff, so without a session the answer is a
//! 401 page that says to log in (and links back to the page); the answers are never cached.
//! The page is served with its own `Content-Security-Policy`: inline style (it is
//! self-contained, to print as it is), and still no script of any kind.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};

use super::session::LoggedIn;
use super::App;
use crate::ledger::{self, html::esc, LedgerError};

/// The policy of the ledger's page: its inline style, nothing else.
const LEDGER_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Csv,
}

pub async fn page(
    State(app): State<App>,
    who: Option<LoggedIn>,
    RawQuery(query): RawQuery,
) -> Response {
    answer(app, who, query, Format::Html).await
}

pub async fn csv(
    State(app): State<App>,
    who: Option<LoggedIn>,
    RawQuery(query): RawQuery,
) -> Response {
    answer(app, who, query, Format::Csv).await
}

async fn answer(
    app: App,
    who: Option<LoggedIn>,
    query: Option<String>,
    format: Format,
) -> Response {
    if who.is_none() {
        return message(
            StatusCode::UNAUTHORIZED,
            "请先在员工页面登录",
            "Log in on the staff page first: the ledger names children and staff.",
        );
    }
    let date = match date_param(query.as_deref()) {
        Ok(Some(d)) => d,
        Ok(None) => today(&app),
        Err(bad) => {
            return message(
                StatusCode::BAD_REQUEST,
                "日期无效，应为 YYYY-MM-DD",
                &format!("date={bad:?} is not a date (YYYY-MM-DD)"),
            )
        }
    };
    let cfg = app.cfg.clone();
    let built = tokio::task::spawn_blocking(move || ledger::from_storage(&cfg, date)).await;
    let l = match built {
        Ok(Ok(l)) => l,
        Ok(Err(e @ LedgerError::NoData { .. })) => {
            return message(StatusCode::NOT_FOUND, "该日期没有记录", &e.to_string())
        }
        Ok(Err(e)) => {
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "暂时无法读取日志",
                &e.to_string(),
            )
        }
        Err(_) => {
            return message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "生成台账失败",
                "making the ledger failed",
            )
        }
    };
    match format {
        Format::Html => {
            let nav = format!(
                "<form method=\"get\" action=\"/ledger\"><label>日期 Date \
                 <input type=\"date\" name=\"date\" value=\"{d}\"></label> \
                 <button type=\"submit\">查看 Show</button></form> \
                 <a href=\"/ledger.csv?date={d}\">下载 CSV (Excel/WPS)</a> · \
                 <a href=\"/\">返回员工页面 Back to the staff page</a> · \
                 打印：浏览器菜单 → 打印 (Ctrl+P) Print from the browser's menu",
                d = l.date
            );
            html(StatusCode::OK, ledger::html::render(&l, &nav))
        }
        Format::Csv => {
            let mut res = (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                ledger::csv::render(&l),
            )
                .into_response();
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename=\"ledger-{}.csv\"", l.date))
            {
                res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
    }
}

/// The `date` of the query: `Ok(None)` when absent, `Err(value)` when not a date.
fn date_param(query: Option<&str>) -> Result<Option<NaiveDate>, String> {
    let Some(value) = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("date="))
    else {
        return Ok(None);
    };
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse::<NaiveDate>()
        .map(Some)
        .map_err(|_| value.chars().take(40).collect())
}

/// Today in the facility's zone, on the rules' clock (the wall clock before it has one).
fn today(app: &App) -> NaiveDate {
    let tz = app.cfg.facility.timezone;
    let now = app
        .live
        .view()
        .clock
        .map_or_else(Utc::now, |c| c.with_timezone(&Utc));
    crate::localtime::date_of(tz, now)
}

fn html(status: StatusCode, body: String) -> Response {
    let mut res = (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(LEDGER_CSP),
    );
    res
}

/// A short page in both languages, with a link back to the staff page.
fn message(status: StatusCode, zh: &str, en: &str) -> Response {
    html(
        status,
        format!(
            "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <title>台账 Ledger</title></head><body><h1>{}</h1><p>{}</p>\
             <p><a href=\"/\">返回员工页面 Back to the staff page</a></p></body></html>\n",
            esc(zh),
            esc(en)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::date_param;

    #[test]
    fn the_date_parameter_is_read_from_the_query_and_a_bad_one_is_refused() {
        assert_eq!(date_param(None), Ok(None));
        assert_eq!(date_param(Some("date=")), Ok(None));
        assert_eq!(
            date_param(Some("x=1&date=2026-03-02")),
            Ok(Some("2026-03-02".parse().unwrap()))
        );
        assert_eq!(
            date_param(Some("date=2026-02-30")),
            Err("2026-02-30".into())
        );
        assert!(date_param(Some("date=<script>")).is_err());
    }
}
