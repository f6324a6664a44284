//! Retry options read one by one, leniently, as BullMQ's Node worker reads them.
//!
//! The engine parses a job's `opts` as one strict structure: a backoff delay that is not a
//! non-negative integer (`delay: 1000.5`, jitter computed with `Math.random()`), `attempts:
//! "5"` as a string — and the whole `opts` silently becomes the defaults, so the job loses all
//! its retries and fails at the first error. Node reads each option on its own and does
//! arithmetic on whatever is there: such a job is retried. So when a job that the engine saw
//! with no `attempts` fails with a retryable error, cronq reads the stored `opts` itself, each
//! field on its own (numbers rounded, numeric strings parsed), and when attempts remain it
//! moves the job to `delayed` (or `wait`) with the job's token, as the worker's retry does.
//! One `HGET` on that failure path only; a job whose `opts` the engine read is untouched.

use std::time::Duration;

use bullmq::Job;

use super::RedisStore;
use crate::queue::error::Error;
use crate::queue::job::Backoff;
use crate::queue::retry::{AfterFailure, Curve, RetryPolicy};

/// A JSON number or numeric string as a non-negative integer (rounded), as Node's arithmetic
/// would use it.
fn number(v: &serde_json::Value) -> Option<u64> {
    let f = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (f.is_finite() && f >= 0.0).then(|| f.round() as u64)
}

/// The retry policy in `opts` (stored JSON), each option read on its own; `None` when there
/// are no attempts to speak of.
pub(crate) fn read_policy(opts: &str) -> Option<RetryPolicy> {
    let v: serde_json::Value = serde_json::from_str(opts).ok()?;
    let attempts = u32::try_from(number(v.get("attempts")?)?).unwrap_or(u32::MAX);
    // BullMQ: a number is a fixed delay; an object has `type` and `delay`. An unknown type is
    // `guard.rs`'s business (it fails such a job naming the type).
    let ms = Duration::from_millis;
    let backoff = match v.get("backoff") {
        Some(b @ serde_json::Value::Number(_)) => number(b).map(|d| Backoff::Fixed(ms(d))),
        Some(serde_json::Value::Object(b)) => {
            let delay = ms(b.get("delay").and_then(number).unwrap_or(0));
            match b.get("type").and_then(|t| t.as_str()) {
                Some("fixed") => Some(Backoff::Fixed(delay)),
                Some("exponential") => Some(Backoff::Exponential(delay)),
                _ => None,
            }
        }
        _ => None,
    };
    Some(RetryPolicy::new(attempts, backoff, Curve::BullMq))
}

impl RedisStore {
    /// Retries `job` of `queue` by its stored `opts` when the engine dropped them (see the
    /// module doc): `Ok(true)` when it was moved (the engine must touch it no further),
    /// `Ok(false)` when the engine's own handling stands.
    pub(crate) async fn retry_by_stored_opts(&self, queue: &str, job: &Job) -> Result<bool, Error> {
        if job.opts().attempts.is_some() || job.token().is_none() {
            return Ok(false);
        }
        let raw = self.raw_fields(queue, job.id(), &["opts"]).await?;
        let Some(opts) = raw.into_iter().next().flatten() else {
            return Ok(false);
        };
        let Some(policy) = read_policy(&String::from_utf8_lossy(&opts)) else {
            return Ok(false);
        };
        let made = job.attempts_made() + 1;
        let delay = match policy.after_failure(made) {
            AfterFailure::GiveUp => return Ok(false),
            AfterFailure::RetryIn(d) => d.as_millis() as u64,
        };
        let moved = if delay > 0 {
            job.move_to_delayed(crate::queue::consumer::now_ms() + delay)
                .await
        } else {
            job.move_to_wait(None).await.map(|_| ())
        };
        moved.map_err(|e| Error::engine(queue, e))?;
        // Both moves skip the attempt count the worker's retry scripts add.
        super::finish::count_attempt(self, queue, job.id()).await;
        tracing::info!(queue, job_id = %job.id().escape_debug(), attempt = made, delay_ms = delay,
            "retrying by the job's stored options (the engine could not parse them whole)");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_option_is_read_on_its_own_as_node_would() {
        let ms = Duration::from_millis;
        let policy = |attempts, backoff| Some(RetryPolicy::new(attempts, backoff, Curve::BullMq));
        let cases = [
            (
                r#"{"attempts":3,"backoff":{"type":"fixed","delay":1000.5}}"#,
                policy(3, Some(Backoff::Fixed(ms(1001)))),
            ),
            (
                r#"{"attempts":"5","backoff":{"type":"exponential","delay":"200"}}"#,
                policy(5, Some(Backoff::Exponential(ms(200)))),
            ),
            (
                r#"{"attempts":4,"backoff":250}"#,
                policy(4, Some(Backoff::Fixed(ms(250)))),
            ),
            (
                r#"{"attempts":2.4,"backoff":{"type":"fixed","delay":-3}}"#,
                policy(2, Some(Backoff::Fixed(ms(0)))),
            ),
            (r#"{"backoff":250}"#, None),
            ("not json", None),
        ];
        for (opts, want) in cases {
            assert_eq!(read_policy(opts), want, "{opts}");
        }
    }
}
