//! The router with test state, called through `oneshot` (no socket, no Redis).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cronq::config::Overrides;
use cronq::cron::{Plan, SchedulerStats};
use cronq::http::{router, AppState};
use cronq::metrics::Metrics;
use cronq::status::Status;
use http_body_util::BodyExt;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub fn state(token: Option<&str>) -> AppState {
    let dir = std::env::temp_dir().join(format!("cronq-api-router-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let config = cronq::config::load(
        &|_| None,
        &Overrides {
            config: Some(empty),
            ..Overrides::default()
        },
    )
    .unwrap();
    let (_tx, plan) = tokio::sync::watch::channel(Arc::new(Plan::default()));
    AppState {
        status: Status::new(
            std::time::Duration::from_secs(30),
            "redis://:***@127.0.0.1:1/0".into(),
            "redis",
        ),
        config: Arc::new(config),
        plan,
        metrics: Arc::new(Metrics::default()),
        sched: Arc::new(SchedulerStats::default()),
        api_token: token.map(Arc::from),
        api_locked: false,
        sse: Arc::new(cronq::http::events::Hub::new(4)),
        closing: CancellationToken::new(),
        programs: Default::default(),
    }
}

pub async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let resp = router(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

pub fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

pub fn post(path: &str, token: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Any request: (status, headers, body JSON).
pub async fn send(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = router(state.clone())
        .oneshot(b.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}
