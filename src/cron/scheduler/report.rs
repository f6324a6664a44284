//! The schedules as operators see them (API, CLI, dashboard): each entry with its next fire
//! time and its latest run (the job of its previous tick, found by its deterministic id), and
//! "run now". The part of the cron room that reads the store on an operator's behalf; the
//! tick arithmetic is the scheduler's own ([`super::previous_tick`]), the job of a manual run
//! its [`super::job_spec`].

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::plan::{Plan, PlannedEntry};
use super::job_spec;
use crate::config::{Config, Overlap};
use crate::queue::{cron_job_id, Error, Store};

/// One schedule entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduleRow {
    /// Entry id (job ids are `cron-<id>-<unix-seconds>`).
    pub id: String,
    /// Where it is written.
    pub source: String,
    /// The expression.
    pub schedule: String,
    /// Its zone.
    pub tz: String,
    /// Target queue.
    pub queue: String,
    /// Job name.
    pub name: String,
    /// `forbid`, `allow` or `replace`.
    pub overlap: &'static str,
    /// Next fire instant (RFC 3339 UTC), if any.
    pub next: Option<String>,
    /// The latest tick's run, if the schedule has fired.
    pub last: Option<LastRun>,
}

/// The run of an entry's latest tick.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastRun {
    /// Job id.
    pub job_id: String,
    /// Its scheduled instant.
    pub scheduled: String,
    /// Its state now (`completed`, `failed`, `active`, …), or `missing` (skipped, or removed by retention).
    pub state: String,
}

/// The rows of `plan` at `now`; `store` adds each latest run's state.
pub async fn rows(store: Option<&Store>, plan: &Plan, now: DateTime<Utc>) -> Vec<ScheduleRow> {
    let mut out = Vec::with_capacity(plan.entries.len());
    for e in &plan.entries {
        let (queue, name) = e.job_target();
        let last = match (store, previous_tick(e, now)) {
            (Some(store), Some(at)) => {
                let job_id = cron_job_id(&e.id, at.timestamp());
                let state = store
                    .state(queue, &job_id)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "missing".into());
                Some(LastRun {
                    job_id,
                    scheduled: rfc3339(at),
                    state,
                })
            }
            _ => None,
        };
        out.push(ScheduleRow {
            id: e.id.clone(),
            source: e.place.clone(),
            schedule: e.schedule.to_string(),
            tz: e.tz.name().to_string(),
            queue: queue.to_string(),
            name: name.to_string(),
            overlap: match e.overlap {
                Overlap::Forbid => "forbid",
                Overlap::Allow => "allow",
                Overlap::Replace => "replace",
            },
            next: e.schedule.next_after(now, e.tz).map(rfc3339),
            last,
        });
    }
    out
}

/// Adds a run of entry `id` now, outside its schedule, with the id
/// `cron-<id>-manual-<unix-ms>`. `None` when there is no such entry.
pub async fn trigger(
    store: &Store,
    config: &Config,
    plan: &Plan,
    id: &str,
) -> Option<Result<String, Error>> {
    let e = plan.entries.iter().find(|e| e.id == id)?;
    let now = Utc::now();
    let mut spec = job_spec(config, e, now);
    spec.job_id = Some(format!("cron-{}-manual-{}", e.id, now.timestamp_millis()));
    spec.delay = None;
    Some(store.add(e.job_target().0, spec).await)
}

fn previous_tick(e: &PlannedEntry, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    super::previous_tick(e, now)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
