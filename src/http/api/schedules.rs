//! Schedule endpoints: list (crontab lines and `[[schedule]]` tables, with latest run and next
//! fire time) and trigger now.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::jobs::Added;
use super::{store, ApiPath};
use crate::cron::report::{self, ScheduleRow};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::AppState;

/// List schedules with their latest run and next fire time.
#[utoipa::path(get, path = "/api/schedules", tag = "schedules",
    responses((status = 200, body = [ScheduleRow])))]
pub async fn list_schedules(State(state): State<AppState>) -> Json<Vec<ScheduleRow>> {
    let plan = state.plan.borrow().clone();
    let (store, now, manual) = (
        state.status.store(),
        chrono::Utc::now(),
        &state.sched.manual,
    );
    Json(report::rows(store, &plan, now, Some(manual)).await)
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
