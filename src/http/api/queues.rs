//! Queue-level endpoints: list with counts, pause/resume, retry all failed, clean.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{queue_name, store, ApiPath, JsonBody, OnQueue};
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::queue::{JobCounts, JobState};

/// A queue with its counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueSummary {
    /// Queue name.
    pub name: String,
    /// Jobs per state.
    pub counts: JobCounts,
    /// Paused for every worker.
    pub paused: bool,
    /// Whether this daemon consumes it.
    pub consumed: bool,
    /// Jobs this daemon runs now (consumed queues).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<usize>,
    /// Jobs this daemon may run at once (consumed queues).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Set when the name (found in Redis, written by another producer) breaks the queue-name
    /// rule: why. Every route answers 400 for it, so it is listed but not acted on, and its
    /// counts are not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
    /// Why this queue could not be read (e.g. a wrong-typed key, named); its counts are then
    /// zero. One broken queue does not fail the listing of the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Queues with fair groups (`group_concurrency`, `group_rate`): running and waiting jobs
    /// of the busiest 50 groups (jobs set aside for a full group are counted here, not in
    /// `counts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<crate::queue::groups::GroupCount>>,
}

/// List queues (those under the prefix, and those this daemon consumes) with counts.
#[utoipa::path(get, path = "/api/queues", tag = "queues",
    responses((status = 200, body = [QueueSummary]), (status = 503, body = crate::http::error::ErrorBody)))]
pub async fn list_queues(
    State(state): State<AppState>,
) -> Result<Json<Vec<QueueSummary>>, ApiError> {
    let store = store(&state)?;
    let probes = state.status.queues();
    let mut names = store.discover_queues().await?;
    names.extend(probes.keys().cloned());
    names.extend(state.config.queues.keys().cloned());
    names.sort();
    names.dedup();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if let Err(reason) = crate::rules::validate_queue_name(&name) {
            out.push(QueueSummary {
                counts: JobCounts::default(),
                paused: false,
                consumed: false,
                running: None,
                concurrency: None,
                invalid: Some(reason),
                error: None,
                groups: None,
                name,
            });
            continue;
        }
        let probe = probes.get(&name);
        let (counts, paused) = match (store.counts(&name).await, store.is_paused(&name).await) {
            (Ok(c), Ok(p)) => (Ok(c), p),
            (Err(e), _) | (_, Err(e)) => (Err(e), false),
        };
        let (counts, error) = match counts {
            Ok(c) => (c, None),
            // The whole store failing is the listing's error; one queue's data is its row's.
            Err(e) if e.fault().is_store_wide() => return Err(e.into()),
            Err(e) => (JobCounts::default(), Some(e.to_string())),
        };
        let groups = match state
            .config
            .queues
            .get(&name)
            .and_then(|q| q.groups.as_ref())
        {
            Some(policy) => store.group_counts(&name, policy).await.ok(),
            None => None,
        };
        out.push(QueueSummary {
            counts,
            paused,
            error,
            groups,
            consumed: probe.is_some(),
            running: probe.map(|p| p.running()),
            concurrency: probe.map(|p| p.concurrency),
            invalid: None,
            name,
        });
    }
    Ok(Json(out))
}

/// The state of a queue after pause/resume.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PauseState {
    /// Queue.
    pub queue: String,
    /// Now paused.
    pub paused: bool,
}

/// Pause a queue for every worker (cronq and BullMQ's own).
#[utoipa::path(post, path = "/api/queues/{queue}/pause", tag = "queues",
    params(("queue" = String, Path, description = "Queue name")),
    responses((status = 200, body = PauseState), (status = 400, body = crate::http::error::ErrorBody)))]
pub async fn pause_queue(q: OnQueue) -> Result<Json<PauseState>, ApiError> {
    set_paused(q, true).await
}

/// Resume a paused queue.
#[utoipa::path(post, path = "/api/queues/{queue}/resume", tag = "queues",
    params(("queue" = String, Path, description = "Queue name")),
    responses((status = 200, body = PauseState), (status = 400, body = crate::http::error::ErrorBody)))]
pub async fn resume_queue(q: OnQueue) -> Result<Json<PauseState>, ApiError> {
    set_paused(q, false).await
}

/// Pauses or resumes `q` for every worker; answers its state now.
async fn set_paused(q: OnQueue, paused: bool) -> Result<Json<PauseState>, ApiError> {
    let store = store(&q.state)?;
    if paused {
        store.pause(&q.queue).await?;
    } else {
        store.resume(&q.queue).await?;
    }
    let queue = q.queue;
    Ok(Json(PauseState { queue, paused }))
}

/// How many jobs an operation moved or removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Affected {
    /// Queue.
    pub queue: String,
    /// Jobs affected.
    pub count: u64,
}

/// Move every failed job of a queue back to waiting.
#[utoipa::path(post, path = "/api/queues/{queue}/retry-failed", tag = "queues",
    params(("queue" = String, Path, description = "Queue name")),
    responses((status = 200, body = Affected)))]
pub async fn retry_failed(q: OnQueue) -> Result<Json<Affected>, ApiError> {
    let count = store(&q.state)?
        .retry_all_failed(&q.queue, |_, _| {})
        .await?;
    let queue = q.queue;
    Ok(Json(Affected { queue, count }))
}

/// What to clean.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CleanRequest {
    /// `completed` or `failed`.
    pub state: String,
    /// Remove jobs finished longer ago than this (`7d`, `24h`, `30m`).
    pub older_than: String,
}

/// Remove completed or failed jobs older than a duration.
#[utoipa::path(post, path = "/api/queues/{queue}/clean", tag = "queues",
    params(("queue" = String, Path, description = "Queue name")),
    request_body = CleanRequest,
    responses((status = 200, body = Affected), (status = 400, body = crate::http::error::ErrorBody)))]
pub async fn clean_queue(
    State(state): State<AppState>,
    ApiPath(queue): ApiPath<String>,
    JsonBody(req): JsonBody<CleanRequest>,
) -> Result<Json<Affected>, ApiError> {
    queue_name(&queue)?;
    // Parsed and checked here too (the store facade checks again) so that the answer names
    // the field: one rule, `JobState::cleanable`.
    let clean_state = req
        .state
        .parse::<JobState>()
        .map_err(|e| e.to_string())
        .and_then(JobState::cleanable)
        .map_err(|e| ApiError::field("state", e))?;
    let age = humantime::parse_duration(&req.older_than)
        .map_err(|e| format!("{:?} is not a duration ({e}): e.g. \"7d\"", req.older_than))
        .and_then(crate::queue::check_job_duration)
        .map_err(|e| ApiError::field("olderThan", e))?;
    let count = store(&state)?.clean(&queue, clean_state, age).await?;
    Ok(Json(Affected { queue, count }))
}
