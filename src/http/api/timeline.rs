//! `GET /api/schedules/timeline`: each schedule entry's last 24 hours and next fires, for the
//! dashboard's timeline. Runs are read back from the entry's target queue (a tick's job id is
//! `cron-<entry>-<unix-seconds>`), the newest [`PER_STATE`] jobs of each state: a bound on the
//! cost of one call, so an entry firing more often than that shows its latest runs only.
//! Skipped and missed ticks come from the scheduler's memory (`cron::marks`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::store;
use crate::cron::marks::MarkKind;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::AppState;
use crate::queue::{JobState, JobWindow};

/// Jobs read per state and target queue.
const PER_STATE: u64 = 500;

/// Next fires listed per entry, at most (within the next 24 hours).
const NEXT_MAX: usize = 48;

const DAY_MS: i64 = 24 * 3_600_000;

/// One run of an entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// Its job id (link: `/api/queues/{queue}/jobs/{jobId}`).
    pub job_id: String,
    /// The tick it ran for, Unix ms.
    pub scheduled: i64,
    /// `completed`, `failed`, `active`, `waiting`, `delayed` or `prioritized`.
    pub state: String,
    /// When it started, Unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<u64>,
    /// When it ended, Unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<u64>,
}

/// A tick that left no job.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Mark {
    /// The tick, Unix ms.
    pub at: i64,
    /// Why.
    pub kind: MarkKind,
}

/// One entry's day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryTimeline {
    /// Entry id.
    pub id: String,
    /// Readable label (crontab place or schedule name).
    pub label: String,
    /// Target queue.
    pub queue: String,
    /// Runs whose tick lies in the window, oldest first.
    pub runs: Vec<Run>,
    /// Skipped and missed ticks in the window (since this daemon started).
    pub marks: Vec<Mark>,
    /// Fires in the next 24 hours, Unix ms (at most 48).
    pub next: Vec<i64>,
}

/// The schedules' timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Timeline {
    /// Window start (24 hours ago), Unix ms.
    pub from: i64,
    /// Now, Unix ms.
    pub now: i64,
    /// Window end (24 hours ahead), Unix ms.
    pub to: i64,
    /// One row per entry, in plan order.
    pub entries: Vec<EntryTimeline>,
}

/// Each schedule entry's runs over the last 24 hours, its skipped and missed ticks, and its
/// next fires.
#[utoipa::path(get, path = "/api/schedules/timeline", tag = "schedules",
    responses((status = 200, body = Timeline), (status = 503, body = ErrorBody)))]
pub async fn schedules_timeline(State(state): State<AppState>) -> Result<Json<Timeline>, ApiError> {
    let plan = state.plan.borrow().clone();
    let store = store(&state)?;
    let now: DateTime<Utc> = Utc::now();
    let (now_ms, from) = (now.timestamp_millis(), now.timestamp_millis() - DAY_MS);
    // Jobs of each target queue once, by id.
    let mut by_queue: BTreeMap<String, Vec<crate::queue::JobInfo>> = BTreeMap::new();
    for e in plan.entries.iter() {
        let (queue, _) = e.job_target();
        if by_queue.contains_key(queue) {
            continue;
        }
        let mut jobs = Vec::new();
        for s in [
            JobState::Completed,
            JobState::Failed,
            JobState::Active,
            JobState::Waiting,
            JobState::Delayed,
            JobState::Prioritized,
        ] {
            let page = store.jobs(queue, JobWindow::new(s, 0, PER_STATE)).await?;
            jobs.extend(page.jobs.into_iter().map(|mut j| {
                j.state = Some(s);
                j
            }));
        }
        by_queue.insert(queue.to_string(), jobs);
    }
    let mut entries = Vec::with_capacity(plan.entries.len());
    for e in plan.entries.iter() {
        let (queue, _) = e.job_target();
        let prefix = format!("cron-{}-", e.id);
        let mut runs: Vec<Run> = by_queue
            .get(queue)
            .into_iter()
            .flatten()
            .filter_map(|j| {
                let secs: i64 = j.id.strip_prefix(&prefix)?.parse().ok()?;
                let scheduled = secs * 1000;
                (scheduled >= from).then(|| Run {
                    job_id: j.id.clone(),
                    scheduled,
                    state: j.state.map(|s| s.to_string()).unwrap_or_default(),
                    started: j.processed_on,
                    finished: j.finished_on,
                })
            })
            .collect();
        runs.sort_by_key(|r| r.scheduled);
        let marks = state
            .sched
            .marks
            .since(&e.id, from)
            .into_iter()
            .map(|(at, kind)| Mark { at, kind })
            .collect();
        let mut next = Vec::new();
        let mut t = now;
        while next.len() < NEXT_MAX {
            match e.schedule.next_after(t, e.tz) {
                Some(n) if n.timestamp_millis() <= now_ms + DAY_MS => {
                    next.push(n.timestamp_millis());
                    t = n;
                }
                _ => break,
            }
        }
        entries.push(EntryTimeline {
            id: e.id.clone(),
            label: e.label.clone(),
            queue: queue.to_string(),
            runs,
            marks,
            next,
        });
    }
    Ok(Json(Timeline {
        from,
        now: now_ms,
        to: now_ms + DAY_MS,
        entries,
    }))
}
