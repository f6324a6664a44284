//! The job one tick adds: [`job_spec`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::super::plan::{Action, PlannedEntry};
use crate::config::Config;
use crate::queue::{cron_job_id, JobOverrides, JobSpec};

/// The job one tick of `e` adds: its target, its data (a command entry's job carries only
/// where it came from, never the command), its attempts, backoff and retention (a command
/// entry's own, see [`PlannedEntry::runs`]; else the target handler's), the
/// deterministic id, and a random start delay when the entry has `jitter`.
pub fn job_spec(config: &Config, e: &PlannedEntry, at: DateTime<Utc>) -> JobSpec {
    let (queue, name) = e.job_target();
    let data = match &e.action {
        Action::Enqueue { data, .. } => data.clone(),
        Action::Command { .. } => serde_json::json!({
            "entry": e.id,
            "source": e.place,
            "scheduled": at.to_rfc3339(),
        }),
    };
    let delay = e.jitter.filter(|j| !j.is_zero()).map(|j| {
        use rand::Rng;
        Duration::from_millis(rand::thread_rng().gen_range(0..=j.as_millis() as u64))
    });
    let overrides = JobOverrides {
        job_id: Some(cron_job_id(&e.id, at.timestamp())),
        delay,
        ..JobOverrides::default()
    };
    // A command entry's run takes its own settings (one attempt by default, bounded history);
    // an enqueue entry's job is its target handler's, as any producer's would be.
    let defaults = match &e.runs {
        Some(runs) => runs.clone(),
        None => config.job_settings(queue, name).into(),
    };
    JobSpec::for_handler(name, data, &defaults, overrides)
}
