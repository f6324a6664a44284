//! Access control for everything but `/health`: with `API_TOKEN` set, `/api`, `/metrics` and
//! the dashboard need `Authorization: Bearer <token>` (compared in constant time). While the
//! daemon drains, mutating requests are refused (phase 1 of shutdown).

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;

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

fn authorized(req: &Request, token: &str) -> bool {
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // EventSource cannot send headers: the SSE endpoint also accepts `?token=`.
    let query = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(|t| t.to_string())
    });
    let given = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string)
        .or(query);
    match given {
        Some(g) => g.as_bytes().ct_eq(token.as_bytes()).into(),
        None => false,
    }
}
