//! The one retry rule: after a failed attempt, whether the job runs again, and after how long.
//!
//! Every store applies it when it writes a retryable failure (`redis::finish` when the engine's
//! own write failed, `bull::finish`, `embedded::finish`), `redis::guard` asks it whether a
//! custom backoff would have retried, and the worker's log line asks it whether to say
//! `will_retry`. The rule is BullMQ's: attempt `n` (1-based) is retried while `n < attempts`
//! (so `attempts` 0 and 1 both mean one run), after the job's backoff for that attempt, or at
//! once without one. The one thing the layouts disagree on is how an exponential backoff grows,
//! so that is a [`Curve`] of the policy rather than a second rule.

use std::time::Duration;

use serde_json::Value;

use super::job::{Backoff, MAX_JOB_DURATION};

/// How an exponential backoff grows with the attempt number `n` (1-based) in each layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// BullMQ (and the embedded store, which follows it): `delay · 2^(n-1)`: 1, 2, 4, … delays.
    BullMq,
    /// Bull 3/4: `delay · (2^n - 1)`: 1, 3, 7, … delays.
    Bull,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Run again once this delay has passed (zero: at once, back to `wait`).
    RetryIn(Duration),
    /// No attempt left: the job fails for good.
    GiveUp,
}

/// A job's retry policy, read from its stored options by its store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    attempts: u32,
    backoff: Option<Backoff>,
    curve: Curve,
}

/// The longest retry delay: the longest a job option may carry (ten years).
const MAX_DELAY: Duration = MAX_JOB_DURATION;

impl RetryPolicy {
    /// `attempts` runs in all (0 counts as 1), `backoff` between them, growing along `curve`.
    pub fn new(attempts: u32, backoff: Option<Backoff>, curve: Curve) -> RetryPolicy {
        RetryPolicy {
            attempts,
            backoff,
            curve,
        }
    }

    /// Whether attempt `attempt` (1-based), failing with a retryable error, runs again.
    pub fn retries(&self, attempt: u32) -> bool {
        retries(attempt, self.attempts)
    }

    /// What follows the failure of attempt `attempt` (1-based).
    pub fn after_failure(&self, attempt: u32) -> AfterFailure {
        if !self.retries(attempt) {
            return AfterFailure::GiveUp;
        }
        AfterFailure::RetryIn(self.delay_after(attempt))
    }

    /// The backoff after attempt `attempt` failed (zero without a backoff).
    fn delay_after(&self, attempt: u32) -> Duration {
        let delay = match (&self.backoff, self.curve) {
            (None, _) => Duration::ZERO,
            (Some(Backoff::Fixed(d)), _) => *d,
            (Some(Backoff::Exponential(d)), Curve::BullMq) => {
                d.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            }
            (Some(Backoff::Exponential(d)), Curve::Bull) => {
                d.saturating_mul(2u32.saturating_pow(attempt).saturating_sub(1))
            }
        };
        delay.min(MAX_DELAY)
    }
}

/// The rule itself: attempt `attempt` (1-based) of a job allowed `attempts` runs is retried
/// while attempts remain (`attempts` 0 counts as 1). For callers that know only the count,
/// such as the worker's "job failed" line (`will_retry`).
pub fn retries(attempt: u32, attempts: u32) -> bool {
    attempt < attempts
}

/// A stored `backoff` option as producers write it: a number (a fixed delay in ms) or
/// `{"type": "fixed"|"exponential", "delay": ms}`. `None` for anything else, which retries at
/// once, as Node's worker does without a strategy function of that name.
pub fn backoff_from_json(value: &Value) -> Option<Backoff> {
    match value {
        Value::Number(n) => Some(Backoff::Fixed(Duration::from_millis(n.as_u64()?))),
        Value::Object(o) => {
            let delay = Duration::from_millis(o.get("delay").and_then(Value::as_u64).unwrap_or(0));
            match o.get("type").and_then(Value::as_str)? {
                "fixed" => Some(Backoff::Fixed(delay)),
                "exponential" => Some(Backoff::Exponential(delay)),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const S: Duration = Duration::from_secs(1);

    fn delays(p: &RetryPolicy) -> Vec<AfterFailure> {
        (1..=4).map(|n| p.after_failure(n)).collect()
    }

    #[test]
    fn attempts_zero_and_one_both_mean_one_run() {
        for attempts in [0, 1] {
            let p = RetryPolicy::new(attempts, Some(Backoff::Fixed(S)), Curve::BullMq);
            assert_eq!(
                p.after_failure(1),
                AfterFailure::GiveUp,
                "attempts {attempts}"
            );
            assert!(!p.retries(1));
        }
    }

    #[test]
    fn the_last_attempt_gives_up_and_the_others_retry() {
        let p = RetryPolicy::new(3, None, Curve::BullMq);
        assert_eq!(
            delays(&p),
            [
                AfterFailure::RetryIn(Duration::ZERO),
                AfterFailure::RetryIn(Duration::ZERO),
                AfterFailure::GiveUp,
                AfterFailure::GiveUp,
            ]
        );
    }

    #[test]
    fn exponential_grows_as_each_layout_grows_it() {
        let bullmq = RetryPolicy::new(5, Some(Backoff::Exponential(S)), Curve::BullMq);
        let bull = RetryPolicy::new(5, Some(Backoff::Exponential(S)), Curve::Bull);
        let secs = |p: &RetryPolicy| -> Vec<u64> {
            delays(p)
                .into_iter()
                .map(|d| match d {
                    AfterFailure::RetryIn(d) => d.as_secs(),
                    AfterFailure::GiveUp => u64::MAX,
                })
                .collect()
        };
        assert_eq!(secs(&bullmq), [1, 2, 4, 8]);
        assert_eq!(secs(&bull), [1, 3, 7, 15]);
        let fixed = RetryPolicy::new(5, Some(Backoff::Fixed(S)), Curve::Bull);
        assert_eq!(secs(&fixed), [1, 1, 1, 1]);
    }

    #[test]
    fn a_huge_exponent_is_capped_not_wrapped() {
        let p = RetryPolicy::new(u32::MAX, Some(Backoff::Exponential(S)), Curve::Bull);
        assert_eq!(p.after_failure(200), AfterFailure::RetryIn(MAX_DELAY));
    }

    #[test]
    fn stored_backoffs_read_as_producers_write_them() {
        let ms = Duration::from_millis;
        assert_eq!(
            backoff_from_json(&json!(500)),
            Some(Backoff::Fixed(ms(500)))
        );
        assert_eq!(
            backoff_from_json(&json!({"type": "exponential", "delay": 100})),
            Some(Backoff::Exponential(ms(100)))
        );
        assert_eq!(
            backoff_from_json(&json!({"type": "fixed"})),
            Some(Backoff::Fixed(Duration::ZERO))
        );
        for other in [
            json!({"type": "jitter", "delay": 1}),
            json!("5"),
            json!(-1),
            json!(null),
        ] {
            assert_eq!(backoff_from_json(&other), None, "{other}");
        }
    }
}
