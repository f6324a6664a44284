//! A job's options as its producer stored them (BullMQ's `job.opts`), read as untrusted input:
//! whatever the stored text is, a job gets an object (empty when the text is not a JSON
//! object), never an error or a panic. BullMQ stores some options under short keys
//! (`de`, `kl`, `tm`, …); they are decoded to the names a Node processor reads
//! (`job.opts.deduplication`, `job.opts.keepLogs`, `job.opts.telemetry.metadata`), as BullMQ's
//! own `Job.fromJSON` does. Options cronq does not know are kept as they are.

use serde_json::{json, Map, Value};

use super::job::{JobSpec, Retention};

/// A job's options: a JSON object with BullMQ's long option names.
pub type JobOpts = Map<String, Value>;

/// BullMQ's short stored keys and the option names they stand for (the plain ones; `tm` and
/// `omc` go inside `telemetry`).
const SHORT_KEYS: [(&str, &str); 6] = [
    ("de", "deduplication"),
    ("fpof", "failParentOnFailure"),
    ("cpof", "continueParentOnFailure"),
    ("idof", "ignoreDependencyOnFailure"),
    ("kl", "keepLogs"),
    ("rdof", "removeDependencyOnFailure"),
];

/// Whose form a retention (`removeOnComplete` / `removeOnFail`) is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetentionForm {
    /// Bull 3/4 (`bull/`): a kept count or age always as `{count, age}`, age as given.
    Bull,
    /// BullMQ (the embedded file keeps BullMQ's shape): a count alone is a bare number, and an
    /// age is at least one second.
    BullMq,
}

/// `r` as a producer of `form` stores it: `true` (remove all), `false` (keep all), or what to
/// keep, with `age` in seconds.
pub(crate) fn retention_json(r: Retention, form: RetentionForm) -> Value {
    match (r, form) {
        (Retention::KeepAll, _) => json!(false),
        (Retention::RemoveAll, _) => json!(true),
        (
            Retention::Keep {
                count: Some(c),
                age: None,
            },
            RetentionForm::BullMq,
        ) => json!(c),
        (Retention::Keep { count, age }, _) => {
            let mut o = Map::new();
            if let Some(c) = count {
                o.insert("count".into(), json!(c));
            }
            if let Some(a) = age {
                let secs = match form {
                    RetentionForm::Bull => a.as_secs(),
                    RetentionForm::BullMq => a.as_secs().max(1),
                };
                o.insert("age".into(), json!(secs));
            }
            Value::Object(o)
        }
    }
}

/// Writes into `o` the options that cronq's own writers (Bull's job hash, the embedded file's
/// row) store alike for `spec`: `priority` when set, `jobId`, `backoff` as `{type, delay}`, and
/// the two retentions in `form`. Why one place: the writers differ only in `attempts`, `delay`
/// and the retention's form, which stay theirs.
pub(crate) fn insert_common(o: &mut JobOpts, spec: &JobSpec, form: RetentionForm) {
    if let Some(p) = spec.priority.filter(|p| *p > 0) {
        o.insert("priority".into(), json!(p));
    }
    if let Some(id) = &spec.job_id {
        o.insert("jobId".into(), json!(id));
    }
    // Our `Backoff` serializes as `{type, delay}`, the shape Bull and BullMQ read.
    if let Some(b) = spec.backoff {
        o.insert("backoff".into(), json!(b));
    }
    if let Some(r) = spec.remove_on_complete {
        o.insert("removeOnComplete".into(), retention_json(r, form));
    }
    if let Some(r) = spec.remove_on_fail {
        o.insert("removeOnFail".into(), retention_json(r, form));
    }
}

/// The options stored as `raw` (a job hash's `opts` field, a row's `opts` column).
pub(crate) fn decode(raw: &str) -> JobOpts {
    match serde_json::from_str::<Value>(raw) {
        Ok(value) => from_value(value),
        Err(_) => JobOpts::new(),
    }
}

/// The options in `value`, when it is an object (else none), with short keys decoded.
pub(crate) fn from_value(value: Value) -> JobOpts {
    let Value::Object(stored) = value else {
        return JobOpts::new();
    };
    let mut opts = JobOpts::new();
    let mut telemetry = JobOpts::new();
    for (key, value) in stored {
        match key.as_str() {
            "tm" => {
                telemetry.insert("metadata".into(), value);
            }
            "omc" => {
                telemetry.insert("omitContext".into(), value);
            }
            short => match SHORT_KEYS.iter().find(|(s, _)| *s == short) {
                Some((_, long)) => {
                    opts.insert((*long).into(), value);
                }
                None => {
                    opts.insert(key, value);
                }
            },
        }
    }
    if !telemetry.is_empty() {
        opts.insert("telemetry".into(), Value::Object(telemetry));
    }
    opts
}

/// The producer's trace context, as BullMQ's telemetry option stores it
/// (`opts.telemetry.metadata`: what the producer's context manager wrote; `bullmq-otel`
/// writes the W3C carrier as JSON text, `{"traceparent":"00-…","tracestate":"…"}`, and its
/// early versions the carrier object itself). `None` when absent; its form is the reader's
/// business (`telemetry::otel`).
pub fn telemetry_metadata(opts: &JobOpts) -> Option<&Value> {
    opts.get("telemetry")?.get("metadata")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each producer's form, as its own `Queue.add` writes it.
    #[test]
    fn retentions_are_written_in_each_producers_form() {
        use std::time::Duration;
        use RetentionForm::{Bull, BullMq};
        let count = Retention::Keep {
            count: Some(5),
            age: None,
        };
        let zero_age = Retention::Keep {
            count: None,
            age: Some(Duration::ZERO),
        };
        let cases = [
            (Retention::KeepAll, Bull, json!(false)),
            (Retention::RemoveAll, BullMq, json!(true)),
            (count, Bull, json!({"count": 5})),
            (count, BullMq, json!(5)),
            (zero_age, Bull, json!({"age": 0})),
            (zero_age, BullMq, json!({"age": 1})),
        ];
        for (r, form, want) in cases {
            assert_eq!(retention_json(r, form), want, "{r:?} in {form:?}");
        }
    }

    #[test]
    fn short_keys_are_decoded_and_unknown_options_kept() {
        let raw = r#"{"attempts":3,"backoff":{"type":"fixed","delay":10},"kl":5,"de":{"id":"x"},
            "tm":"{\"traceparent\":\"00-aa-bb-01\"}","omc":false,"custom":1}"#;
        let opts = decode(raw);
        assert_eq!(opts["attempts"], json!(3));
        assert_eq!(opts["keepLogs"], json!(5));
        assert_eq!(opts["deduplication"], json!({"id": "x"}));
        assert_eq!(opts["custom"], json!(1));
        assert_eq!(
            opts["telemetry"],
            json!({"metadata": "{\"traceparent\":\"00-aa-bb-01\"}", "omitContext": false})
        );
        assert_eq!(
            telemetry_metadata(&opts),
            Some(&json!("{\"traceparent\":\"00-aa-bb-01\"}"))
        );
        assert!(!opts.contains_key("tm") && !opts.contains_key("kl"));
    }

    #[test]
    fn anything_but_an_object_is_no_options() {
        for raw in ["", "null", "[1,2]", "\"x\"", "{not json", "7"] {
            assert!(decode(raw).is_empty(), "{raw}");
        }
        assert_eq!(telemetry_metadata(&decode(r#"{"attempts":1}"#)), None);
    }
}
