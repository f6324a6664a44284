//! What the consumer checks about a fetched job before its handler runs, and after it fails.
//!
//! The engine decodes every field of a job hash lossily (`String::from_utf8_lossy`) and turns a
//! `data` field that is not JSON into `null`, without a word. A job written by a foreign
//! producer is untrusted, so before running one cronq makes sure it runs what was stored:
//! - an id that came back with U+FFFD may not be the stored id: `quarantine.rs` moves it to
//!   `failed` when it is not valid UTF-8 (the engine could never finish it);
//! - a job with no name, data or timestamp has no hash at all (`moveToActive` created a stub):
//!   it fails saying so, instead of "no handler for email/";
//! - a name or data that came back with U+FFFD is re-read as bytes: if the stored bytes are not
//!   UTF-8 the job fails naming the field, rather than handing rewritten data to a handler;
//! - data that came back `null` is re-read: text that is not JSON fails with the parse error.
//!
//! After a failed attempt: a retry whose backoff type the engine does not know (BullMQ's custom
//! strategies live in the Node worker's code) would be retried at once, silently. It fails for
//! good instead, with a reason naming the type and the fix.

use bullmq::Job;

use super::keys::QueueKeys;
use super::RedisStore;

/// What to do with a fetched job.
pub(crate) enum Verdict {
    /// Run it with this data (or the reason its data is unusable, for the handler to report).
    Run(Result<serde_json::Value, String>),
    /// Fail it without running, for this reason.
    Fail(String),
    /// Do not run it, and do not let the engine touch it: it was moved to `failed` already, or
    /// Redis could not be asked (its lock expires and stalled recovery brings it back).
    Skip,
}

/// Checks `job` of `queue` before its handler runs.
pub(crate) async fn before_run(store: &RedisStore, queue: &str, job: &Job) -> Verdict {
    let id = job.id();
    if id.contains(char::REPLACEMENT_CHARACTER) {
        match store.quarantine(queue, job.token(), None).await {
            Ok(moved) => {
                if moved
                    .iter()
                    .any(|q| String::from_utf8_lossy(&q.raw_id) == id)
                {
                    return Verdict::Skip;
                }
                // A UTF-8 id that really contains U+FFFD: nothing was rewritten.
            }
            Err(e) => {
                tracing::warn!(queue, job_id = %id.escape_debug(), error = %e,
                    "could not check a job id that came back lossy; leaving it to stalled recovery");
                return Verdict::Skip;
            }
        }
    }
    let data = job.data();
    if job.name().is_empty() && job.timestamp() == 0 && data.is_null() {
        return Verdict::Fail(format!(
            "job {} in queue {queue} has no data hash (deleted, or its id was pushed by something \
             other than a BullMQ producer); moved to failed",
            id.escape_debug()
        ));
    }
    if !data.is_null()
        && !job.name().contains(char::REPLACEMENT_CHARACTER)
        && !has_replacement(data)
    {
        return Verdict::Run(Ok(data.clone()));
    }
    let raw = match store.raw_fields(queue, id, &["name", "data"]).await {
        Ok(raw) => raw,
        Err(e) => {
            tracing::warn!(queue, job_id = %id.escape_debug(), error = %e,
                "could not re-read a job's fields; leaving it to stalled recovery");
            return Verdict::Skip;
        }
    };
    for (field, bytes) in ["name", "data"].iter().zip(&raw) {
        if let Some(Err(e)) = bytes.as_deref().map(std::str::from_utf8) {
            return Verdict::Fail(format!(
                "job {} in queue {queue}: field `{field}` is not valid UTF-8 (byte 0x{:02x} at \
                 offset {}); cronq hands job data to handlers as stored and will not guess: \
                 producers must store UTF-8 JSON",
                id.escape_debug(),
                bytes.as_deref().unwrap_or_default()[e.valid_up_to()],
                e.valid_up_to()
            ));
        }
    }
    if data.is_null() {
        if let Some(Some(text)) = raw
            .get(1)
            .map(|b| b.as_deref().map(String::from_utf8_lossy))
        {
            if text.trim() != "null" {
                // Text that parses after all (the engine read it otherwise) runs as parsed.
                return Verdict::Run(crate::queue::consumer::parse_data(&text));
            }
        }
    }
    Verdict::Run(Ok(data.clone()))
}

/// The reason a failed attempt that would be retried must fail for good instead, if any.
pub(crate) fn unsupported_backoff(job: &Job, reason: &str) -> Option<String> {
    let Some(bullmq::types::BackoffStrategy::Custom(kind)) = &job.opts().backoff else {
        return None;
    };
    // The last attempt keeps its reason.
    if !super::finish::retry_policy(job).retries(job.attempts_made() + 1) {
        return None;
    }
    Some(format!(
        "{reason} (not retried: backoff type {:?} is not supported by cronq, which would retry \
         at once; use \"fixed\" or \"exponential\", or run this queue on a Node worker that \
         defines the strategy)",
        kind.escape_debug().to_string()
    ))
}

/// Whether any string or key in `v` contains U+FFFD (what lossy decoding leaves).
fn has_replacement(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains(char::REPLACEMENT_CHARACTER),
        serde_json::Value::Array(a) => a.iter().any(has_replacement),
        serde_json::Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.contains(char::REPLACEMENT_CHARACTER) || has_replacement(v)),
        _ => false,
    }
}

impl RedisStore {
    /// Fields of a job hash as stored bytes (`None` for a missing field).
    pub(crate) async fn raw_fields(
        &self,
        queue: &str,
        id: &str,
        fields: &[&str],
    ) -> Result<Vec<Option<Vec<u8>>>, crate::queue::error::Error> {
        let k = QueueKeys::new(self.prefix(), queue);
        self.inner
            .conn
            .cmd(redis::cmd("HMGET").arg(k.job(id)).arg(fields))
            .await
            .map_err(|e| crate::queue::error::Error::engine(queue, e))
    }
}

#[cfg(test)]
mod tests {
    use super::has_replacement;

    #[test]
    fn replacement_is_found_in_strings_and_keys_only() {
        assert!(has_replacement(
            &serde_json::json!({"a": ["x", "b\u{fffd}"]})
        ));
        assert!(has_replacement(&serde_json::json!({"\u{fffd}": 1})));
        assert!(!has_replacement(
            &serde_json::json!({"a": [1, "ok"], "b": null})
        ));
    }
}
