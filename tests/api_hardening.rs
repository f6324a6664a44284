//! What an adversarial probe of the API found (issues 13 and 14), through the real router:
//! a closed API without a token, tokens only in the SSE query and decoded, the bearer scheme in
//! any case, control characters and out-of-range numbers refused naming the field, and JSON
//! errors for bad path escapes and non-JSON content types.

mod router_support;

use axum::http::StatusCode;
use router_support::*;

#[tokio::test]
async fn without_a_token_on_the_network_only_health_and_metrics_answer() {
    let mut s = state(None);
    s.api_locked = true;
    for path in ["/api/queues", "/", "/api/openapi.json", "/api/events"] {
        let (code, _, body) = send(&s, "GET", path, &[], "").await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{path}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        for hint in ["API_TOKEN", "loopback", "--insecure-open-api"] {
            assert!(message.contains(hint), "{path}: {hint} missing in {body}");
        }
    }
    let (code, _, _) = send(&s, "POST", "/api/queues/q/pause", &[], "").await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _, _) = send(&s, "GET", "/metrics", &[], "").await;
    assert_eq!(code, StatusCode::OK, "/metrics stays open without a token");
    let (code, _, body) = send(&s, "GET", "/health", &[], "").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "no Redis: {body}");
    assert_eq!(body["status"], "unhealthy");
}

#[tokio::test]
async fn the_query_token_works_only_for_sse_and_is_decoded() {
    let token = "Ab+/cd==";
    let s = state(Some(token));
    // Past the guard, the SSE endpoint answers 503 (no Redis here), not 401.
    let encoded = "/api/events?queue=q&token=Ab%2B%2Fcd%3D%3D";
    let (code, _, body) = send(&s, "GET", encoded, &[], "").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (code, _, _) = send(&s, "GET", "/api/events?token=wrong", &[], "").await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    for (method, path) in [
        ("GET", "/api/schedules?token=Ab%2B%2Fcd%3D%3D"),
        ("GET", "/api/schedules?token=Ab+/cd=="),
        ("POST", "/api/queues/q/pause?token=Ab%2B%2Fcd%3D%3D"),
        ("POST", "/api/queues/q/retry-failed?token=Ab+/cd=="),
        ("GET", "/metrics?token=Ab+/cd=="),
    ] {
        let (code, _, _) = send(&s, method, path, &[], "").await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let auth = format!("{scheme} {token}");
        let (code, _, _) = send(&s, "GET", "/api/schedules", &[("authorization", &auth)], "").await;
        assert_eq!(code, StatusCode::OK, "{scheme}");
    }
}

async fn add(body: &str) -> (StatusCode, serde_json::Value) {
    let s = state(Some("t"));
    let headers = [
        ("authorization", "Bearer t"),
        ("content-type", "application/json"),
    ];
    let (code, _, resp) = send(&s, "POST", "/api/queues/q/jobs", &headers, body).await;
    (code, resp)
}

#[tokio::test]
async fn control_characters_in_ids_and_names_are_refused() {
    let cases = [
        (r#"{"name":"send","jobId":"a\nINFO forged line"}"#, "jobId"),
        (r#"{"name":"send","jobId":"a\u001b[31mred"}"#, "jobId"),
        (r#"{"name":"send\r\nforged","data":{}}"#, "name"),
        (r#"{"name":"se\u0000nd"}"#, "name"),
    ];
    for (body, field) in cases {
        let (code, resp) = add(body).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}: {resp}");
        assert_eq!(resp["error"]["field"], field, "{body}: {resp}");
        assert!(
            resp["error"]["message"]
                .as_str()
                .unwrap()
                .contains("control character"),
            "{resp}"
        );
    }
}

/// Bidi overrides, zero-width characters and line separators spoof ids in logs and the
/// dashboard (`\u202egnp.exe` reads `exe.png`): refused like control characters (issue 25).
#[tokio::test]
async fn bidi_and_line_separator_characters_in_ids_and_names_are_refused() {
    let cases = [
        (
            r#"{"name":"send","jobId":"\u202egnp.exe"}"#,
            "jobId",
            "U+202E",
        ),
        (
            r#"{"name":"send","jobId":"a\u2028INFO forged"}"#,
            "jobId",
            "U+2028",
        ),
        (r#"{"name":"se\u2066nd"}"#, "name", "U+2066"),
        (r#"{"name":"send","jobId":"a\ufeffb"}"#, "jobId", "U+FEFF"),
    ];
    for (body, field, code_point) in cases {
        let (code, resp) = add(body).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}: {resp}");
        assert_eq!(resp["error"]["field"], field, "{body}: {resp}");
        let message = resp["error"]["message"].as_str().unwrap();
        assert!(message.contains(code_point), "{resp}");
        assert!(
            !message.contains('\u{202e}'),
            "the message shows it escaped: {resp}"
        );
    }
}

#[tokio::test]
async fn out_of_range_numbers_are_refused_naming_the_field() {
    let cases = [
        (r#"{"name":"n","delay":18446744073709551615}"#, "delay"),
        (r#"{"name":"n","delay":"999999999999d"}"#, "delay"),
        (r#"{"name":"n","delay":"11y"}"#, "delay"),
        (r#"{"name":"n","priority":2097152}"#, "priority"),
        (r#"{"name":"n","priority":99999999999}"#, "priority"),
        (r#"{"name":"n","attempts":4294967295}"#, "attempts"),
        (r#"{"name":"n","attempts":99999999999}"#, "attempts"),
        (r#"{"name":"n","backoff":"fixed:999999999999d"}"#, "backoff"),
        (
            r#"{"name":"n","backoff":"exponential:18446744073709551615"}"#,
            "backoff",
        ),
    ];
    for (body, field) in cases {
        let (code, resp) = add(body).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}: {resp}");
        assert_eq!(resp["error"]["field"], field, "{body}: {resp}");
    }
    let s = state(Some("t"));
    let headers = [
        ("authorization", "Bearer t"),
        ("content-type", "application/json"),
    ];
    let body = r#"{"state":"failed","olderThan":"999999999999d"}"#;
    let (code, _, resp) = send(&s, "POST", "/api/queues/q/clean", &headers, body).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{resp}");
    assert_eq!(resp["error"]["field"], "olderThan", "{resp}");
}

#[tokio::test]
async fn a_bad_escape_in_the_path_gets_the_json_error() {
    let s = state(Some("t"));
    let auth = [("authorization", "Bearer t")];
    for (method, path) in [
        ("GET", "/api/queues/%ff/jobs"),
        ("GET", "/api/queues/q/jobs/%c3%28"),
        ("POST", "/api/queues/q/jobs/%ff/retry"),
        ("POST", "/api/schedules/%fe/trigger"),
    ] {
        let (code, headers, body) = send(&s, method, path, &auth, "").await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{method} {path}");
        assert_eq!(
            headers["content-type"], "application/json",
            "{method} {path}"
        );
        assert_eq!(body["error"]["field"], "path", "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn only_application_json_bodies_are_accepted() {
    let s = state(Some("t"));
    for content_type in ["application/jsonx", "text/plain", "application/json-seq"] {
        let headers = [
            ("authorization", "Bearer t"),
            ("content-type", content_type),
        ];
        let (code, _, body) = send(
            &s,
            "POST",
            "/api/queues/q/jobs",
            &headers,
            r#"{"name":"n"}"#,
        )
        .await;
        assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
        assert_eq!(body["error"]["code"], "unsupported_media_type", "{body}");
    }
    let (code, _, body) = send(
        &s,
        "POST",
        "/api/queues/q/jobs",
        &[("authorization", "Bearer t")],
        r#"{"name":"n"}"#,
    )
    .await;
    assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE, "missing: {body}");
    // With parameters it is still JSON: past the content check, 503 for the missing Redis.
    let headers = [
        ("authorization", "Bearer t"),
        ("content-type", "Application/JSON; charset=utf-8"),
    ];
    let (code, _, body) = send(
        &s,
        "POST",
        "/api/queues/q/jobs",
        &headers,
        r#"{"name":"n"}"#,
    )
    .await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[tokio::test]
async fn one_stream_follows_a_bounded_number_of_queues() {
    let s = state(None);
    let many: Vec<String> = (0..300).map(|i| format!("q{i}")).collect();
    let path = format!("/api/events?queue={}", many.join(","));
    let (code, _, body) = send(&s, "GET", &path, &[], "").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "queue", "{body}");
}
