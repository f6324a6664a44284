//! What every handler checks first, shared by the API routes and the SSE endpoint (which both
//! import it from here, so that neither reaches into the other).

use super::error::ApiError;
use super::AppState;
use crate::queue::Store;

/// The store, or 503 while it has not answered yet.
pub(crate) fn store(state: &AppState) -> Result<&Store, ApiError> {
    state.status.store().ok_or_else(|| {
        ApiError::Unavailable(format!(
            "the store at {} has not answered yet",
            state.status.redis_url
        ))
    })
}

/// Checks a queue name from the path.
pub(crate) fn queue_name(name: &str) -> Result<(), ApiError> {
    crate::rules::validate_queue_name(name).map_err(|m| ApiError::field("queue", m))
}
