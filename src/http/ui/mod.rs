//! The dashboard: one HTML page with its script and styles inline, compiled into the binary
//! (no CDN, no build step). It reads `/api` and follows `/api/events`.

use axum::http::header;
use axum::response::IntoResponse;

use std::sync::LazyLock;

/// The page, with the schedules table's script spliced in at its marker: still one inline
/// script (the CSP allows no other origin, and one file per concept keeps each short).
static PAGE: LazyLock<String> = LazyLock::new(|| {
    include_str!("index.html").replacen("/*@schedules.js*/", include_str!("schedules.js"), 1)
});

/// `GET /`.
pub async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline' 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
        ],
        PAGE.as_str(),
    )
}
