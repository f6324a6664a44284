//! Schedule endpoints: list (crontab lines and `[[schedule]]` tables, with latest run and next
//! fire time) and trigger now.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::body::JsonBody;
use super::jobs::Added;
use super::{store, ApiPath};
use crate::cron::backfill::BackfillError;
use crate::cron::pauses;
use crate::cron::report::{self, ScheduleRow};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::AppState;

/// List schedules with their latest run, next fire time, last success and latest check-in.
#[utoipa::path(get, path = "/api/schedules", tag = "schedules",
    responses((status = 200, body = [ScheduleRow])))]
pub async fn list_schedules(State(state): State<AppState>) -> Json<Vec<ScheduleRow>> {
    let plan = state.plan.borrow().clone();
    let (store, now, manual) = (
        state.status.store(),
        chrono::Utc::now(),
        &state.sched.manual,
    );
    let mut rows = report::rows(
        store,
        &plan,
        now,
        Some(manual),
        Some(&state.sched.successes),
    )
    .await;
    // Check-ins are each daemon's own deliveries (memory only): say whose view this is.
    for c in rows.iter_mut().filter_map(|r| r.checkin.as_mut()) {
        c.seen_by = Some(state.config.worker_id.clone());
    }
    Json(rows)
}

/// Run a schedule's target now, outside its schedule.
#[utoipa::path(post, path = "/api/schedules/{id}/trigger", tag = "schedules",
    params(("id" = String, Path, description = "Entry id")),
    responses((status = 201, body = Added), (status = 404, body = ErrorBody),
        (status = 409, description = "overlap = forbid and a run is not finished", body = ErrorBody)))]
pub async fn trigger_schedule(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    let plan = state.plan.borrow().clone();
    let store = store(&state)?;
    let manual = &state.sched.manual;
    match report::trigger(store, &state.config, &plan, manual, &id).await {
        None => Err(ApiError::NotFound(format!(
            "no schedule entry {id:?}: see GET /api/schedules"
        ))),
        Some(Ok(id)) => Ok((StatusCode::CREATED, Json(Added { id }))),
        // The entry's own policy refused: 409 naming the running job.
        Some(Err(e @ report::TriggerError::Busy { .. })) => Err(ApiError::Conflict(e.to_string())),
        Some(Err(report::TriggerError::Store(e))) => Err(e.into()),
    }
}

/// The body of a pause: an optional note (one line, at most 500 characters).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// Why, for the other operators (shown by the API, CLI and dashboard).
    pub note: Option<String>,
}

/// Whether a resume found the entry paused.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Resumed {
    /// `false` when it was not paused.
    pub was_paused: bool,
}

/// Pause one schedule entry on every replica: its ticks add no job until resumed.
#[utoipa::path(post, path = "/api/schedules/{id}/pause", tag = "schedules",
    params(("id" = String, Path, description = "Entry id")),
    request_body(content = Option<PauseBody>, description = "Optional note"),
    responses((status = 200, body = crate::queue::contract::SchedulePause), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn pause_schedule(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    req: axum::extract::Request,
) -> Result<Json<crate::queue::contract::SchedulePause>, ApiError> {
    // The body is optional (a bare POST pauses without a note); when sent, it goes through
    // the strict JSON extractor like every other body.
    // (A bare POST still carries the JSON content type, as the API asks of every change.)
    let h = req.headers();
    let sent = h.contains_key(axum::http::header::TRANSFER_ENCODING)
        || h.get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|n| n.trim() != "0");
    let note = if sent {
        use axum::extract::FromRequest;
        let JsonBody(b) = JsonBody::<PauseBody>::from_request(req, &state).await?;
        b.note
    } else {
        None
    };
    let plan = state.plan.borrow().clone();
    let store = store(&state)?;
    pauses::pause(store, &plan, &state.sched.pauses, &id, note.as_deref())
        .await
        .map(Json)
        .map_err(pause_error)
}

/// Resume a paused schedule entry on every replica.
#[utoipa::path(post, path = "/api/schedules/{id}/resume", tag = "schedules",
    params(("id" = String, Path, description = "Entry id")),
    responses((status = 200, body = Resumed), (status = 404, body = ErrorBody)))]
pub async fn resume_schedule(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Resumed>, ApiError> {
    let plan = state.plan.borrow().clone();
    let store = store(&state)?;
    pauses::resume(store, &plan, &state.sched.pauses, &id)
        .await
        .map(|was_paused| Json(Resumed { was_paused }))
        .map_err(pause_error)
}

fn pause_error(e: pauses::PauseError) -> ApiError {
    match e {
        pauses::PauseError::NoEntry(_) => ApiError::NotFound(e.to_string()),
        pauses::PauseError::BadNote(_) => ApiError::BadRequest {
            field: Some("note".into()),
            message: e.to_string(),
        },
        pauses::PauseError::Store(e) => e.into(),
    }
}

/// The range of a backfill.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillBody {
    /// First instant, RFC 3339.
    pub from: String,
    /// Last instant (inclusive, not in the future), RFC 3339.
    pub to: String,
}

/// How many ticks a backfill added.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Backfilled {
    /// Ticks added (those whose run already exists are not added again).
    pub added: usize,
}

/// Run an entry's ticks of a past range now, with their usual job ids (repeating adds nothing).
#[utoipa::path(post, path = "/api/schedules/{id}/backfill", tag = "schedules",
    params(("id" = String, Path, description = "Entry id")),
    request_body = BackfillBody,
    responses((status = 200, body = Backfilled), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn backfill_schedule(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<BackfillBody>,
) -> Result<Json<Backfilled>, ApiError> {
    let instant = |field: &str, text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| ApiError::BadRequest {
                field: Some(field.into()),
                message: format!("{text:?}: {e}; use RFC 3339, e.g. 2027-01-01T03:00:00Z"),
            })
    };
    let (from, to) = (instant("from", &body.from)?, instant("to", &body.to)?);
    let plan = state.plan.borrow().clone();
    let store = store(&state)?;
    match crate::cron::backfill::backfill(store, &state.config, &plan, &id, from, to).await {
        Ok(added) => Ok(Json(Backfilled { added })),
        Err(e @ BackfillError::NoEntry(_)) => Err(ApiError::NotFound(e.to_string())),
        Err(e @ BackfillError::BadRange(_)) => Err(ApiError::BadRequest {
            field: None,
            message: e.to_string(),
        }),
        Err(BackfillError::Store(e)) => Err(e.into()),
    }
}
