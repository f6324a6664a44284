//! Supervised programs (`[programs.NAME]`): `supervisorctl status|start|stop|restart|tail`
//! over HTTP. `worker programs|start|stop|restart|tail` call these.

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiPath, OnProgram};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::AppState;
use crate::programs::tail::{Stream, TailLine};
use crate::programs::{Action, ControlError, InstanceStatus};

/// Every instance of every program.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProgramList {
    /// By instance name (`NAME:00`).
    pub programs: Vec<InstanceStatus>,
}

/// Which output, and how much.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TailQuery {
    /// `stdout` (default) or `stderr`.
    pub stream: Option<Stream>,
    /// The last this many lines, default 20, at most 1000.
    pub lines: Option<usize>,
    /// Only lines numbered above this (`tail -f` passes the last `seq` it printed).
    pub after: Option<u64>,
}

/// The last lines of one instance's output.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TailBody {
    /// The instance (`NAME:00`; a program name means its first instance).
    pub instance: String,
    /// `stdout` or `stderr`.
    pub stream: Stream,
    /// Oldest first.
    pub lines: Vec<TailLine>,
    /// The number of the newest line printed so far (shown or not): pass it as `after` to
    /// get only what comes next.
    pub newest: u64,
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> ApiError {
        ApiError::NotFound(e.to_string())
    }
}

/// List every program instance with its state, pid, uptime and restarts.
#[utoipa::path(get, path = "/api/programs", tag = "programs",
    responses((status = 200, body = ProgramList)))]
pub async fn list_programs(State(state): State<AppState>) -> Json<ProgramList> {
    Json(ProgramList {
        programs: state.programs.status(),
    })
}

async fn control(
    OnProgram(state, name): OnProgram,
    action: Action,
) -> Result<Json<ProgramList>, ApiError> {
    if action != Action::Stop && state.status.draining() {
        return Err(ApiError::Unavailable(
            "the daemon is shutting down: programs are being stopped, not started".into(),
        ));
    }
    let programs = state.programs.control(&name, action).await?;
    Ok(Json(ProgramList { programs }))
}

/// Start a program's instances (`NAME`), one instance (`NAME:00`) or `all`; answers once they
/// are RUNNING, or settled otherwise (FATAL, EXITED), or after 30 s with their states then.
#[utoipa::path(post, path = "/api/programs/{name}/start", tag = "programs",
    params(("name" = String, Path, description = "NAME, NAME:00 or all")),
    responses((status = 200, body = ProgramList), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn start_program(p: OnProgram) -> Result<Json<ProgramList>, ApiError> {
    control(p, Action::Start).await
}

/// Stop (stopsignal, then KILL after stopwaitsecs); answers once they are STOPPED.
#[utoipa::path(post, path = "/api/programs/{name}/stop", tag = "programs",
    params(("name" = String, Path, description = "NAME, NAME:00 or all")),
    responses((status = 200, body = ProgramList), (status = 404, body = ErrorBody)))]
pub async fn stop_program(p: OnProgram) -> Result<Json<ProgramList>, ApiError> {
    control(p, Action::Stop).await
}

/// Stop, then start.
#[utoipa::path(post, path = "/api/programs/{name}/restart", tag = "programs",
    params(("name" = String, Path, description = "NAME, NAME:00 or all")),
    responses((status = 200, body = ProgramList), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn restart_program(p: OnProgram) -> Result<Json<ProgramList>, ApiError> {
    control(p, Action::Restart).await
}

/// The last lines one instance printed (kept in memory: the last 1000 per stream).
#[utoipa::path(get, path = "/api/programs/{name}/tail", tag = "programs",
    params(("name" = String, Path, description = "NAME:00, or NAME for its first instance"), TailQuery),
    responses((status = 200, body = TailBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn tail_program(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    query: Result<Query<TailQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TailBody>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let stream = q.stream.unwrap_or(Stream::Stdout);
    let n = q.lines.unwrap_or(20).min(crate::programs::tail::KEPT_LINES);
    let (instance, lines, newest) = state
        .programs
        .tail(&name, stream, n, q.after.unwrap_or(0))?;
    Ok(Json(TailBody {
        instance,
        stream,
        lines,
        newest,
    }))
}
