//! The schedules as operators see them (API, CLI, dashboard): each entry with its next fire
//! time and its latest run (the job of its previous tick, found by its deterministic id), and
//! "run now". The part of the cron room that reads the store on an operator's behalf; the
//! tick arithmetic is the scheduler's own ([`super::previous_tick`]), the job of a manual run
//! its [`super::job_spec`].

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::plan::{Plan, PlannedEntry};
use super::job_spec;
use super::overlap::{unfinished, ManualRuns, Unfinished};
use crate::config::{Config, Overlap};
use crate::queue::{cron_job_id, Error, JobState, Store};

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
    /// `forbid`, `allow`, `replace`, `buffer_one` or `buffer_all`.
    pub overlap: &'static str,
    /// Next fire instant (RFC 3339 UTC), if any.
    pub next: Option<String>,
    /// The latest tick's run, if the schedule has fired.
    pub last: Option<LastRun>,
    /// Set while an operator has the entry paused (kept in the store: every replica agrees).
    pub paused: Option<crate::queue::contract::SchedulePause>,
    /// Its latest completed run this daemon knows of.
    pub last_success: Option<super::success::LastSuccess>,
    /// Past its `alert_after` without a success.
    pub stale: bool,
    /// How people name it: its `name`, else place and command (ids are hashes).
    pub label: String,
    /// When this daemon first planned it (RFC 3339 UTC).
    pub first_seen: Option<String>,
    /// Its latest check-in (`ping`) as this daemon sent it, and what became of it; `null`
    /// when it has no `ping` or this daemon has sent none since it started.
    pub checkin: Option<super::super::checkin_state::CheckinState>,
}

/// The run of an entry's latest tick.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastRun {
    /// Job id.
    pub job_id: String,
    /// Its scheduled instant.
    pub scheduled: String,
    /// Its state now (`completed`, `failed`, `active`, …); `never-ran` for a tick from before
    /// this daemon first planned the entry (a first deploy); else `missing` (skipped, or
    /// removed by retention).
    pub state: String,
}

/// The rows of `plan` at `now`; `store` adds each latest run's state; `manual` (the daemon's
/// memory of "run now") makes a manual run newer than the latest tick the entry's latest run.
pub async fn rows(
    store: Option<&Store>,
    plan: &Plan,
    now: DateTime<Utc>,
    manual: Option<&ManualRuns>,
    successes: Option<&super::success::Successes>,
) -> Vec<ScheduleRow> {
    let stale: Vec<String> = successes
        .map(|s| {
            s.stale(plan, now.timestamp())
                .into_iter()
                .map(|s| s.entry)
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::with_capacity(plan.entries.len());
    let pauses = match store {
        Some(s) => s.schedule_pauses().await.unwrap_or_default(),
        None => Vec::new(),
    };
    for e in &plan.entries {
        let (queue, name) = e.job_target();
        let tick = previous_tick(e, now).map(|at| (at, cron_job_id(&e.id, at.timestamp())));
        let by_hand = manual
            .and_then(|m| m.latest(&e.id))
            .and_then(|(ms, id)| Some((DateTime::from_timestamp_millis(ms)?, id)));
        let latest = match (tick, by_hand) {
            (Some(t), Some(m)) => Some(if m.0 > t.0 { m } else { t }),
            (t, m) => t.or(m),
        };
        let last = match (store, latest) {
            (Some(store), Some((at, job_id))) => {
                let found = store.state(queue, &job_id).await.ok().flatten();
                let first_seen = successes.and_then(|s| s.first_seen(&e.id));
                let state = last_state(found, at.timestamp(), first_seen);
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
            overlap: e.policy.overlap.as_str(),
            next: e.schedule.next_after(now, e.tz).map(rfc3339),
            last,
            paused: pauses.iter().find(|p| p.entry == e.id).cloned(),
            last_success: successes.and_then(|s| s.get(&e.id)),
            stale: stale.contains(&e.id),
            label: e.label.clone(),
            first_seen: successes
                .and_then(|s| s.first_seen(&e.id))
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .map(rfc3339),
            checkin: successes.and_then(|s| s.checkins.get(&e.id)),
        });
    }
    out
}

/// Why "run now" added nothing.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// `overlap = "forbid"` (or a buffering mode) and a run of the entry is not finished.
    #[error("schedule {entry:?} has overlap = \"{overlap}\" and its run {}: wait for it to finish, or set overlap = \"allow\"", .running.describe())]
    Busy {
        /// The entry.
        entry: String,
        /// Its overlap policy.
        overlap: &'static str,
        /// Its unfinished run.
        running: Unfinished,
    },
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] Error),
}

/// Adds a run of entry `id` now, outside its schedule, with the id
/// `cron-<id>-manual-<unix-ms>`, under the entry's overlap policy as a tick would be (`forbid`
/// refuses while its latest tick's or manual run is unfinished; `replace` replaces it), and
/// notes it in `manual` as the entry's latest run. `None` when there is no such entry.
pub async fn trigger(
    store: &Store,
    config: &Config,
    plan: &Plan,
    manual: &ManualRuns,
    id: &str,
) -> Option<Result<String, TriggerError>> {
    let e = plan.entries.iter().find(|e| e.id == id)?;
    let now = Utc::now();
    let queue = e.job_target().0;
    if e.policy.overlap != Overlap::Allow {
        let tick = previous_tick(e, now).map(|at| cron_job_id(&e.id, at.timestamp()));
        let by_hand = manual.latest(&e.id).map(|(_, id)| id);
        if let Some(running) = unfinished(store, queue, tick.into_iter().chain(by_hand)).await {
            // A manual run is no tick: the buffering modes refuse it like `forbid` rather than
            // hold it, so "run now" never answers with a run that starts hours later.
            if e.policy.overlap != Overlap::Replace {
                let entry = e.id.clone();
                let overlap = e.policy.overlap.as_str();
                return Some(Err(TriggerError::Busy {
                    entry,
                    overlap,
                    running,
                }));
            }
            replace(store, queue, &running).await;
        }
    }
    let mut spec = job_spec(config, e, now);
    let job_id = format!("cron-{}-manual-{}", e.id, now.timestamp_millis());
    spec.job_id = Some(job_id.clone());
    spec.delay = None;
    let added = store.add(queue, spec).await.map_err(TriggerError::from);
    if added.is_ok() {
        manual.note(&e.id, now.timestamp_millis(), &job_id);
    }
    Some(added)
}

/// `overlap = "replace"` for a manual run: cancel the running run, or remove one not started.
async fn replace(store: &Store, queue: &str, running: &Unfinished) {
    let result = match running.state {
        JobState::Active => store
            .cancel_replaced_run(queue, &running.id)
            .await
            .map_err(|e| e.to_string()),
        _ => store
            .remove_job(queue, &running.id)
            .await
            .map_err(|e| e.to_string()),
    };
    if let Err(error) = result {
        tracing::warn!(previous = %running.id, error = %error, "could not replace the previous run; adding the manual run anyway");
    }
}

fn previous_tick(e: &PlannedEntry, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    super::previous_tick(e, now)
}

/// A latest run's state as shown: the store's, else `never-ran` when its tick came before the
/// entry was first planned here (nothing could have run it: not "missing"), else `missing`.
fn last_state(found: Option<JobState>, tick_s: i64, first_seen_s: Option<i64>) -> String {
    match (found, first_seen_s) {
        (Some(s), _) => s.to_string(),
        (None, Some(seen)) if tick_s < seen => "never-ran".into(),
        (None, _) => "missing".into(),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_before_the_entry_existed_never_ran_rather_than_missing() {
        assert_eq!(last_state(None, 100, Some(200)), "never-ran");
        assert_eq!(last_state(None, 300, Some(200)), "missing");
        assert_eq!(last_state(None, 100, None), "missing");
        assert_eq!(
            last_state(Some(JobState::Completed), 100, Some(200)),
            "completed"
        );
    }
}
