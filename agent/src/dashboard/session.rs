//! The session on the HTTP side: the cookie that carries it, and the extractors that find
//! it before a handler runs.
//!
//! - [`LoggedIn`]: the request carries the cookie of a live session (else 401). As an
//!   `Option<LoggedIn>` it never refuses: for routes that show more to staff.
//! - [`CsrfChecked`]: a live session *and* its CSRF token in `X-CSRF-Token` (else 401 or
//!   403), for every request that changes something.
//!
//! The cookie is read through `axum-extra`'s [`CookieJar`] and written with the `cookie`
//! crate's builder: `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's
//! page sends it), `Path=/`, and a `Max-Age` of one [`auth::SESSION_TTL`].

use std::convert::Infallible;
use std::time::Instant;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::api::ApiError;
use super::auth::{self, Session};
use super::App;

/// The header that carries the CSRF token of the session.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A live session, found from the request's cookie.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// The session token (the cookie's value), to end the session with.
    pub token: String,
    pub session: Session,
}

/// A live session whose CSRF token came with the request.
#[derive(Debug, Clone)]
pub struct CsrfChecked(pub LoggedIn);

fn find(parts: &Parts, app: &App) -> Option<LoggedIn> {
    let jar = CookieJar::from_headers(&parts.headers);
    let token = jar.get(auth::COOKIE)?.value().to_string();
    let session = app.sessions.get(&token, Instant::now())?;
    Some(LoggedIn { token, session })
}

fn not_logged_in() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "log in with your staff PIN first")
}

impl FromRequestParts<App> for LoggedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<LoggedIn, ApiError> {
        find(parts, app).ok_or_else(not_logged_in)
    }
}

impl OptionalFromRequestParts<App> for LoggedIn {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &App,
    ) -> Result<Option<LoggedIn>, Infallible> {
        Ok(find(parts, app))
    }
}

impl FromRequestParts<App> for CsrfChecked {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<CsrfChecked, ApiError> {
        let who = find(parts, app).ok_or_else(not_logged_in)?;
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !auth::same(sent, &who.session.csrf) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "missing or wrong X-CSRF-Token for this session",
            ));
        }
        Ok(CsrfChecked(who))
    }
}

/// The cookie that carries `token`, with every attribute the session relies on.
pub fn cookie(token: String) -> Cookie<'static> {
    let cookie = Cookie::build((auth::COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/");
    // Twelve hours always fit; were it not so, the cookie would last the browser's
    // session, and the server still ends the session at its TTL.
    match auth::SESSION_TTL.try_into() {
        Ok(age) => cookie.max_age(age).build(),
        Err(_) => cookie.build(),
    }
}

/// `jar` with the session cookie removed (`Max-Age=0`, same attributes).
pub fn removed(jar: CookieJar) -> CookieJar {
    jar.remove(cookie(String::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderMap, HeaderValue};

    #[test]
    fn the_session_cookie_is_http_only_same_site_strict_for_the_whole_site() {
        let text = cookie("abc".into()).to_string();
        assert_eq!(
            text,
            "nursery_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"
        );
    }

    #[test]
    fn logging_out_sends_an_expired_cookie_with_the_same_attributes() {
        use axum::response::IntoResponse;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; nursery_session=abc"),
        );
        let res = removed(CookieJar::from_headers(&headers)).into_response();
        let sent: Vec<&str> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(
            sent[0].starts_with("nursery_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
            "{sent:?}"
        );
    }
}
