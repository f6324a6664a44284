//! The dashboard: one HTML page with its script and styles inline, compiled into the binary
//! (no CDN, no build step). It reads `/api` and follows `/api/events`.

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("index.html");

/// `GET /`.
pub async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline' 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
        ],
        PAGE,
    )
}
