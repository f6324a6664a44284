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

use bullmq::Job;

use super::RedisStore;
use crate::queue::error::Error;

/// What a retry needs, read leniently from stored `opts`.
#[derive(Debug, PartialEq)]
pub(crate) struct RetryOpts {
    /// Attempts in all (BullMQ's `attempts`).
    attempts: u64,
    /// Base delay (ms) and whether it doubles per attempt.
    backoff: Option<(u64, bool)>,
}

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

impl RetryOpts {
    /// The retry options in `opts` (stored JSON), each read on its own; `None` when there are
    /// no attempts to speak of.
    pub(crate) fn read(opts: &str) -> Option<RetryOpts> {
        let v: serde_json::Value = serde_json::from_str(opts).ok()?;
        let attempts = number(v.get("attempts")?)?;
        // BullMQ: a number is a fixed delay; an object has `type` and `delay`. An unknown
        // type is `guard.rs`'s business (it fails such a job naming the type).
        let backoff = match v.get("backoff") {
            Some(b @ serde_json::Value::Number(_)) => number(b).map(|d| (d, false)),
            Some(serde_json::Value::Object(b)) => {
                let delay = b.get("delay").and_then(number).unwrap_or(0);
                match b.get("type").and_then(|t| t.as_str()) {
                    Some("fixed") => Some((delay, false)),
                    Some("exponential") => Some((delay, true)),
                    _ => None,
                }
            }
            _ => None,
        };
        Some(RetryOpts { attempts, backoff })
    }

    /// The delay before attempt `attempt + 1` (after `attempt` made), as BullMQ computes it.
    fn delay(&self, made: u64) -> u64 {
        match self.backoff {
            Some((d, false)) => d,
            Some((d, true)) => d.saturating_mul(2u64.saturating_pow(made.saturating_sub(1) as u32)),
            None => 0,
        }
    }
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
        let Some(retry) = RetryOpts::read(&String::from_utf8_lossy(&opts)) else {
            return Ok(false);
        };
        let made = u64::from(job.attempts_made()) + 1;
        if made >= retry.attempts {
            return Ok(false);
        }
        let delay = retry.delay(made);
        let moved = if delay > 0 {
            job.move_to_delayed(crate::queue::consumer::now_ms() + delay)
                .await
        } else {
            job.move_to_wait(None).await.map(|_| ())
        };
        moved.map_err(|e| Error::engine(queue, e))?;
        // Both moves skip the attempt count the worker's retry scripts add.
        super::finish::count_attempt(self, queue, job.id()).await;
        tracing::info!(queue, job_id = %job.id().escape_debug(), attempt = made, attempts = retry.attempts, delay_ms = delay,
            "retrying by the job's stored options (the engine could not parse them whole)");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::RetryOpts;

    #[test]
    fn each_option_is_read_on_its_own_as_node_would() {
        let cases = [
            (
                r#"{"attempts":3,"backoff":{"type":"fixed","delay":1000.5}}"#,
                Some((3, Some((1001, false)))),
            ),
            (
                r#"{"attempts":"5","backoff":{"type":"exponential","delay":"200"}}"#,
                Some((5, Some((200, true)))),
            ),
            (
                r#"{"attempts":4,"backoff":250}"#,
                Some((4, Some((250, false)))),
            ),
            (
                r#"{"attempts":2.4,"backoff":{"type":"fixed","delay":-3}}"#,
                Some((2, Some((0, false)))),
            ),
            (r#"{"backoff":250}"#, None),
            ("not json", None),
        ];
        for (opts, want) in cases {
            let got = RetryOpts::read(opts).map(|r| (r.attempts, r.backoff));
            assert_eq!(got, want, "{opts}");
        }
        let exp = RetryOpts {
            attempts: 5,
            backoff: Some((100, true)),
        };
        assert_eq!((exp.delay(1), exp.delay(2), exp.delay(3)), (100, 200, 400));
    }
}
