//! The opening every queue, job and program route shares, as extractors: the app state, and the
//! queue name from the path checked by the queue-name rule. Written once here rather than as the
//! same lines (`State`, `ApiPath`, `queue_name(&queue)?`) at the top of each handler.
//!
//! Routes with a JSON body keep that opening in the handler: axum reads the body after every
//! path extractor, and those routes answer a bad body before a bad queue name.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{queue_name, ApiPath};
use crate::http::error::ApiError;
use crate::http::AppState;

/// `/api/queues/{queue}/…`: the state and a queue name that passed the rule (else 400 naming
/// `queue`).
pub struct OnQueue {
    /// The app state.
    pub state: AppState,
    /// The queue, valid.
    pub queue: String,
}

impl FromRequestParts<AppState> for OnQueue {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (state, queue) = checked::<String>(parts, state, |queue| queue).await?;
        Ok(OnQueue { state, queue })
    }
}

/// `/api/queues/{queue}/jobs/{id}/…`: as [`OnQueue`], with the job id.
pub struct OnJob {
    /// The app state.
    pub state: AppState,
    /// The queue, valid.
    pub queue: String,
    /// The job id, as given.
    pub id: String,
}

impl FromRequestParts<AppState> for OnJob {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (state, (queue, id)) =
            checked::<(String, String)>(parts, state, |(queue, _)| queue).await?;
        Ok(OnJob { state, queue, id })
    }
}

/// `/api/programs/{name}/…`: the state, and the name in the path (a program, an instance
/// `NAME:00` or `all`; the supervisor says 404 for an unknown one).
pub struct OnProgram(pub AppState, pub String);

impl FromRequestParts<AppState> for OnProgram {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ApiPath(name) = ApiPath::from_request_parts(parts, state).await?;
        Ok(OnProgram(state.clone(), name))
    }
}

/// The path's parameters `P`, once the queue name `queue_of` finds in them passes the rule; and
/// the state, cloned as axum's `State` does.
async fn checked<P: DeserializeOwned + Send>(
    parts: &mut Parts,
    state: &AppState,
    queue_of: impl FnOnce(&P) -> &String,
) -> Result<(AppState, P), ApiError> {
    let ApiPath(path) = ApiPath::<P>::from_request_parts(parts, state).await?;
    queue_name(queue_of(&path))?;
    Ok((state.clone(), path))
}
