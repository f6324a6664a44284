//! JSON log lines readable by two kinds of pipelines at once: Supercronic's (logrus: `time`,
//! lower-case `level`, `msg`, and on job lines `channel`, `iteration`, `job.command`,
//! `job.position`, `job.schedule`) and cronq's own (`timestamp`, `message`, `queue`, `job_id`,
//! …). Every line carries both spellings; only `level` cannot be both, so its case follows the
//! switch used: `-json` (Supercronic's flag) writes `info`, `LOG_FORMAT=json` keeps `INFO`, so
//! that neither kind of existing alert stops matching.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// cronq's field name → Supercronic's, for the fields job lines carry.
pub const SUPERCRONIC_ALIASES: &[(&str, &str)] = &[
    ("command", "job.command"),
    ("position", "job.position"),
    ("schedule", "job.schedule"),
];

/// Which case `level` is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelCase {
    /// `info`, as logrus writes it (`-json`).
    Lower,
    /// `INFO`, as cronq wrote it before (`LOG_FORMAT=json`).
    Upper,
}

/// The JSON event formatter (one object per line).
#[derive(Debug, Clone, Copy)]
pub struct JsonLines {
    /// The case of `level`.
    pub level: LevelCase,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // The hot path (every line a job prints): fields written straight out, no map.
        let mut fields = Fields(Vec::with_capacity(12));
        event.record(&mut fields);
        let meta = event.metadata();
        let level = match self.level {
            LevelCase::Lower => meta.level().as_str().to_ascii_lowercase(),
            LevelCase::Upper => meta.level().as_str().to_string(),
        };
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let time = match timestamp.split_once('.') {
            Some((secs, _)) => format!("{secs}Z"),
            None => timestamp.clone(),
        };
        let message = fields
            .0
            .iter()
            .position(|(k, _)| *k == "message")
            .map(|i| fields.0.swap_remove(i).1)
            .unwrap_or(Value::String(String::new()));
        // A crontab job line's Supercronic phrase (`telemetry/supercronic.rs`) is its `msg`;
        // `message` keeps cronq's own.
        let msg = fields
            .0
            .iter()
            .position(|(k, _)| *k == "msg")
            .map(|i| fields.0.swap_remove(i).1)
            .unwrap_or_else(|| message.clone());
        let mut line = String::with_capacity(512);
        line.push('{');
        let mut put = |key: &str, value: &Value| {
            if line.len() > 1 {
                line.push(',');
            }
            line.push_str(&Value::String(key.to_string()).to_string());
            line.push(':');
            line.push_str(&value.to_string());
        };
        put("time", &Value::String(time));
        put("timestamp", &Value::String(timestamp));
        put("level", &Value::String(level));
        put("msg", &msg);
        put("message", &message);
        for (key, value) in &fields.0 {
            put(key, value);
            if let Some((_, theirs)) = SUPERCRONIC_ALIASES.iter().find(|(ours, _)| ours == key) {
                put(theirs, value);
            }
        }
        put("target", &Value::String(meta.target().to_string()));
        line.push('}');
        writeln!(writer, "{line}")
    }
}

/// One log line as a JSON object: the event's fields, both spellings of time, level and
/// message, and Supercronic's names of the job fields next to cronq's.
pub fn object(
    mut fields: Map<String, Value>,
    level: &str,
    target: &str,
    case: LevelCase,
    now: chrono::DateTime<chrono::Utc>,
) -> Map<String, Value> {
    let message = fields
        .remove("message")
        .unwrap_or(Value::String(String::new()));
    for (ours, theirs) in SUPERCRONIC_ALIASES {
        if let Some(v) = fields.get(*ours) {
            let v = v.clone();
            fields.insert(theirs.to_string(), v);
        }
    }
    let level = match case {
        LevelCase::Lower => level.to_ascii_lowercase(),
        LevelCase::Upper => level.to_ascii_uppercase(),
    };
    // logrus writes RFC 3339 to the second; cronq's `timestamp` keeps microseconds.
    let timestamp = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // `2026-12-06T12:00:00.123456Z` → `2026-12-06T12:00:00Z`: formatted once per line.
    let time = match timestamp.split_once('.') {
        Some((secs, _)) => format!("{secs}Z"),
        None => timestamp.clone(),
    };
    fields.insert("time".into(), time.into());
    fields.insert("timestamp".into(), timestamp.into());
    fields.insert("level".into(), level.into());
    fields.insert("msg".into(), message.clone());
    fields.insert("message".into(), message);
    fields.insert("target".into(), target.into());
    fields
}

/// Collects an event's fields with their JSON types, in order.
struct Fields(Vec<(&'static str, Value)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), value.into()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push((field.name(), value.into()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.name(), value.into()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push((field.name(), value.into()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push((field.name(), value.into()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name(), format!("{value:?}").into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(case: LevelCase) -> Map<String, Value> {
        let fields = serde_json::json!({
            "message": "hello", "channel": "stdout", "iteration": 0, "position": 2,
            "command": "echo hello", "schedule": "*/5 * * * *", "queue": "cron",
        });
        let Value::Object(fields) = fields else {
            unreachable!()
        };
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T12:00:00.123456Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        object(fields, "INFO", "job.stdout", case, now)
    }

    #[test]
    fn job_lines_carry_supercronic_and_cronq_keys() {
        let l = line(LevelCase::Lower);
        assert_eq!(l["time"], "2026-12-06T12:00:00Z");
        assert_eq!(l["timestamp"], "2026-12-06T12:00:00.123456Z");
        assert_eq!(l["level"], "info");
        assert_eq!(l["msg"], "hello");
        assert_eq!(l["message"], "hello");
        assert_eq!(l["channel"], "stdout");
        assert_eq!(l["iteration"], 0);
        assert_eq!(l["job.command"], "echo hello");
        assert_eq!(l["job.position"], 2);
        assert_eq!(l["job.schedule"], "*/5 * * * *");
        assert_eq!(l["command"], "echo hello", "cronq's own key stays");
    }

    #[test]
    fn log_format_json_keeps_the_upper_case_level() {
        assert_eq!(line(LevelCase::Upper)["level"], "INFO");
    }
}
