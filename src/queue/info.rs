//! Jobs as people and tools see them (API, CLI, dashboard), whatever the store.

use serde::Serialize;

use super::state::JobState;

/// A job, for display.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    /// Job id.
    pub id: String,
    /// Queue.
    pub queue: String,
    /// Job name.
    pub name: String,
    /// State (`waiting`, `active`, `completed`, …); absent in list views.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<JobState>,
    /// Data: the stored JSON, or the raw text when it is not JSON.
    pub data: serde_json::Value,
    /// Options (BullMQ's `opts`).
    pub opts: serde_json::Value,
    /// Progress (number or object).
    pub progress: serde_json::Value,
    /// Finished attempts.
    pub attempts_made: u64,
    /// Started attempts.
    pub attempts_started: u64,
    /// Return value (JSON) once completed.
    pub returnvalue: serde_json::Value,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
    /// Error traces of each failed attempt.
    pub stacktrace: Vec<String>,
    /// Added at (ms).
    pub timestamp: Option<u64>,
    /// Last started at (ms).
    pub processed_on: Option<u64>,
    /// Finished at (ms).
    pub finished_on: Option<u64>,
    /// Delay (ms).
    pub delay: u64,
    /// Priority (0 = none).
    pub priority: u64,
    /// Worker that ran it last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed_by: Option<String>,
    /// Log lines (only in the single-job view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<String>>,
}

/// Which page of a job list to read: the jobs in `state`, from index `offset`, up to `limit`.
/// One value from the asker (API, CLI, dashboard) through every store to the [`JobPage`] that
/// echoes it, so the three never travel, or get swapped, one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobWindow {
    /// The state whose list is read.
    pub state: JobState,
    /// First index wanted.
    pub offset: u64,
    /// Page size wanted.
    pub limit: u64,
}

impl JobWindow {
    /// The page of `state` jobs from `offset`, up to `limit` of them.
    pub const fn new(state: JobState, offset: u64, limit: u64) -> JobWindow {
        JobWindow {
            state,
            offset,
            limit,
        }
    }
}

/// One page of a job list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobPage {
    /// Jobs in that state, in all.
    pub total: u64,
    /// First index returned.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
    /// The jobs (newest first for completed/failed/waiting; next-to-run first otherwise).
    pub jobs: Vec<JobInfo>,
}

impl JobPage {
    /// The page of `window`, out of `total`: every store's answer to `Browse::jobs` echoes
    /// the window it was asked for, built here once.
    pub(crate) fn new(window: JobWindow, total: u64, jobs: Vec<JobInfo>) -> JobPage {
        JobPage {
            total,
            offset: window.offset,
            limit: window.limit,
            jobs,
        }
    }
}

/// A stored stack trace (a JSON array of strings) as lines; anything else reads as none.
pub(crate) fn stacktrace_lines(v: serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect(),
        _ => Vec::new(),
    }
}
