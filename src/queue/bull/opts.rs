//! Bull's job options (`opts` JSON in the job hash): written for our adds, read back (from any
//! producer, so untrusted) for retries and retention.

use serde_json::{json, Map, Value};

use crate::queue::job_opts::{insert_common, RetentionForm};
use crate::queue::retry::{backoff_from_json, Curve, RetryPolicy};
use crate::queue::{job::JobSpec, job::Retention};

/// Retention as finish.lua takes it: (keep count, keep age s); -1 = no limit, count 0 = remove.
pub(super) type Keep = (i64, i64);

/// The `opts` JSON Bull's own `Queue.add` would write for `spec`.
pub(super) fn opts_json(spec: &JobSpec, now: u64) -> Value {
    let mut o = Map::new();
    o.insert("attempts".into(), json!(spec.attempts.unwrap_or(1).max(1)));
    o.insert(
        "delay".into(),
        json!(spec.delay.map(|d| d.as_millis() as u64).unwrap_or(0)),
    );
    o.insert("timestamp".into(), json!(now));
    insert_common(&mut o, spec, RetentionForm::Bull);
    Value::Object(o)
}

/// What a run needs from a stored `opts`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RunOpts {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The `backoff` option as written.
    pub backoff: Value,
    /// `removeOnComplete` as written (`Null` when absent).
    pub on_complete: Value,
    /// `removeOnFail` as written.
    pub on_fail: Value,
    /// `stackTraceLimit`, if any.
    pub stack_limit: Option<usize>,
}

/// Reads `opts` text; anything unreadable counts as Bull's defaults (one attempt, keep all).
pub(super) fn parse(text: Option<&str>) -> RunOpts {
    let v: Value = text
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    RunOpts {
        attempts: v
            .get("attempts")
            .and_then(Value::as_u64)
            .map(|a| a.clamp(1, u64::from(crate::queue::spec::MAX_ATTEMPTS)) as u32)
            .unwrap_or(1),
        backoff: v.get("backoff").cloned().unwrap_or(Value::Null),
        on_complete: v.get("removeOnComplete").cloned().unwrap_or(Value::Null),
        on_fail: v.get("removeOnFail").cloned().unwrap_or(Value::Null),
        stack_limit: v
            .get("stackTraceLimit")
            .and_then(Value::as_u64)
            .map(|n| n as usize),
    }
}

impl RunOpts {
    /// The job's retry policy: its `attempts` and `backoff`, an exponential one growing as
    /// Bull grows it (`(2^n - 1) · delay`). An unknown strategy (a custom one of a Node
    /// worker) retries at once, as Bull does without a function of that name.
    pub(super) fn retry(&self) -> RetryPolicy {
        RetryPolicy::new(self.attempts, backoff_from_json(&self.backoff), Curve::Bull)
    }
}

/// Retention from a stored option, else the consumer's default, as (count, age).
pub(super) fn keep(stored: &Value, default: Option<Retention>) -> Keep {
    match stored {
        Value::Bool(true) => (0, -1),
        Value::Bool(false) => (-1, -1),
        Value::Number(n) => (n.as_i64().unwrap_or(-1).max(-1), -1),
        Value::Object(o) => {
            let count = o.get("count").and_then(Value::as_i64).unwrap_or(-1);
            let age = o.get("age").and_then(Value::as_i64).unwrap_or(-1);
            // `{count: 0}` in Bull removes at once; a negative count keeps all.
            (count.max(-1), age.max(-1))
        }
        _ => match default {
            None | Some(Retention::KeepAll) => (-1, -1),
            Some(Retention::RemoveAll) => (0, -1),
            Some(Retention::Keep { count, age }) => (
                count.map(|c| c as i64).unwrap_or(-1),
                age.map(|a| a.as_secs() as i64).unwrap_or(-1),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::retry::AfterFailure;
    use std::time::Duration;

    #[test]
    fn retries_grow_as_bulls_do() {
        let opts = |backoff: Value| RunOpts {
            backoff,
            ..parse(Some(r#"{"attempts": 4}"#))
        };
        let exp = opts(json!({"type": "exponential", "delay": 100}));
        let ms = |n| match exp.retry().after_failure(n) {
            AfterFailure::RetryIn(d) => d.as_millis(),
            AfterFailure::GiveUp => 0,
        };
        assert_eq!([ms(1), ms(2), ms(3), ms(4)], [100, 300, 700, 0]);
        let custom = opts(json!({"type": "mine"})).retry();
        assert_eq!(
            custom.after_failure(1),
            AfterFailure::RetryIn(Duration::ZERO)
        );
    }

    #[test]
    fn retention_shapes() {
        assert_eq!(keep(&json!(true), None), (0, -1));
        assert_eq!(keep(&json!(false), Some(Retention::RemoveAll)), (-1, -1));
        assert_eq!(keep(&json!(5), None), (5, -1));
        assert_eq!(keep(&json!({"age": 60, "count": 2}), None), (2, 60));
        assert_eq!(keep(&Value::Null, Some(Retention::RemoveAll)), (0, -1));
    }

    #[test]
    fn unreadable_opts_are_defaults() {
        let o = parse(Some("not json"));
        assert_eq!(o.attempts, 1);
        assert_eq!(parse(Some(r#"{"attempts": 3}"#)).attempts, 3);
    }
}
