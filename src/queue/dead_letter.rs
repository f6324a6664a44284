//! Dead letters (issue 30 point 2, `[queues.NAME] dead_letter = "OTHER"`): a job of NAME that
//! fails for the last time is also added to OTHER, a normal queue that Node, Bull Board and
//! cronq all read, and stays in NAME's failed set as BullMQ keeps it.
//!
//! A dead letter is a job with the origin's name and this data (the envelope):
//!
//! ```json
//! { "data": <the original data>,
//!   "deadLetter": { "queue": "email", "id": "42", "name": "send",
//!                   "failedReason": "exit status 1", "attemptsMade": 3, "attempts": 3,
//!                   "stacktrace": ["…", "…"], "failedOn": 1765000000000, "worker": "web-1" } }
//! ```
//!
//! The original data is wrapped, not merged: any JSON value stays exactly as it was, and a
//! consumer of the dead-letter queue finds the failure in one place whatever the data's shape.
//!
//! Its id is `dl-<queue>-<id>-<attempt>` (characters BullMQ ids refuse become `_`): adding it
//! again (a daemon that died between the add and the failure's write, whose job comes back
//! through stalled recovery) adds nothing, so a failure gives one dead letter.
//!
//! Sending a dead letter back ([`send_back`]; `worker retry` and the API's retry on it, the
//! dashboard's button) retries the origin job when it is still in its queue's failed set, and
//! otherwise adds a new job with the original name and data to the origin queue; then the dead
//! letter is removed. Only origins the config names as this queue's sources are honoured: a
//! forged envelope cannot send data to any other queue.

use serde::{Deserialize, Serialize};

use super::error::{Error, JobOpError};
use super::job::JobSpec;
use super::state::JobState;
use super::store::Store;

/// Longest dead-letter id (ids appear in keys and URLs; an origin id may be long).
const MAX_ID: usize = 200;

/// The failure, as the envelope's `deadLetter` field carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// Origin queue.
    pub queue: String,
    /// Origin job id.
    pub id: String,
    /// Job name.
    pub name: String,
    /// The last attempt's error.
    pub failed_reason: String,
    /// Attempts made, this one included.
    pub attempts_made: u64,
    /// Attempts allowed.
    pub attempts: u64,
    /// The errors of earlier attempts, newest last (BullMQ's `stacktrace`), when known.
    #[serde(default)]
    pub stacktrace: Vec<String>,
    /// When it failed (ms since the epoch).
    pub failed_on: u64,
    /// WORKER_ID of the daemon that ran its last attempt.
    pub worker: String,
}

/// The dead letter of `failure` with the original `data`: the job to add to the target queue.
pub fn letter(failure: &Failure, data: serde_json::Value) -> JobSpec {
    let mut spec = JobSpec::new(
        failure.name.clone(),
        serde_json::json!({ "data": data, "deadLetter": failure }),
    );
    spec.job_id = Some(letter_id(
        &failure.queue,
        &failure.id,
        failure.attempts_made,
    ));
    spec
}

/// `dl-<queue>-<id>-<attempt>`, safe as a BullMQ custom id.
pub fn letter_id(queue: &str, id: &str, attempt: u64) -> String {
    let safe: String = id
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || "-_.".contains(c) => c,
            _ => '_',
        })
        .take(MAX_ID)
        .collect();
    format!("dl-{queue}-{safe}-{attempt}")
}

/// Where a dead letter went back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentBack {
    /// The origin queue.
    pub queue: String,
    /// The job id there.
    pub id: String,
    /// `retried`: the origin job went from failed to waiting; `added`: it was gone, so a new
    /// job with its name and data was added.
    pub how: &'static str,
}

/// Sends dead letter `id` of `dlq` back to its origin, when it is one whose origin queue is
/// among `origins` (the queues configured with `dead_letter = dlq`). `Ok(None)`: not a dead
/// letter of those (the caller's ordinary retry applies).
pub async fn send_back(
    store: &Store,
    dlq: &str,
    id: &str,
    origins: &[&str],
) -> Result<Option<SentBack>, JobOpError> {
    let Some(job) = store.job(dlq, id).await? else {
        return Ok(None);
    };
    let failure = job
        .data
        .get("deadLetter")
        .and_then(|f| serde_json::from_value::<Failure>(f.clone()).ok());
    let Some(failure) = failure.filter(|f| origins.contains(&f.queue.as_str())) else {
        return Ok(None);
    };
    if job.state == Some(JobState::Active) {
        return Err(JobOpError::WrongState {
            queue: dlq.to_string(),
            id: id.to_string(),
            state: JobState::Active.to_string(),
            hint: "a consumer of the dead-letter queue runs it; send it back once it ends".into(),
        });
    }
    let origin = &failure.queue;
    let how = match store.state(origin, &failure.id).await? {
        Some(JobState::Failed) => {
            store.retry_job(origin, &failure.id).await?;
            "retried"
        }
        // Gone (its retention removed it): a new job with the original name and data. A job
        // with that id in another state already runs again: nothing to add.
        None => {
            let data = job.data.get("data").cloned().unwrap_or_default();
            let mut spec = JobSpec::new(failure.name.clone(), data);
            // An integer id was the origin's counter: a custom id cannot take it.
            spec.job_id = super::job::validate_job_id(&failure.id)
                .is_ok()
                .then(|| failure.id.clone());
            let added = store.add(origin, spec).await?;
            store.remove_job(dlq, id).await?;
            return Ok(Some(SentBack {
                queue: origin.clone(),
                id: added,
                how: "added",
            }));
        }
        Some(state) => {
            return Err(JobOpError::WrongState {
                queue: origin.clone(),
                id: failure.id.clone(),
                state: state.to_string(),
                hint: format!("the origin of dead letter {dlq}/{id} is not failed any more: it runs again already"),
            })
        }
    };
    store.remove_job(dlq, id).await?;
    Ok(Some(SentBack {
        queue: origin.clone(),
        id: failure.id,
        how,
    }))
}

/// Adds `failure`'s dead letter with `data` to `target`; a letter already there (a replay)
/// counts as added.
pub async fn add(
    store: &Store,
    target: &str,
    failure: &Failure,
    data: serde_json::Value,
) -> Result<String, Error> {
    store.add(target, letter(failure, data)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(id: &str) -> Failure {
        Failure {
            queue: "email".into(),
            id: id.into(),
            name: "send".into(),
            failed_reason: "exit status 1".into(),
            attempts_made: 3,
            attempts: 3,
            stacktrace: vec!["exit status 1".into()],
            failed_on: 1,
            worker: "w".into(),
        }
    }

    #[test]
    fn the_letter_wraps_the_data_and_has_a_stable_safe_id() {
        let spec = letter(&failure("42"), serde_json::json!([1, 2]));
        assert_eq!(spec.name, "send");
        assert_eq!(spec.data["data"], serde_json::json!([1, 2]));
        assert_eq!(spec.data["deadLetter"]["failedReason"], "exit status 1");
        assert_eq!(spec.data["deadLetter"]["attemptsMade"], 3);
        assert_eq!(spec.job_id.as_deref(), Some("dl-email-42-3"));
        assert_eq!(letter_id("q", "a:b\n c", 1), "dl-q-a_b__c-1");
        let long = "x".repeat(1000);
        assert!(letter_id("q", &long, 1).len() < 220);
        assert!(crate::queue::validate_job_id(&letter_id("q", "7", 1)).is_ok());
    }
}
