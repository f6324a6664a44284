//! cronq's own view of jobs: what a producer adds ([`JobSpec`]), what a handler runs
//! ([`ActiveJob`]) and how a run ends ([`Outcome`]). Nothing outside `src/queue/` sees the
//! engine's `Job` type.

use std::time::Duration;

use serde::Serialize;

/// How long to wait between attempts (BullMQ's `backoff` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "delay", rename_all = "lowercase")]
pub enum Backoff {
    /// The same delay before every retry.
    Fixed(#[serde(with = "millis")] Duration),
    /// `delay · 2^(attempt-1)`.
    Exponential(#[serde(with = "millis")] Duration),
}

impl Backoff {
    /// Parses `exponential:5000` / `fixed:1000` (milliseconds) or with a unit (`fixed:2s`).
    pub fn parse(text: &str) -> Result<Backoff, String> {
        let (kind, delay) = text.split_once(':').ok_or_else(|| {
            format!(
                "backoff {text:?} must be KIND:DELAY, e.g. \"exponential:5000\" or \"fixed:1s\""
            )
        })?;
        let delay =
            parse_millis_or_duration(delay).map_err(|e| format!("backoff {text:?}: delay {e}"))?;
        match kind {
            "fixed" => Ok(Backoff::Fixed(delay)),
            "exponential" => Ok(Backoff::Exponential(delay)),
            other => Err(format!(
                "backoff kind {other:?} is unknown: use \"fixed\" or \"exponential\""
            )),
        }
    }
}

/// The longest delay, backoff or age a job option may carry: ten years. Past it, `now + delay`
/// in milliseconds leaves the range that Redis scores (doubles) and signed 64-bit timestamps
/// hold exactly, and a huge value wrapped to a negative one and ran the job at once.
pub(crate) const MAX_JOB_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `d`, or why it is longer than [`MAX_JOB_DURATION`].
pub fn check_job_duration(d: Duration) -> Result<Duration, String> {
    if d > MAX_JOB_DURATION {
        return Err(format!(
            "{} ms is too long: at most {} ms (10 years)",
            d.as_millis(),
            MAX_JOB_DURATION.as_millis()
        ));
    }
    Ok(d)
}

/// A bare number is milliseconds (BullMQ's unit); otherwise a humantime duration (`5s`, `2m`).
/// At most [`MAX_JOB_DURATION`].
pub fn parse_millis_or_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let d = match text.parse::<u64>() {
        Ok(ms) => Duration::from_millis(ms),
        Err(_) => humantime::parse_duration(text).map_err(|e| {
            format!("{text:?} is not a duration ({e}): use milliseconds or e.g. \"5s\"")
        })?,
    };
    check_job_duration(d)
}

mod millis {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

/// What to keep of finished jobs (BullMQ's `removeOnComplete` / `removeOnFail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Keep every finished job.
    KeepAll,
    /// Remove the job as soon as it finishes.
    RemoveAll,
    /// Keep the newest `count` and/or those younger than `age` (whole seconds in Redis).
    Keep {
        /// Keep at most this many.
        count: Option<usize>,
        /// Keep only those finished within this age.
        age: Option<Duration>,
    },
}

/// A job to add: name, JSON data and BullMQ options. Unset options take the engine's
/// defaults (one attempt, no delay, priority 0, keep finished jobs).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// The job name; the consumer picks its handler by it.
    pub name: String,
    /// The data, stored as JSON text in the job hash.
    pub data: serde_json::Value,
    /// A custom id (not an integer, no `:`); duplicates of an existing id add nothing.
    pub job_id: Option<String>,
    /// Wait this long before the job is ready.
    pub delay: Option<Duration>,
    /// 1 (first) .. 2_097_151; 0 or unset = the plain FIFO list, which runs before priorities.
    pub priority: Option<u32>,
    /// Total attempts, including the first.
    pub attempts: Option<u32>,
    /// Delay between attempts.
    pub backoff: Option<Backoff>,
    /// What to keep when the job completes.
    pub remove_on_complete: Option<Retention>,
    /// What to keep when the job fails for good.
    pub remove_on_fail: Option<Retention>,
}

impl JobSpec {
    /// A job with `name` and `data` and no options.
    pub fn new(name: impl Into<String>, data: serde_json::Value) -> JobSpec {
        JobSpec {
            name: name.into(),
            data,
            job_id: None,
            delay: None,
            priority: None,
            attempts: None,
            backoff: None,
            remove_on_complete: None,
            remove_on_fail: None,
        }
    }
}

/// The job id of one cron tick: `cron-<entry-id>-<unix-seconds>`. Every replica computes the
/// same id for the same (entry, scheduled instant), and BullMQ adds a duplicate id as a no-op,
/// so N schedulers produce one job per tick.
pub fn cron_job_id(entry_id: &str, scheduled_unix_secs: i64) -> String {
    format!("cron-{entry_id}-{scheduled_unix_secs}")
}

/// Checks a custom job id against BullMQ's rules (shared/bullmq-layout.md §1).
pub fn validate_job_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("job id is empty".into());
    }
    if id.parse::<i64>().is_ok() {
        return Err(format!(
            "job id {id:?} looks like an integer, which clashes with BullMQ's counter ids: add a letter, e.g. \"job-{id}\""
        ));
    }
    // A path segment that every URL resolver removes: such a job could not be addressed
    // through the API or the dashboard, only listed.
    if id == "." || id == ".." {
        return Err(format!(
            "job id {id:?} cannot be used in a URL: add a letter, e.g. \"job{id}\""
        ));
    }
    if id.contains(':') {
        return Err(format!(
            "job id {id:?} contains ':', which BullMQ refuses: use '-' instead"
        ));
    }
    Ok(())
}

pub use crate::rules::is_hidden_char;

/// How a handler run ended; the consumer turns it into the matching BullMQ transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Completed with this return value (stored as JSON, as `QueueEvents` requires).
    Completed(serde_json::Value),
    /// Failed; retried while attempts remain (with the job's backoff).
    Retry(String),
    /// Failed for good, whatever attempts remain.
    Fail(String),
    /// Not run to its end (shutdown deadline): back to `wait`, no attempt counted.
    Release,
    /// Not run here (a crontab entry this daemon does not hold, for a daemon that does): back
    /// to `delayed` for this long, no attempt counted; the delay keeps a job that only other
    /// daemons can run from bouncing through this one in a loop.
    Defer(std::time::Duration),
}

/// Counts of a queue's jobs per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct JobCounts {
    /// In `wait` (ready, FIFO).
    pub waiting: u64,
    /// In `prioritized` (ready, by priority).
    pub prioritized: u64,
    /// Being processed.
    pub active: u64,
    /// Waiting for their time (delay or backoff).
    pub delayed: u64,
    /// Completed and kept.
    pub completed: u64,
    /// Failed and kept.
    pub failed: u64,
    /// Parents waiting for children.
    pub waiting_children: u64,
}

impl JobCounts {
    /// Jobs ready to run now: waiting plus prioritized.
    pub fn ready(&self) -> u64 {
        self.waiting + self.prioritized
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_past_ten_years_are_refused() {
        use crate::queue::job::parse_millis_or_duration as p;
        assert!(p("3650d").is_ok());
        assert!(p("3651d").unwrap_err().contains("too long"));
        assert!(p("999999999999d").is_err());
        assert!(p("18446744073709551615").is_err());
        assert!(super::Backoff::parse("fixed:999999999999d").is_err());
    }

    use super::*;

    #[test]
    fn backoff_parses_both_kinds_and_units() {
        assert_eq!(
            Backoff::parse("exponential:5000"),
            Ok(Backoff::Exponential(Duration::from_secs(5)))
        );
        assert_eq!(
            Backoff::parse("fixed:2s"),
            Ok(Backoff::Fixed(Duration::from_secs(2)))
        );
        assert!(Backoff::parse("linear:5")
            .unwrap_err()
            .contains("\"fixed\" or \"exponential\""));
        assert!(Backoff::parse("5000").unwrap_err().contains("KIND:DELAY"));
        assert!(Backoff::parse("fixed:soon").is_err());
    }

    #[test]
    fn cron_ids_are_deterministic_and_colon_free() {
        let id = cron_job_id("3f2a9c01b7e4", 1_800_000_000);
        assert_eq!(id, "cron-3f2a9c01b7e4-1800000000");
        assert!(validate_job_id(&id).is_ok());
    }

    #[test]
    fn job_ids_follow_bullmq_rules() {
        assert!(validate_job_id("cron-abc-1700000000").is_ok());
        assert!(validate_job_id("123").unwrap_err().contains("integer"));
        assert!(validate_job_id("a:b").unwrap_err().contains("':'"));
        assert!(validate_job_id("").is_err());
    }
}
