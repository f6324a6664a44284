//! What an add that failed answers: the truth about whether the job is in the queue.
//!
//! A store can fail after it wrote the job (Redis runs the add script up to the failing
//! command and keeps what it already wrote; a connection can drop after the write). A blind
//! 500 makes a producer retry and add the job twice, so the answer says what happened: the job
//! is there (2xx, as a successful add), or it is not and a retry is safe (503 + Retry-After,
//! the retryable outcome producers and HTTP clients already honour).

use crate::http::error::ApiError;
use crate::queue::{Error as StoreError, Store};

/// Seconds a producer should wait before retrying an add that failed on the store's side.
const RETRY_AFTER_SECS: u32 = 5;

/// Turns a failed `store.add` into an answer: `Ok((id, note))` when the job with `job_id` is in
/// the queue after all, else the error to send.
pub(super) async fn add_failed(
    store: &Store,
    queue: &str,
    job_id: Option<String>,
    err: StoreError,
) -> Result<(String, Option<String>), ApiError> {
    // Refused before anything was written (bad job, full store, bad settings): their own
    // answers (400, 503 + Retry-After, 500) already tell the truth.
    if matches!(
        err,
        StoreError::InvalidJob { .. } | StoreError::Full { .. } | StoreError::Settings(_)
    ) {
        return Err(err.into());
    }
    let Some(id) = job_id else {
        // No id to look the job up by: whether it was written cannot be told.
        return Err(ApiError::Busy {
            message: format!(
                "{err}; the job may or may not have been added: retrying may add the job \
                 twice; give a jobId to make adds idempotent"
            ),
            retry_after_secs: RETRY_AFTER_SECS,
        });
    };
    match store.state(queue, &id).await {
        Ok(Some(state)) => {
            let note = format!(
                "the job is in the queue ({state}), but the store reported an error after \
                 writing it: {err}"
            );
            tracing::warn!(queue, job = %id.escape_debug(), error = %err, "add failed after the job was written; answering as added");
            Ok((id, Some(note)))
        }
        // With its jobId a retry adds the job at most once (a duplicate id is a no-op).
        Ok(None) => Err(ApiError::Busy {
            message: format!(
                "{err}; job {id} is not in the queue: fix the cause and retry the same \
                 request (with its jobId a retry adds the job at most once)"
            ),
            retry_after_secs: RETRY_AFTER_SECS,
        }),
        Err(check) => Err(ApiError::Busy {
            message: format!(
                "{err}; whether job {id} was added cannot be checked ({check}): retry the \
                 same request (with its jobId a retry adds the job at most once)"
            ),
            retry_after_secs: RETRY_AFTER_SECS,
        }),
    }
}

/// The answer when the store fails before an add wrote anything (the check whether `id`
/// exists): the job is not in the queue, and the same request may be retried once the cause
/// is fixed. Settings errors keep their own answer.
pub(super) fn not_added(queue: &str, id: &str, err: StoreError) -> ApiError {
    if matches!(err, StoreError::Settings(_) | StoreError::Auth { .. }) {
        return err.into();
    }
    ApiError::Busy {
        message: format!(
            "{err}; job {id} was not added to queue {queue}: fix the cause and retry the same \
             request (with its jobId a retry adds the job at most once)"
        ),
        retry_after_secs: RETRY_AFTER_SECS,
    }
}
