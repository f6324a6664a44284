//! Job endpoints: list by state, add, show, remove, retry, promote.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::add_truth::add_failed;
use super::preview::JobListPage;
use super::{queue_name, store, ApiPath, JsonBody, OnJob, OnQueue};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::AppState;
use crate::queue::dead_letter;
use crate::queue::{
    parse_millis_or_duration, Backoff, JobInfo, JobOverrides, JobSpec, JobState, Store,
};

/// Offsets beyond this are past the end of any list; the stores take the index as a signed
/// 64-bit number, where a larger one would wrap to a negative index (the last page).
const MAX_OFFSET: u64 = (i64::MAX / 2) as u64;

/// Paging of a job list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// `waiting`, `prioritized`, `active`, `delayed`, `completed`, `failed`, `waiting-children` (default `waiting`).
    pub state: Option<String>,
    /// First index (default 0).
    pub offset: Option<u64>,
    /// Page size, 1..=500 (default 50).
    pub limit: Option<u64>,
}

/// List a queue's jobs in one state, paged. Items carry previews of their data, return value
/// and error (`truncated` names what was cut); the full job is at its own URL.
#[utoipa::path(get, path = "/api/queues/{queue}/jobs", tag = "jobs",
    params(("queue" = String, Path, description = "Queue name"), JobsQuery),
    responses((status = 200, body = JobListPage), (status = 400, body = ErrorBody)))]
pub async fn list_jobs(
    OnQueue { state, queue }: OnQueue,
    query: Result<Query<JobsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<JobListPage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let job_state = match q.state.as_deref() {
        None => JobState::Waiting,
        Some(text) => text
            .parse::<JobState>()
            .map_err(|e| ApiError::field("state", e.to_string()))?,
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1..=500"));
    }
    let offset = q.offset.unwrap_or(0);
    let mut page = super::preview::read_page(
        store(&state)?,
        &queue,
        job_state,
        offset.min(MAX_OFFSET),
        limit,
    )
    .await?;
    page.offset = offset;
    Ok(Json(page))
}

/// A delay as milliseconds or a duration text (`30s`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum DurationInput {
    /// Milliseconds.
    Millis(u64),
    /// `30s`, `5m`, …
    Text(String),
}

/// A job to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddJobRequest {
    /// Job name (selects the handler).
    pub name: String,
    /// Job data (any JSON; default `{}`).
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    /// Run after this long (at most 10 years).
    pub delay: Option<DurationInput>,
    /// 1 (first) ..= 2,097,151 (BullMQ's maximum); unset = plain FIFO.
    pub priority: Option<u32>,
    /// Total attempts, 1..=10000 (default: the handler's).
    pub attempts: Option<u32>,
    /// `exponential:5000` or `fixed:1000` (default: the handler's).
    pub backoff: Option<String>,
    /// Custom id: not an integer, no `:`.
    pub job_id: Option<String>,
}

/// The id of an added job.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Added {
    /// Job id.
    pub id: String,
}

/// The outcome of an add: the job's id, and whether a job with that custom id was already there.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddedJob {
    /// Job id.
    pub id: String,
    /// A job with this `jobId` already existed: nothing was added or changed (BullMQ's
    /// `Queue.add` returns the existing job the same way).
    pub existed: bool,
    /// Set when the add reported an error but the job is in the queue all the same (the
    /// store failed after writing it): says what failed, so the operator can fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Add a job. Unset options take the handler's settings from the config. A `jobId` that
/// already exists adds nothing: 200 with `existed: true` (201 when the job was created).
#[utoipa::path(post, path = "/api/queues/{queue}/jobs", tag = "jobs",
    params(("queue" = String, Path, description = "Queue name")),
    request_body = AddJobRequest,
    responses((status = 201, body = AddedJob, description = "Created"),
        (status = 200, body = AddedJob, description = "A job with this jobId already existed; nothing changed"),
        (status = 400, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "The store failed and the job is not in the queue (or, without a jobId, cannot be told to be): retry after Retry-After")))]
pub async fn add_job(
    State(state): State<AppState>,
    ApiPath(queue): ApiPath<String>,
    JsonBody(req): JsonBody<AddJobRequest>,
) -> Result<(StatusCode, Json<AddedJob>), ApiError> {
    queue_name(&queue)?;
    let delay = match req.delay {
        None => None,
        // Its limit is checked with the rest of the job by `spec.validate()` below.
        Some(DurationInput::Millis(ms)) => Some(std::time::Duration::from_millis(ms)),
        Some(DurationInput::Text(t)) => {
            Some(parse_millis_or_duration(&t).map_err(|e| ApiError::field("delay", e))?)
        }
    };
    let backoff = req
        .backoff
        .as_deref()
        .map(Backoff::parse)
        .transpose()
        .map_err(|e| ApiError::field("backoff", e))?;
    let overrides = JobOverrides {
        job_id: req.job_id,
        delay,
        priority: req.priority,
        attempts: req.attempts,
        backoff,
    };
    let defaults = &state.config.job_settings(&queue, &req.name).options;
    let data = req.data.unwrap_or_else(|| serde_json::json!({}));
    let spec = JobSpec::for_handler(&req.name, data, defaults, overrides);
    // The store checks it again in `add`; checking here too answers 400 (not 503) while the
    // store is still connecting, with the same message.
    let spec = spec
        .validate()
        .map_err(|e| ApiError::field(e.field, e.reason))?
        .into_spec();
    let store = store(&state)?;
    // The stores add a duplicate custom id as a no-op and answer its id either way, so ask
    // first. Two concurrent adds of one new id can both read "absent" and both answer 201;
    // only one job exists all the same, which is what matters to a retrying client.
    let existed = match &spec.job_id {
        Some(id) => match store.state(&queue, id).await {
            Ok(state) => state.is_some(),
            // Nothing is written yet: the store's fault (a wrong-typed key, Redis away) is
            // told as one a producer may retry once it is fixed, not as a blind 500.
            Err(e) => return Err(super::add_truth::not_added(&queue, id, e)),
        },
        None => false,
    };
    let job_id = spec.job_id.clone();
    let (id, note) = match store.add(&queue, spec).await {
        Ok(id) => (id, None),
        Err(e) => add_failed(store, &queue, job_id, e).await?,
    };
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(AddedJob { id, existed, note })))
}

/// One job: data, options, state, progress, logs, attempts, result or error, timestamps.
#[utoipa::path(get, path = "/api/queues/{queue}/jobs/{id}", tag = "jobs",
    params(("queue" = String, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobInfo), (status = 404, body = ErrorBody)))]
pub async fn get_job(OnJob { state, queue, id }: OnJob) -> Result<Json<JobInfo>, ApiError> {
    store(&state)?
        .job(&queue, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("job {queue}/{id} does not exist")))
}

/// Remove a job that is not active.
#[utoipa::path(delete, path = "/api/queues/{queue}/jobs/{id}", tag = "jobs",
    params(("queue" = String, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_job(OnJob { state, queue, id }: OnJob) -> Result<StatusCode, ApiError> {
    store(&state)?.remove_job(&queue, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A job moved by an operation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Moved {
    /// Job id.
    pub id: String,
    /// Its new state.
    pub state: String,
    /// A dead letter sent back: the origin queue it went to (`id` is the job there), `retried`
    /// or `added` in `how`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_back_to: Option<String>,
    /// How a dead letter went back: `retried` (its origin job, still failed, was retried) or
    /// `added` (the origin job was gone: a new one with its name and data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
}

/// Move a failed job back to waiting. On a dead letter (a job of a queue named as another
/// queue's `dead_letter`), send it back to its origin queue instead: the origin job is retried
/// when it is still failed, else a new job with its name and data is added there; the dead
/// letter is removed.
#[utoipa::path(post, path = "/api/queues/{queue}/jobs/{id}/retry", tag = "jobs",
    params(("queue" = String, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Moved), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry_job(OnJob { state, queue, id }: OnJob) -> Result<Json<Moved>, ApiError> {
    let store = store(&state)?;
    let origins = state.config.dead_letter_sources(&queue);
    if !origins.is_empty() {
        if let Some(back) = dead_letter::send_back(store, &queue, &id, &origins).await? {
            let now = store.state(&back.queue, &back.id).await?;
            return Ok(Json(Moved {
                id: back.id,
                state: now.map(|s| s.to_string()).unwrap_or_default(),
                sent_back_to: Some(back.queue),
                how: Some(back.how.into()),
            }));
        }
    }
    store.retry_job(&queue, &id).await?;
    moved(store, &queue, id).await
}

/// Make a delayed job ready now.
#[utoipa::path(post, path = "/api/queues/{queue}/jobs/{id}/promote", tag = "jobs",
    params(("queue" = String, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Moved), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn promote_job(OnJob { state, queue, id }: OnJob) -> Result<Json<Moved>, ApiError> {
    let store = store(&state)?;
    store.promote_job(&queue, &id).await?;
    moved(store, &queue, id).await
}

/// The answer to a move: the job's state after it (empty when it is gone meanwhile).
async fn moved(store: &Store, queue: &str, id: String) -> Result<Json<Moved>, ApiError> {
    let now = store.state(queue, &id).await?.map(|s| s.to_string());
    Ok(Json(Moved {
        id,
        state: now.unwrap_or_default(),
        sent_back_to: None,
        how: None,
    }))
}
