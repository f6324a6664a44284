//! What the overlap policy looks at: an entry's runs that are not finished, among its latest
//! tick's run and its latest manual run ("run now", remembered in [`ManualRuns`]), so that a
//! manual run counts as the entry's latest run for `forbid` and for the schedule rows, and a
//! manual run itself obeys `forbid`. A run waiting to retry after a failure (attempts > 1) is
//! still unfinished — the retry belongs to its tick, and `forbid` means no two runs at once —
//! but the skip says so, with the attempt, instead of looking like a run still going.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::queue::{JobState, Store};

/// Each entry's latest manual run: (Unix ms, job id). Written by "run now", read by the
/// scheduler's overlap check and the schedule rows; memory of this daemon only (a run
/// triggered through another replica's API is seen by its tick job's state only). A std mutex,
/// never held across an await.
#[derive(Debug, Default)]
pub struct ManualRuns {
    latest: Mutex<HashMap<String, (i64, String)>>,
}

impl ManualRuns {
    /// Notes `job_id`, added at `at_ms`, as `entry`'s latest manual run.
    pub fn note(&self, entry: &str, at_ms: i64, job_id: &str) {
        self.lock()
            .insert(entry.to_string(), (at_ms, job_id.to_string()));
    }

    /// `entry`'s latest manual run, if any.
    pub fn latest(&self, entry: &str) -> Option<(i64, String)> {
        self.lock().get(entry).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, String)>> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A run of an entry that has not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    /// Its job id.
    pub id: String,
    /// Any state [`JobState::is_unfinished`] counts (`waiting-children` too: a flow parent
    /// is still running its children).
    pub state: JobState,
    /// Failed attempts so far when it waits to retry (delayed after a failure).
    pub retrying: Option<u64>,
}

impl Unfinished {
    /// How a skip or refusal names it.
    pub fn describe(&self) -> String {
        match self.retrying {
            Some(n) => format!(
                "{} is waiting to retry after {n} failed attempt(s)",
                self.id
            ),
            None => format!("{} is {}", self.id, self.state),
        }
    }
}

/// The first of `ids` (job ids of `queue`) whose run is not finished. A state the store
/// cannot tell counts as finished: a store error must not silence ticks.
pub async fn unfinished(
    store: &Store,
    queue: &str,
    ids: impl IntoIterator<Item = String>,
) -> Option<Unfinished> {
    for id in ids {
        let Ok(Some(state)) = store.state(queue, &id).await else {
            continue;
        };
        if !state.is_unfinished() {
            continue;
        }
        let retrying = match state {
            JobState::Delayed => store
                .job(queue, &id)
                .await
                .ok()
                .flatten()
                .map(|j| j.attempts_made)
                .filter(|n| *n > 0),
            _ => None,
        };
        return Some(Unfinished {
            id,
            state,
            retrying,
        });
    }
    None
}
