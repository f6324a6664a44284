//! Job options stored as BullMQ writes them (`opts` JSON: `attempts`, `delay`, `priority`,
//! `backoff: {type, delay}`, `jobId`, `removeOnComplete`, `removeOnFail`), so the API and the
//! dashboard show the same shape whatever the store, and read back when a job finishes.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::queue::job_opts::{insert_common, RetentionForm};
use crate::queue::retry::{backoff_from_json, Curve, RetryPolicy};
use crate::queue::{job::JobSpec, job::Retention};

/// The `opts` JSON of `spec`.
pub(super) fn to_json(spec: &JobSpec) -> Value {
    let mut o = Map::new();
    o.insert("attempts".into(), json!(spec.attempts.unwrap_or(0)));
    if let Some(d) = spec.delay.filter(|d| !d.is_zero()) {
        o.insert("delay".into(), json!(d.as_millis() as u64));
    }
    // BullMQ's shape, so the API and the dashboard show the same whatever the store.
    insert_common(&mut o, spec, RetentionForm::BullMq);
    Value::Object(o)
}

/// The retention under `key` (`removeOnComplete` / `removeOnFail`), when the job says.
pub(super) fn retention(opts: &Value, key: &str) -> Option<Retention> {
    match opts.get(key)? {
        Value::Bool(true) => Some(Retention::RemoveAll),
        Value::Bool(false) => Some(Retention::KeepAll),
        Value::Number(n) => Some(Retention::Keep {
            count: Some(n.as_u64()? as usize),
            age: None,
        }),
        Value::Object(o) => Some(Retention::Keep {
            count: o.get("count").and_then(Value::as_u64).map(|c| c as usize),
            age: o
                .get("age")
                .and_then(Value::as_u64)
                .map(Duration::from_secs),
        }),
        _ => None,
    }
}

/// The job's retry policy: `attempts` as stored with the job, its `backoff` (`{type, delay}`,
/// or a bare number meaning fixed), an exponential one growing as BullMQ grows it.
pub(super) fn retry(max_attempts: u32, opts: &Value) -> RetryPolicy {
    let backoff = opts.get("backoff").and_then(backoff_from_json);
    RetryPolicy::new(max_attempts, backoff, Curve::BullMq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Backoff;

    #[test]
    fn options_round_trip() {
        let mut spec = JobSpec::new("n", json!({}));
        spec.backoff = Some(Backoff::Exponential(Duration::from_millis(300)));
        spec.remove_on_complete = Some(Retention::Keep {
            count: Some(10),
            age: None,
        });
        spec.remove_on_fail = Some(Retention::Keep {
            count: None,
            age: Some(Duration::from_secs(3600)),
        });
        let o = to_json(&spec);
        assert_eq!(o["attempts"], 0);
        assert_eq!(o["backoff"], json!({"type": "exponential", "delay": 300}));
        assert_eq!(
            retry(3, &o),
            RetryPolicy::new(3, spec.backoff, Curve::BullMq)
        );
        assert_eq!(retention(&o, "removeOnComplete"), spec.remove_on_complete);
        assert_eq!(retention(&o, "removeOnFail"), spec.remove_on_fail);
        assert_eq!(
            retention(&json!({"removeOnFail": true}), "removeOnFail"),
            Some(Retention::RemoveAll)
        );
        let fixed = Some(Backoff::Fixed(Duration::from_millis(50)));
        assert_eq!(
            retry(2, &json!({"backoff": 50})),
            RetryPolicy::new(2, fixed, Curve::BullMq)
        );
    }
}
