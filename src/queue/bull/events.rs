//! Bull's pub/sub messages as the events cronq's SSE stream serves for every queue: the same
//! names and fields a BullMQ queue's event stream has, so the dashboard and API clients need
//! no second shape. Pure mapping: the reader of a Bull queue's events is `reader.rs`.
//!
//! Mapping (channel after `<prefix>:<queue>:` → event and fields):
//! - `waiting@…` id → `waiting {jobId}`; `active@…` id → `active {jobId, prev: waiting}`;
//!   `stalled@…` id → `stalled {jobId}`; `duplicated@…` id → `duplicated {jobId}`;
//! - `progress` `{"jobId","progress"}` (or Bull 3's `id,progress`) → `progress {jobId, data}`;
//! - `completed` `{"jobId","val"}` → `completed {jobId, returnvalue, prev: active}`;
//! - `failed` `{"jobId","val"}` → `failed {jobId, failedReason, prev: active}`;
//! - `delayed` the next due time (ms) → `delayed {delay}` (Bull names no job);
//! - `paused` / `resumed` → the event of that name.
//!
//! Anything a foreign producer published that does not read so is skipped (logged at debug).

use std::collections::BTreeMap;

/// `name` (the channel after the queue's base) and its payload as an event, or `None` for a
/// channel that has no event or a payload that does not read.
pub(super) fn to_event(name: &str, payload: &str) -> Option<(String, BTreeMap<String, String>)> {
    let mut fields = BTreeMap::new();
    let (channel, _token) = name.split_once('@').unwrap_or((name, ""));
    let event = match channel {
        "waiting" | "active" | "stalled" | "duplicated" => {
            if payload.is_empty() {
                return None;
            }
            fields.insert("jobId".into(), payload.to_string());
            if channel == "active" {
                fields.insert("prev".into(), "waiting".into());
            }
            channel
        }
        "progress" => {
            let (id, data) = match serde_json::from_str::<serde_json::Value>(payload) {
                Ok(v) => (id_of(&v)?, v.get("progress")?.to_string()),
                // Bull 3's older form: `<id>,<progress JSON>`.
                Err(_) => {
                    let (id, data) = payload.split_once(',')?;
                    (id.to_string(), data.to_string())
                }
            };
            fields.insert("jobId".into(), id);
            fields.insert("data".into(), data);
            "progress"
        }
        "completed" | "failed" => {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(payload) else {
                tracing::debug!(channel = %channel, "a Bull event payload is not JSON; skipped");
                return None;
            };
            fields.insert("jobId".into(), id_of(&v)?);
            // Bull sends the return value as JSON text (a string) and the reason as a string.
            let val = match v.get("val") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "null".into(),
            };
            let field = if channel == "completed" {
                "returnvalue"
            } else {
                "failedReason"
            };
            fields.insert(field.into(), val);
            fields.insert("prev".into(), "active".into());
            channel
        }
        "delayed" => {
            fields.insert("delay".into(), due_ms(payload)?.to_string());
            "delayed"
        }
        "paused" | "resumed" => channel,
        _ => return None,
    };
    Some((event.to_string(), fields))
}

/// A job id from a payload's `jobId` (a string, or a number from older producers).
fn id_of(v: &serde_json::Value) -> Option<String> {
    match v.get("jobId")? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The due time in a `delayed` announcement (ms; Bull may send a fraction).
pub(super) fn due_ms(payload: &str) -> Option<u64> {
    let v: f64 = payload.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| v.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::{due_ms, to_event};

    #[test]
    fn bull_messages_map_to_bullmq_event_shapes() {
        let (e, f) = to_event("active@abc", "7").unwrap();
        assert_eq!(
            (e.as_str(), f["jobId"].as_str(), f["prev"].as_str()),
            ("active", "7", "waiting")
        );
        let (e, f) = to_event("completed", r#"{"jobId":"7","val":"{\"ok\":1}"}"#).unwrap();
        assert_eq!(
            (e.as_str(), f["returnvalue"].as_str()),
            ("completed", "{\"ok\":1}")
        );
        let (e, f) = to_event("failed", r#"{"jobId":8,"val":"boom"}"#).unwrap();
        assert_eq!(
            (e.as_str(), f["jobId"].as_str(), f["failedReason"].as_str()),
            ("failed", "8", "boom")
        );
        let (e, f) = to_event("progress", r#"{"jobId":"7","progress":{"p":50}}"#).unwrap();
        assert_eq!((e.as_str(), f["data"].as_str()), ("progress", "{\"p\":50}"));
        let (_, f) = to_event("progress", "7,42").unwrap();
        assert_eq!((f["jobId"].as_str(), f["data"].as_str()), ("7", "42"));
        assert_eq!(
            to_event("delayed", "1700000000123.5").unwrap().1["delay"],
            "1700000000124"
        );
        assert_eq!(to_event("paused", "paused").unwrap().0, "paused");
        assert_eq!(to_event("waiting@", "3").unwrap().1["jobId"], "3");
    }

    #[test]
    fn unreadable_payloads_are_skipped() {
        assert!(to_event("completed", "not json").is_none());
        assert!(to_event("failed", r#"{"val":"no id"}"#).is_none());
        assert!(to_event("progress", "no comma").is_none());
        assert!(to_event("waiting@t", "").is_none());
        assert!(to_event("drained", "").is_none());
        assert!(due_ms("-5").is_none());
        assert!(due_ms("NaN").is_none());
    }
}
