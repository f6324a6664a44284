//! Bull's job options (`opts` JSON in the job hash): written for our adds, read back (from any
//! producer, so untrusted) for retries and retention.

use serde_json::{json, Map, Value};

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
    if let Some(p) = spec.priority.filter(|p| *p > 0) {
        o.insert("priority".into(), json!(p));
    }
    if let Some(id) = &spec.job_id {
        o.insert("jobId".into(), json!(id));
    }
    // Our `Backoff` serializes as `{type, delay}`, the shape Bull reads.
    if let Some(b) = spec.backoff {
        o.insert(
            "backoff".into(),
            serde_json::to_value(b).unwrap_or(Value::Null),
        );
    }
    if let Some(r) = spec.remove_on_complete {
        o.insert("removeOnComplete".into(), retention_json(r));
    }
    if let Some(r) = spec.remove_on_fail {
        o.insert("removeOnFail".into(), retention_json(r));
    }
    Value::Object(o)
}

fn retention_json(r: Retention) -> Value {
    match r {
        Retention::KeepAll => json!(false),
        Retention::RemoveAll => json!(true),
        Retention::Keep { count, age } => {
            let mut o = Map::new();
            if let Some(c) = count {
                o.insert("count".into(), json!(c));
            }
            if let Some(a) = age {
                o.insert("age".into(), json!(a.as_secs()));
            }
            Value::Object(o)
        }
    }
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

/// Bull's delay before the next run after `attempts_made` failed runs; `None` = retry now.
/// A number is a fixed delay; `{type, delay}` is `fixed` or `exponential`
/// (`(2^attemptsMade - 1) · delay`, Bull's formula). Unknown strategies (custom ones of a Node
/// worker) retry at once.
pub(super) fn backoff_ms(backoff: &Value, attempts_made: u32) -> Option<u64> {
    let (kind, delay) = match backoff {
        Value::Number(n) => ("fixed", n.as_u64()?),
        Value::Object(o) => (
            o.get("type").and_then(Value::as_str).unwrap_or(""),
            o.get("delay").and_then(Value::as_u64).unwrap_or(0),
        ),
        _ => return None,
    };
    // Past ten years the score (ms · 4096) leaves what a double holds exactly.
    let max = 10 * 365 * 24 * 3600 * 1000u64;
    let ms = match kind {
        "fixed" => delay,
        "exponential" => {
            let factor = 2u64.saturating_pow(attempts_made.min(62)).saturating_sub(1);
            delay.saturating_mul(factor)
        }
        _ => return None,
    };
    (ms > 0).then_some(ms.min(max))
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

    #[test]
    fn bull_backoff_formulas() {
        let exp = json!({"type": "exponential", "delay": 100});
        assert_eq!(backoff_ms(&exp, 1), Some(100));
        assert_eq!(backoff_ms(&exp, 2), Some(300));
        assert_eq!(backoff_ms(&exp, 3), Some(700));
        assert_eq!(backoff_ms(&json!(250), 3), Some(250));
        assert_eq!(
            backoff_ms(&json!({"type": "fixed", "delay": 50}), 9),
            Some(50)
        );
        assert_eq!(backoff_ms(&json!({"type": "mine"}), 1), None);
        assert_eq!(backoff_ms(&Value::Null, 1), None);
        assert!(backoff_ms(&json!({"type": "exponential", "delay": u64::MAX}), 60).is_some());
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
