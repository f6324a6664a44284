//! Building and checking a [`JobSpec`] in one place, so the API, `worker enqueue` and the
//! crontab fill jobs the same way and meet the same refusals: [`JobSpec::for_handler`] fills
//! unset options from the handler's defaults, and [`JobSpec::validate`] (called by
//! `Store::add` before any store sees the job) holds BullMQ's limits.

use std::time::Duration;

use super::job::{
    check_job_duration, is_hidden_char, validate_job_id, Backoff, JobSpec, Retention,
};

/// BullMQ's highest priority (`2^21 - 1`): its Lua packs the priority with a counter into one
/// score, and a larger value would collide with it.
pub const MAX_PRIORITY: u32 = 2_097_151;

/// Most attempts a job may ask for: retrying beyond this is a loop, not a policy, and an
/// exponential backoff would overflow long before.
pub const MAX_ATTEMPTS: u32 = 10_000;

/// What unset job options take: one handler's settings (config `[defaults]` overridden per
/// handler). The config builds it; this room does not read the config.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerDefaults {
    /// Total attempts.
    pub attempts: u32,
    /// Delay between attempts.
    pub backoff: Backoff,
    /// Completed jobs to keep.
    pub remove_on_complete: Option<Retention>,
    /// Failed jobs to keep.
    pub remove_on_fail: Option<Retention>,
}

/// Options a producer chose for one job; `None` takes the handler's default (or none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobOverrides {
    /// A custom id.
    pub job_id: Option<String>,
    /// Wait this long before the job is ready.
    pub delay: Option<Duration>,
    /// 1 (first) ..= [`MAX_PRIORITY`].
    pub priority: Option<u32>,
    /// Total attempts, 1 ..= [`MAX_ATTEMPTS`].
    pub attempts: Option<u32>,
    /// Delay between attempts.
    pub backoff: Option<Backoff>,
}

/// Why a job was refused, naming the option (`name`, `jobId`, `priority`, `attempts`,
/// `delay`, `backoff`: the API's field names) so each producer can point at its own input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The option at fault.
    pub field: &'static str,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl JobSpec {
    /// A job for the handler with `defaults`: the producer's `overrides` win, the handler's
    /// attempts, backoff and retention fill the rest.
    pub fn for_handler(
        name: impl Into<String>,
        data: serde_json::Value,
        defaults: &HandlerDefaults,
        overrides: JobOverrides,
    ) -> JobSpec {
        let mut spec = JobSpec::new(name, data);
        spec.job_id = overrides.job_id;
        spec.delay = overrides.delay;
        spec.priority = overrides.priority;
        spec.attempts = Some(overrides.attempts.unwrap_or(defaults.attempts));
        spec.backoff = Some(overrides.backoff.unwrap_or(defaults.backoff));
        spec.remove_on_complete = defaults.remove_on_complete;
        spec.remove_on_fail = defaults.remove_on_fail;
        spec
    }

    /// The one check of a job before it is stored, whichever store and producer; the only
    /// maker of a [`ValidJob`], which is what a store's `Produce::add` takes.
    pub fn validate(self) -> Result<ValidJob, SpecError> {
        self.check()?;
        Ok(ValidJob(self))
    }

    fn check(&self) -> Result<(), SpecError> {
        let err = |field, reason: String| Err(SpecError { field, reason });
        if self.name.trim().is_empty() {
            return err("name", "must not be empty".into());
        }
        no_control("name", &self.name)?;
        if let Some(id) = &self.job_id {
            validate_job_id(id).map_err(|reason| SpecError {
                field: "jobId",
                reason,
            })?;
            no_control("jobId", id)?;
        }
        if let Some(p) = self.priority.filter(|&p| p > MAX_PRIORITY) {
            return err(
                "priority",
                format!("{p} is above BullMQ's maximum: must be 0..={MAX_PRIORITY}"),
            );
        }
        if let Some(a) = self.attempts.filter(|a| !(1..=MAX_ATTEMPTS).contains(a)) {
            return err(
                "attempts",
                format!("{a}: must be 1..={MAX_ATTEMPTS} (1 = run once, no retry)"),
            );
        }
        if let Some(d) = self.delay {
            check_job_duration(d).map_err(|reason| SpecError {
                field: "delay",
                reason,
            })?;
        }
        if let Some(Backoff::Fixed(d) | Backoff::Exponential(d)) = self.backoff {
            check_job_duration(d).map_err(|reason| SpecError {
                field: "backoff",
                reason,
            })?;
        }
        Ok(())
    }
}

/// A job that passed [`JobSpec::validate`], the only way to make one (its field is private):
/// a store that takes a `ValidJob` cannot be handed an unchecked job, whoever the producer.
/// Read it as a [`JobSpec`] (it derefs to one).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidJob(JobSpec);

impl ValidJob {
    /// The checked spec, to change and check again (a change makes it unchecked).
    pub fn into_spec(self) -> JobSpec {
        self.0
    }
}

impl std::ops::Deref for ValidJob {
    type Target = JobSpec;

    fn deref(&self) -> &JobSpec {
        &self.0
    }
}

/// Control, bidi/format and line-separator characters would be written raw into logs,
/// terminals and the dashboard, where they forge lines or reorder what the operator reads
/// ([`is_hidden_char`]). One rule for every producer: the API, the CLI and the crontab all add
/// through [`JobSpec::validate`].
fn no_control(field: &'static str, value: &str) -> Result<(), SpecError> {
    match value.chars().find(|&c| is_hidden_char(c)) {
        Some(c) => Err(SpecError {
            field,
            reason: format!(
                // Debug escapes every character this refuses, so the message shows them.
                "{value:?} contains the {} U+{:04X}: use printable characters only",
                if c.is_control() {
                    "control character"
                } else {
                    "invisible formatting character"
                },
                u32::from(c)
            ),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> HandlerDefaults {
        HandlerDefaults {
            attempts: 3,
            backoff: Backoff::Fixed(Duration::from_secs(1)),
            remove_on_complete: Some(Retention::RemoveAll),
            remove_on_fail: None,
        }
    }

    #[test]
    fn overrides_win_and_defaults_fill_the_rest() {
        let over = JobOverrides {
            attempts: Some(7),
            ..JobOverrides::default()
        };
        let s = JobSpec::for_handler("n", serde_json::json!({}), &defaults(), over);
        assert_eq!(s.attempts, Some(7));
        assert_eq!(s.backoff, Some(Backoff::Fixed(Duration::from_secs(1))));
        assert_eq!(s.remove_on_complete, Some(Retention::RemoveAll));
    }

    #[test]
    fn each_refusal_names_its_field() {
        let base = JobSpec::new("n", serde_json::json!({}));
        assert!(base.clone().validate().is_ok());
        type Breaks = fn(&mut JobSpec);
        let cases: [(&str, Breaks); 12] = [
            ("jobId", |s| s.job_id = Some("\u{202e}gnp.exe".into())),
            ("jobId", |s| s.job_id = Some("a\u{2028}b".into())),
            ("name", |s| s.name = "a\u{2066}b\u{2069}".into()),
            ("name", |s| s.name = "zero\u{200b}width".into()),
            ("name", |s| s.name = " ".into()),
            ("name", |s| s.name = "a\u{1b}b".into()),
            ("jobId", |s| s.job_id = Some("a:b".into())),
            ("jobId", |s| s.job_id = Some("..".into())),
            ("jobId", |s| s.job_id = Some("a\nb".into())),
            ("priority", |s| s.priority = Some(MAX_PRIORITY + 1)),
            ("attempts", |s| s.attempts = Some(0)),
            ("delay", |s| {
                s.delay = Some(Duration::from_secs(u64::MAX / 2))
            }),
        ];
        for (field, break_it) in cases {
            let mut s = base.clone();
            break_it(&mut s);
            assert_eq!(s.clone().validate().unwrap_err().field, field, "{s:?}");
        }
        let mut edge = base.clone();
        // Scripts that read right to left are text, not formatting: they stay allowed.
        edge.name = "שלום-é-日本".into();
        edge.job_id = Some("ملف-1".into());
        edge.priority = Some(MAX_PRIORITY);
        edge.attempts = Some(MAX_ATTEMPTS);
        assert!(edge.validate().is_ok());
    }

    #[test]
    fn a_valid_job_is_the_spec_it_checked() {
        let mut spec = JobSpec::new("n", serde_json::json!({"k": 1}));
        spec.priority = Some(3);
        let valid = spec.clone().validate().unwrap();
        // Read through as the spec, and handed back whole (to change, then check again).
        assert_eq!((valid.name.as_str(), valid.priority), ("n", Some(3)));
        assert_eq!(valid.into_spec(), spec);
        // A refused spec yields no ValidJob at all: the store never sees it.
        spec.priority = Some(MAX_PRIORITY + 1);
        assert!(spec.validate().is_err());
    }
}
