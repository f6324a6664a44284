//! The HTTP layer through the real router (`oneshot`, no socket, no Redis): auth, validation
//! errors that name the field, body limits, health before Redis, and an OpenAPI document that
//! lists every route the router serves.

mod router_support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cronq::http::router;
use http_body_util::BodyExt;
use router_support::*;
use tower::ServiceExt;

#[tokio::test]
async fn health_never_needs_a_token_and_reports_no_redis() {
    let s = state(Some("s3cret"));
    let (code, body) = call(&s, get("/health", None)).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["reason"], "redis: not connected yet");
    assert_eq!(body["redis"]["url"], "redis://:***@127.0.0.1:1/0");
}

#[tokio::test]
async fn the_api_metrics_and_spec_need_the_token() {
    let s = state(Some("s3cret"));
    for path in [
        "/api/queues",
        "/metrics",
        "/api/openapi.json",
        "/api/schedules",
    ] {
        let (code, body) = call(&s, get(path, None)).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{path}");
        if path != "/metrics" {
            assert_eq!(body["error"]["code"], "unauthorized", "{path}");
        }
        let (code, _) = call(&s, get(path, Some("wrong"))).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
    }
    let (code, _) = call(&s, get("/api/schedules", Some("s3cret"))).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = call(&s, get("/api/queues", Some("s3cret"))).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "no Redis yet");
    let (code, _) = call(&s, get("/", None)).await;
    assert_eq!(
        code,
        StatusCode::OK,
        "the dashboard page loads and asks for the token"
    );
}

#[tokio::test]
async fn bad_bodies_get_400_naming_the_field() {
    let s = state(Some("t"));
    let cases = [
        (r#"{"name":"n","attempts":"three"}"#, "attempts"),
        (r#"{"name":"n","data":{},"priority":-1}"#, "priority"),
        (r#"{"name":"n","colour":"red"}"#, "colour"),
        (r#"{"name":"n","delay":[1]}"#, "delay"),
        ("{not json", "body"),
    ];
    for (body, field) in cases {
        let (code, resp) = call(&s, post("/api/queues/email/jobs", "t", body)).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(resp["error"]["field"], field, "{body}: {resp}");
    }
    let (code, resp) = call(
        &s,
        post("/api/queues/bad:name/jobs", "t", r#"{"name":"n"}"#),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(resp["error"]["field"], "queue");
    // Issue 14 item 9: one queue-name rule; these used to reach the store.
    for bad in ["a%20b", "%2A", "%7Bx", "caf%C3%A9", "a%00b", "x%7By%7D"] {
        let (code, resp) = call(
            &s,
            post(&format!("/api/queues/{bad}/jobs"), "t", r#"{"name":"n"}"#),
        )
        .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {resp}");
        assert_eq!(resp["error"]["field"], "queue", "{bad}: {resp}");
    }
    let (code, resp) = call(
        &s,
        post("/api/queues/q/jobs", "t", r#"{"name":"n","attempts":0}"#),
    )
    .await;
    assert_eq!(
        (code, resp["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("attempts"))
    );
    let (code, resp) = call(
        &s,
        post(
            "/api/queues/q/clean",
            "t",
            r#"{"state":"active","olderThan":"1d"}"#,
        ),
    )
    .await;
    assert_eq!(
        (code, resp["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("state"))
    );
    let (code, resp) = call(&s, get("/api/queues/q/jobs?state=sleeping", Some("t"))).await;
    assert_eq!(
        (code, resp["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("state"))
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let s = state(Some("t"));
    let big = format!(r#"{{"name":"n","data":"{}"}}"#, "x".repeat(2 << 20));
    let resp = router(s.clone())
        .oneshot(post("/api/queues/q/jobs", "t", &big))
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "the body reader reports the limit"
    );
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "too_large", "{body}");
    assert_eq!(body["error"]["field"], "body", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1048576 bytes"),
        "{body}"
    );
}

#[tokio::test]
async fn mutating_requests_are_refused_while_draining() {
    let s = state(None);
    s.status.set_draining();
    let req = Request::post("/api/queues/q/pause")
        .header("content-type", "application/json")
        .body(Body::empty())
        .unwrap();
    let (code, body) = call(&s, req).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("shutting down"));
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let s = state(None);
    let (code, doc) = call(&s, get("/api/openapi.json", None)).await;
    assert_eq!(code, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/api/queues", "get"),
        ("/api/queues/{queue}/pause", "post"),
        ("/api/queues/{queue}/resume", "post"),
        ("/api/queues/{queue}/retry-failed", "post"),
        ("/api/queues/{queue}/clean", "post"),
        ("/api/queues/{queue}/metrics", "get"),
        ("/api/schedules/timeline", "get"),
        ("/api/queues/{queue}/jobs", "get"),
        ("/api/queues/{queue}/jobs", "post"),
        ("/api/queues/{queue}/jobs/{id}", "get"),
        ("/api/queues/{queue}/jobs/{id}", "delete"),
        ("/api/queues/{queue}/jobs/{id}/retry", "post"),
        ("/api/queues/{queue}/jobs/{id}/promote", "post"),
        ("/api/schedules", "get"),
        ("/api/schedules/{id}/trigger", "post"),
        ("/api/schedules/{id}/pause", "post"),
        ("/api/schedules/{id}/resume", "post"),
        ("/api/schedules/{id}/backfill", "post"),
        ("/api/events", "get"),
        ("/api/programs", "get"),
        ("/api/programs/{name}/start", "post"),
        ("/api/programs/{name}/stop", "post"),
        ("/api/programs/{name}/restart", "post"),
        ("/api/programs/{name}/tail", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the spec"
        );
    }
    // Every documented operation is routed (a 404 would be the fallback's JSON).
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{queue}", "q")
                .replace("{id}", "x")
                .replace("{name}", "x");
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .body(Body::empty())
                .unwrap();
            let resp = router(s.clone()).oneshot(req).await.unwrap();
            assert_ne!(
                resp.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            assert!(
                !String::from_utf8_lossy(&bytes).contains("no such route"),
                "{method} {path} is documented but not routed"
            );
        }
    }
    // Written to target/ for the schema validator in scripts/test.sh.
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/openapi.json");
    std::fs::write(out, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}
