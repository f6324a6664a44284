//! [`JobState`]: where a job is in its life, one word on the wire (BullMQ's `getState`
//! words). Text becomes a state in one place, [`JobState::from_str`], which also takes the
//! engine's `wait` for `waiting`; every store, the API, the CLI and the scheduler use the
//! enum, so an unknown state is refused at the edge with one message, never matched as text.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use super::error::Error;

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Ready, in FIFO order (BullMQ's `wait` list; a paused queue's jobs stay here).
    Waiting,
    /// Ready, by priority (BullMQ's `prioritized` set).
    Prioritized,
    /// Running, under a lock.
    Active,
    /// Due later (a delay or a retry's backoff).
    Delayed,
    /// Finished with a return value.
    Completed,
    /// Finished with an error after its last attempt.
    Failed,
    /// A flow parent waiting for its children.
    WaitingChildren,
    /// A job hash no state holds (Bull: written by a foreign producer, or half-removed).
    /// Reported by a store, never asked for: [`JobState::from_str`] refuses it.
    Unknown,
}

/// The states a job can be listed by (every state but [`JobState::Unknown`]), in the order
/// the API and the dashboard show them.
pub const LISTED: [JobState; 7] = [
    JobState::Waiting,
    JobState::Prioritized,
    JobState::Active,
    JobState::Delayed,
    JobState::Completed,
    JobState::Failed,
    JobState::WaitingChildren,
];

impl JobState {
    /// The word on the wire and in the API (`waiting-children`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Prioritized => "prioritized",
            JobState::Active => "active",
            JobState::Delayed => "delayed",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::WaitingChildren => "waiting-children",
            JobState::Unknown => "unknown",
        }
    }

    /// Not finished yet: it will run, runs, or waits for its children. The scheduler's
    /// overlap policy counts a run in any of these as still going.
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            JobState::Waiting
                | JobState::Prioritized
                | JobState::Active
                | JobState::Delayed
                | JobState::WaitingChildren
        )
    }

    /// Completed or failed: what `clean` removes and retention trims.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed)
    }

    /// `self` when `clean` applies to it (completed or failed), else why not, naming it: the
    /// one check, for the API, the CLI and the store facade.
    pub fn cleanable(self) -> Result<JobState, String> {
        if self.is_finished() {
            Ok(self)
        } else {
            Err(format!(
                "{:?}: clean applies to \"completed\" or \"failed\" jobs",
                self.as_str()
            ))
        }
    }
}

/// A `clean` that passed the one check: `state` jobs (completed or failed) finished more than
/// `older_than` ago. Only [`CleanOrder::new`] makes one, so no store is handed a state `clean`
/// does not apply to (the way [`ValidJob`](super::spec::ValidJob) guards `add`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanOrder {
    state: JobState,
    older_than: Duration,
}

impl CleanOrder {
    /// The order, or why `state` cannot be cleaned ([`JobState::cleanable`]).
    pub fn new(state: JobState, older_than: Duration) -> Result<CleanOrder, String> {
        Ok(CleanOrder {
            state: state.cleanable()?,
            older_than,
        })
    }

    /// `completed` or `failed`.
    pub fn state(self) -> JobState {
        self.state
    }

    /// How long ago a job must have finished to go.
    pub fn older_than(self) -> Duration {
        self.older_than
    }

    /// The finish time (Unix ms) at or before which a job goes, seen at `now_ms`.
    pub fn cutoff_ms(self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.older_than.as_millis() as u64)
    }
}

impl JobState {
    /// What a store answers when asked to list [`JobState::Unknown`] (callers parse with
    /// [`JobState::from_str`], which never yields it): the same refusal as a bad name, a 400.
    pub(crate) fn not_listed(self, queue: &str) -> Error {
        Error::InvalidJob {
            queue: queue.into(),
            field: Some("state"),
            reason: UnknownState {
                text: self.as_str().into(),
            }
            .to_string(),
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one: the text, and the names that are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a job state: use one of {}", listed_names())]
pub struct UnknownState {
    /// What was given.
    pub text: String,
}

fn listed_names() -> String {
    LISTED.map(JobState::as_str).join(", ")
}

impl FromStr for JobState {
    type Err = UnknownState;

    /// One of the [`LISTED`] names, or `wait` (the engine's and Bull's word for `waiting`).
    fn from_str(text: &str) -> Result<JobState, UnknownState> {
        if text == "wait" {
            return Ok(JobState::Waiting);
        }
        LISTED
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| UnknownState { text: text.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_round_trips_and_wait_is_waiting() {
        for s in LISTED {
            assert_eq!(s.as_str().parse::<JobState>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!("wait".parse::<JobState>(), Ok(JobState::Waiting));
    }

    #[test]
    fn a_bad_name_is_refused_naming_it_and_the_valid_ones() {
        for bad in [
            "unknown",
            "Waiting",
            "paused",
            "waiting_children",
            "",
            "done",
        ] {
            let err = bad.parse::<JobState>().unwrap_err();
            let text = err.to_string();
            assert!(text.contains(&format!("{bad:?}")), "{text}");
            assert!(
                text.contains(
                    "waiting, prioritized, active, delayed, completed, failed, waiting-children"
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn unfinished_includes_waiting_children_and_clean_takes_only_finished() {
        assert!(JobState::WaitingChildren.is_unfinished());
        assert!(!JobState::Completed.is_unfinished() && !JobState::Unknown.is_unfinished());
        assert_eq!(JobState::Failed.cleanable(), Ok(JobState::Failed));
        let err = JobState::Active.cleanable().unwrap_err();
        assert!(err.contains("\"active\"") && err.contains("\"completed\" or \"failed\""));
    }

    #[test]
    fn only_finished_states_make_a_clean_order() {
        let day = Duration::from_secs(86_400);
        let order = CleanOrder::new(JobState::Completed, day).unwrap();
        assert_eq!(
            (order.state(), order.older_than()),
            (JobState::Completed, day)
        );
        assert_eq!(order.cutoff_ms(100_000_000), 100_000_000 - 86_400_000);
        assert_eq!(
            order.cutoff_ms(5),
            0,
            "a cutoff before the epoch is the epoch"
        );
        for s in [JobState::Active, JobState::Waiting, JobState::Unknown] {
            let err = CleanOrder::new(s, day).unwrap_err();
            assert_eq!(err, s.cleanable().unwrap_err());
        }
    }
}
