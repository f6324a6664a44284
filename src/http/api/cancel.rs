//! `POST /api/queues/{queue}/jobs/{id}/cancel`: cancel a job from any daemon
//! (`queue::cancel` says what happens in each state).

use axum::Json;
use serde::Serialize;

use super::{store, OnJob};
use crate::http::error::{ApiError, ErrorBody};
use crate::metrics::queue_ops::CancelHow;
use crate::queue::cancel::{self, Cancelled};

/// What a cancel did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelAnswer {
    /// Job id.
    pub id: String,
    /// `removed` (it had not started) or `stopped` (its run was stopped).
    pub outcome: String,
    /// The state it was in when asked.
    pub was: String,
    /// Its state now: `removed`; `failed` once its stopped run ended, `active` while it
    /// still winds down (the handler's kill grace), `unknown` when its retention removed it.
    pub state: String,
    /// The WORKER_ID of the daemon that stopped its run (`stopped` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// The failed reason the job carries (`stopped` only): names who cancelled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Cancel a job, from any daemon. A job that has not started (waiting, prioritized, delayed,
/// waiting for children) is removed. A running job is stopped by the cronq daemon that runs
/// it, whichever replica (process group TERM then KILL, HTTP request aborted, builtin
/// dropped); it ends failed with a reason naming who cancelled it and is not retried. 409
/// when it has finished, or when no cronq daemon acknowledged running it within 2 s (a
/// Node BullMQ worker holds it, out of cronq's reach).
#[utoipa::path(post, path = "/api/queues/{queue}/jobs/{id}/cancel", tag = "jobs",
    params(("queue" = String, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")),
    responses((status = 200, body = CancelAnswer), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Finished already, or running outside cronq's reach (the error says which)")))]
pub async fn cancel_job(OnJob { state, queue, id }: OnJob) -> Result<Json<CancelAnswer>, ApiError> {
    let by = format!("by the API of worker {}", state.config.worker_id);
    let done = cancel::cancel(store(&state)?, &queue, &id, &by).await?;
    let answer = match done {
        Cancelled::Removed(was) => {
            state.metrics.ops.cancelled(&queue, CancelHow::Removed);
            CancelAnswer {
                id,
                outcome: "removed".into(),
                was: was.to_string(),
                state: "removed".into(),
                stopped_by: None,
                reason: None,
            }
        }
        Cancelled::Stopped { holder, state: now } => CancelAnswer {
            id,
            outcome: "stopped".into(),
            was: "active".into(),
            state: now.to_string(),
            stopped_by: Some(holder),
            reason: Some(cancel::reason(&by)),
        },
    };
    Ok(Json(answer))
}
