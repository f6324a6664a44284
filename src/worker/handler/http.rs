//! The `http` handler: the job data as a JSON body to a configured URL. 2xx completes with the
//! response body as the return value; 5xx, timeouts and connection errors are retried; 4xx
//! fails for good (the request itself is wrong, and sending it again cannot help).
//!
//! At most [`MAX_RESPONSE`] bytes of a response are read: the return value is stored in the
//! job and read back by every listing, so an endpoint answering 300 MB must not become a 300 MB
//! job. A longer reply still completes the job (the endpoint did its work), with the return
//! value `{"truncated": true, "keptBytes": …, "body": "<the first MAX_RESPONSE bytes>"}`, and
//! the rest is never downloaded (the connection is dropped).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{JobError, JobInput, RunResult};

/// Bytes of a response body kept (1 MiB), whatever its length.
pub const MAX_RESPONSE: usize = 1 << 20;
use crate::queue::redact_url;

/// A configured endpoint.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    url: String,
    method: reqwest::Method,
    timeout: Duration,
    headers: BTreeMap<String, String>,
}

impl Http {
    /// An endpoint; `method` was validated by the config.
    pub fn new(
        client: reqwest::Client,
        url: &str,
        method: &str,
        timeout: Duration,
        headers: &BTreeMap<String, String>,
    ) -> Http {
        Http {
            client,
            url: url.to_string(),
            method: reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST),
            timeout,
            headers: headers.clone(),
        }
    }

    /// Sends the job.
    pub async fn run(&self, job: &JobInput, cancel: &CancellationToken) -> RunResult {
        let mut req = self
            .client
            .request(self.method.clone(), &self.url)
            .timeout(self.timeout)
            .header("x-job-id", &job.id)
            .header("x-job-name", &job.name)
            .header("x-job-queue", &job.queue)
            .header("x-job-attempt", job.attempt.to_string());
        // The job's span, when traces are on: the endpoint continues the trace.
        if let Some(trace) = crate::telemetry::otel::trace_headers() {
            req = req.header("traceparent", trace.traceparent);
            if let Some(state) = trace.tracestate {
                req = req.header("tracestate", state);
            }
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if self.method != reqwest::Method::GET {
            req = req.json(&job.data);
        }
        let url = redact_url(&self.url);
        let response = tokio::select! {
            r = req.send() => r,
            _ = cancel.cancelled() => return Err(JobError::Cancelled),
        };
        let response = response.map_err(|e| {
            let what = if e.is_timeout() {
                format!(
                    "timed out after {}",
                    humantime::format_duration(self.timeout)
                )
            } else {
                "request failed".to_string()
            };
            JobError::Retryable(format!(
                "{} {url}: {what}: {}",
                self.method,
                without_url(&e)
            ))
        })?;
        let status = response.status();
        let (body, truncated) = tokio::select! {
            b = read_capped(response) => b.map_err(|e| JobError::Retryable(format!("{} {url}: reading the body failed: {}", self.method, without_url(&e))))?,
            _ = cancel.cancelled() => return Err(JobError::Cancelled),
        };
        if status.is_success() {
            if truncated {
                return Ok(serde_json::json!({
                    "truncated": true,
                    "keptBytes": body.len(),
                    "body": String::from_utf8_lossy(&body),
                }));
            }
            return Ok(body_value(&body));
        }
        let snippet: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        let reason = format!(
            "{} {url}: HTTP {}: {}",
            self.method,
            status.as_u16(),
            snippet.trim()
        );
        if status.is_client_error() {
            Err(JobError::Fatal(reason))
        } else {
            Err(JobError::Retryable(reason))
        }
    }
}

/// The first [`MAX_RESPONSE`] bytes of the body, and whether there was more (not read).
async fn read_capped(mut response: reqwest::Response) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_RESPONSE - out.len();
        if chunk.len() > room {
            out.extend_from_slice(&chunk[..room]);
            return Ok((out, true));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, false))
}

/// reqwest's errors embed the URL (which may carry credentials); we print our redacted one.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s = format!("{s}: {inner}");
        source = inner.source();
    }
    s.replace(" ()", "").trim().to_string()
}

/// The body as JSON when it is JSON, as a JSON string otherwise, `null` when empty: the return
/// value must always be valid JSON, or Node's `QueueEvents` stops on the `completed` event.
fn body_value(body: &[u8]) -> serde_json::Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::body_value;

    #[test]
    fn bodies_always_become_json() {
        assert_eq!(body_value(b"{\"a\":1}"), serde_json::json!({"a": 1}));
        assert_eq!(body_value(b"plain text"), serde_json::json!("plain text"));
        assert_eq!(body_value(b"  \n"), serde_json::Value::Null);
    }
}
