//! Access control. `/health` is always open. Then one of three modes, chosen by `app` at start:
//! - `API_TOKEN` set: `/api`, `/metrics` and the dashboard's data need `Authorization: Bearer
//!   <token>` (scheme case-insensitive, compared in constant time). Only the SSE endpoint also
//!   takes `?token=` (browsers' EventSource cannot send headers); anywhere else a token in the URL
//!   would end up in proxy logs and browser history, so it is ignored there.
//! - no token, and the listener is reachable from the network without `--insecure-open-api`
//!   ([`AppState::api_locked`]): the API and the dashboard answer 401 saying how to open them;
//!   `/metrics` stays open (read-only counts that Prometheus scrapes).
//! - otherwise (loopback, or `--insecure-open-api`): open to the CLI, curl and the dashboard,
//!   not to other web pages ([`super::browser`]).
//!
//! While the daemon drains, mutating requests are refused (phase 1 of shutdown).

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;

/// The one route that accepts `?token=`.
pub const SSE_PATH: &str = "/api/events";

/// The middleware.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/health" {
        return next.run(req).await;
    }
    if let Some(token) = &state.api_token {
        // The dashboard page itself must load in a browser without a header; its scripts
        // send the token the user enters. Everything it fetches is guarded.
        let is_page = req.method() == Method::GET && (path == "/" || path == "/index.html");
        if !is_page && !authorized(&req, token) {
            return ApiError::Unauthorized.into_response();
        }
    } else if state.api_locked && path != "/metrics" {
        return ApiError::Closed(closed_message(&state)).into_response();
    } else if let Some(refused) =
        super::browser::open_mode_refusal(req.method(), path, req.headers())
    {
        return refused.into_response();
    }
    let mutating = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if mutating && state.status.draining() {
        return ApiError::Unavailable(
            "the daemon is shutting down; mutating requests are refused".into(),
        )
        .into_response();
    }
    next.run(req).await
}

/// What a client of a closed API reads: why, and the three ways to open it.
pub fn closed_message(state: &AppState) -> String {
    format!(
        "the API and dashboard are disabled: this daemon listens on {} (reachable from the network) \
         and API_TOKEN is not set. To enable them, set API_TOKEN=<secret> and send \
         Authorization: Bearer <secret>; or listen on loopback (WORKER_LISTEN=127.0.0.1:3001); \
         or start with --insecure-open-api. /health and /metrics stay open.",
        state.config.listen
    )
}

fn authorized(req: &Request, token: &str) -> bool {
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    let given = match header {
        Some(t) => Some(t.to_string()),
        None if req.uri().path() == SSE_PATH => req.uri().query().and_then(query_token),
        None => None,
    };
    match given {
        Some(g) => g.as_bytes().ct_eq(token.as_bytes()).into(),
        None => false,
    }
}

/// The credentials of `Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_matches(' '))
}

/// `token=` of a query string, percent-decoded (the dashboard sends `encodeURIComponent`, so a
/// base64 token `Ab+/cd==` arrives as `Ab%2B%2Fcd%3D%3D`). A literal `+` stays `+` rather than
/// becoming a space as in HTML forms: a token typed raw into a URL must keep working too.
fn query_token(query: &str) -> Option<String> {
    let raw = query.split('&').find_map(|kv| kv.strip_prefix("token="))?;
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|t| t.into_owned())
}

#[cfg(test)]
mod tests {
    use super::{bearer, query_token};

    #[test]
    fn the_scheme_is_case_insensitive_and_the_query_is_decoded() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER  abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearerabc"), None);
        assert_eq!(
            query_token("queue=a&token=Ab%2B%2Fcd%3D%3D").as_deref(),
            Some("Ab+/cd==")
        );
        assert_eq!(query_token("token=Ab+/cd==").as_deref(), Some("Ab+/cd=="));
        assert_eq!(query_token("queue=a"), None);
    }
}
