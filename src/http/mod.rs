//! The HTTP room: one listener (`WORKER_LISTEN`). [`router`] builds the routes from shared
//! state and is served by `app`; tests call it with `oneshot`.

pub mod health;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

use crate::status::Status;

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The daemon's status (store, pools, draining).
    pub status: Arc<Status>,
}

/// All routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .with_state(state)
}
