//! The open API (loopback, no token) against web pages, and strict request bodies (issue 25),
//! through the real router: another site cannot change anything, a rebinding `Host` reads
//! nothing, bodiless mutations need the JSON content type, and the dashboard's own requests,
//! the CLI's and curl's (with the header) still pass. Every answer forbids framing.

mod router_support;

use axum::http::StatusCode;
use router_support::*;

const JSON: (&str, &str) = ("content-type", "application/json");

/// The router's answer when it lets a request through: the store is not connected in these
/// tests, so a request that passed every check reaches the handler and gets 503.
const PASSED: StatusCode = StatusCode::SERVICE_UNAVAILABLE;

#[tokio::test]
async fn other_sites_cannot_mutate_an_open_api() {
    let s = state(None);
    let routes = [
        ("POST", "/api/queues/misc/pause"),
        ("POST", "/api/queues/email/retry-failed"),
        ("POST", "/api/queues/email/jobs/a/retry"),
        ("POST", "/api/queues/email/jobs/a/promote"),
        ("DELETE", "/api/queues/email/jobs/a"),
    ];
    let host = ("host", "127.0.0.1:3001");
    for (method, path) in routes {
        // What `fetch(url, {method: "POST", mode: "no-cors"})` from another page sends.
        let no_cors = [
            host,
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
            ("content-type", "text/plain"),
        ];
        let (code, _, body) = send(&s, method, path, &no_cors, "").await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("API_TOKEN"),
            "{body}"
        );
        // Another port on the same host is another origin (a dev server at localhost:8080).
        let sibling = [host, ("origin", "http://127.0.0.1:8080"), JSON];
        let (code, _, _) = send(&s, method, path, &sibling, "").await;
        assert_eq!(
            code,
            StatusCode::FORBIDDEN,
            "{method} {path} from a sibling port"
        );
        let same_site = [host, ("sec-fetch-site", "same-site"), JSON];
        let (code, _, _) = send(&s, method, path, &same_site, "").await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{method} {path} same-site");
        // An old browser without Origin/Sec-Fetch-Site: a simple request has no JSON type.
        let (code, _, body) = send(&s, method, path, &[host], "").await;
        assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Content-Type: application/json"),
            "{body}"
        );
        // The dashboard itself (same origin) and curl/the CLI with the header pass.
        let dashboard = [
            host,
            ("origin", "http://127.0.0.1:3001"),
            ("sec-fetch-site", "same-origin"),
            JSON,
        ];
        let (code, _, body) = send(&s, method, path, &dashboard, "").await;
        assert_eq!(code, PASSED, "{method} {path} from the dashboard: {body}");
        let (code, _, _) = send(&s, method, path, &[host, JSON], "").await;
        assert_eq!(code, PASSED, "{method} {path} from curl");
    }
    // Reading stays open to curl and the dashboard (no Origin check on GET: the same-origin
    // policy already keeps other pages from reading the answer).
    let (code, _, _) = send(&s, "GET", "/api/queues", &[host], "").await;
    assert_eq!(code, PASSED);
}

#[tokio::test]
async fn a_rebound_host_name_reads_nothing_from_an_open_api() {
    let s = state(None);
    for path in [
        "/api/queues",
        "/api/queues/q/jobs/a",
        "/",
        "/api/openapi.json",
    ] {
        let (code, _, body) = send(&s, "GET", path, &[("host", "evil.example:3001")], "").await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    for host in [
        "127.0.0.1:3001",
        "localhost:3001",
        "[::1]:3001",
        "10.0.0.7:3001",
    ] {
        let (code, _, _) = send(&s, "GET", "/", &[("host", host)], "").await;
        assert_eq!(code, StatusCode::OK, "{host}");
    }
    // Probes and scrapers use the service name: /health and /metrics are read-only and open.
    for path in ["/health", "/metrics"] {
        let (code, _, _) = send(&s, "GET", path, &[("host", "worker.ns.svc:3001")], "").await;
        assert_ne!(code, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn with_a_token_the_bearer_header_is_the_check() {
    let s = state(Some("t"));
    let headers = [
        ("host", "cronq.internal.example"),
        ("authorization", "Bearer t"),
    ];
    let (code, _, body) = send(&s, "POST", "/api/queues/q/pause", &headers, "").await;
    assert_eq!(code, PASSED, "{body}");
}

#[tokio::test]
async fn every_answer_forbids_framing_and_sniffing() {
    let s = state(None);
    for path in ["/", "/api/queues", "/health", "/no-such-route"] {
        let (_, headers, _) = send(&s, "GET", path, &[], "").await;
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
    let (_, headers, _) = send(&s, "GET", "/", &[], "").await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[tokio::test]
async fn bodies_are_strict() {
    let s = state(Some("t"));
    let headers = [("authorization", "Bearer t"), JSON];
    let cases = [
        r#"{"name":"ok"}{"name":"evil"}"#,
        r#"{"name":"ok"} trailing"#,
        r#"{"name":"ok","data":{"n":18446744073709551616}}"#,
        r#"{"name":"ok","data":[-9223372036854775809]}"#,
    ];
    for body in cases {
        let (code, _, resp) = send(&s, "POST", "/api/queues/q/jobs", &headers, body).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}: {resp}");
        assert_eq!(resp["error"]["field"], "body", "{body}: {resp}");
    }
    // The same with whitespace after the object, and the largest 64-bit integers, pass.
    for body in [
        "{\"name\":\"ok\"}\n",
        r#"{"name":"ok","data":{"a":18446744073709551615,"b":-9223372036854775808,"c":"99999999999999999999"}}"#,
    ] {
        let (code, _, resp) = send(&s, "POST", "/api/queues/q/jobs", &headers, body).await;
        assert_eq!(code, PASSED, "{body}: {resp}");
    }
}
