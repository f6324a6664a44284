//! HTTP for tests: `reqwest`'s blocking client against the daemon (plain calls, JSON, and a
//! Server-Sent Events reader), and an axum stub server for the `http` job handler to call.

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A client that opens a fresh connection per request (no pool): the daemon closes idle
/// keep-alive connections, and a pooled one closed under a request would be a flaky failure.
fn client(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(timeout)
        .build()
        .unwrap()
}

/// GET → (status, body JSON, `Null` when not JSON); None when nothing answers.
pub fn http_get(url: &str) -> Option<(u16, serde_json::Value)> {
    let resp = client(Duration::from_secs(5)).get(url).send().ok()?;
    let code = resp.status().as_u16();
    let text = resp.text().ok()?;
    Some((
        code,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    ))
}

/// A request with an optional JSON body and bearer token; returns (status, body text). Panics
/// when nothing answers; a body that cannot be read gives (status, "").
pub fn http(method: &str, url: &str, body: Option<&str>, token: Option<&str>) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client(Duration::from_secs(10)).request(method.clone(), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    // As curl users are told to: without API_TOKEN, a request that changes something must
    // carry the JSON content type, body or not (issue 25).
    if body.is_some() || !matches!(method, reqwest::Method::GET | reqwest::Method::HEAD) {
        req = req.header("content-type", "application/json");
    }
    let resp = req
        .send()
        .unwrap_or_else(|e| panic!("{url}: no answer: {e}"));
    let code = resp.status().as_u16();
    (code, resp.text().unwrap_or_default())
}

/// JSON of an HTTP call (`Null` when the body is not JSON).
pub fn http_json(
    method: &str,
    url: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let (code, text) = http(method, url, body, token);
    (
        code,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// An open Server-Sent Events stream (the response headers are in when `open` returns, so the
/// daemon counts this client from then on).
pub struct Sse {
    reader: std::io::BufReader<reqwest::blocking::Response>,
}

/// One SSE event: (id, event name, data JSON).
pub type SseEvent = (String, String, serde_json::Value);

impl Sse {
    /// Opens the stream; it fails a test that reads it for more than 60 s in all.
    pub fn open(url: &str, last_event_id: Option<&str>, token: Option<&str>) -> Sse {
        let mut req = client(Duration::from_secs(60))
            .get(url)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .unwrap_or_else(|e| panic!("{url}: no answer: {e}"));
        Sse {
            reader: std::io::BufReader::new(resp),
        }
    }

    /// Reads events until `pred` matches one (or panics when the stream stalls or ends).
    pub fn until(&mut self, mut pred: impl FnMut(&SseEvent) -> bool) -> Vec<SseEvent> {
        let mut seen = Vec::new();
        let (mut id, mut name, mut data) = (String::new(), String::new(), String::new());
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .expect("SSE stream stalled");
            assert!(n > 0, "SSE stream ended");
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim());
            } else if line.is_empty() && !data.is_empty() {
                let ev = (
                    id.clone(),
                    name.clone(),
                    serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                );
                data.clear();
                let done = pred(&ev);
                seen.push(ev);
                if done {
                    return seen;
                }
            }
        }
    }
}

/// A stub HTTP server on loopback (axum) for the http handler: `/ok` → 200 JSON echoing the
/// request body, `/text` → 200 plain text, `/notfound` → 404, anything else → 500. Records
/// each request as (path, body). It runs on its own thread's runtime until the test ends.
pub struct TestHttp {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<(String, String)>>>,
}

impl TestHttp {
    pub fn start() -> TestHttp {
        use axum::http::{StatusCode, Uri};
        use axum::response::IntoResponse;

        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().fallback(move |uri: Uri, body: String| {
            let log = log.clone();
            async move {
                let path = uri.path().to_string();
                log.lock().unwrap().push((path.clone(), body.clone()));
                let json = [("content-type", "application/json")];
                let text = [("content-type", "text/plain")];
                match path.as_str() {
                    "/ok" => {
                        let received = if body.is_empty() { "null".into() } else { body };
                        (StatusCode::OK, json, format!("{{\"received\":{received}}}"))
                            .into_response()
                    }
                    "/text" => (StatusCode::OK, text, "plain words").into_response(),
                    "/notfound" => (StatusCode::NOT_FOUND, text, "no such thing").into_response(),
                    _ => (StatusCode::INTERNAL_SERVER_ERROR, text, "boom").into_response(),
                }
            }
        });
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        TestHttp { port, requests }
    }
}
