//! The HTTP room: one listener (`WORKER_LISTEN`). [`router`] builds every route from shared
//! state and is served by `app`; tests call it with `oneshot`.
//!
//! - `/health` ([`health`]): never needs a token.
//! - `/api/...` ([`api`]), `/api/events` ([`events`], SSE), `/api/openapi.json` (generated from
//!   the handlers), `/metrics` ([`metrics`]), `/` ([`ui`], the dashboard): behind [`auth`].
//!
//! In open mode (no token) `browser` keeps other web pages out: no cross-site mutation, no
//! rebinding `Host`; every answer forbids framing.
//!
//! [`serve`] runs the router on a listener `app` bound, closing idle connections and capping
//! how many are served at once.

pub mod api;
pub mod auth;
mod browser;
pub mod error;
pub mod events;
pub mod health;
pub mod health_queue;
pub mod health_unconsumed;
mod precondition;
pub mod prometheus;
mod prometheus_groups;
pub mod serve;
pub mod ui;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Json, Router};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::cron::{Plan, SchedulerStats};
use crate::metrics::Metrics;
use crate::status::Status;
use error::ApiError;

/// Largest request body accepted (jobs carry data, not files).
pub const BODY_LIMIT: usize = 1 << 20;

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The daemon's status (store, pools, draining).
    pub status: Arc<Status>,
    /// The configuration (job defaults for jobs added through the API).
    pub config: Arc<Config>,
    /// The current schedule plan; `app` swaps it on reload.
    pub plan: watch::Receiver<Arc<Plan>>,
    /// Run counters.
    pub metrics: Arc<Metrics>,
    /// Cron counters.
    pub sched: Arc<SchedulerStats>,
    /// `API_TOKEN`, when set.
    pub api_token: Option<Arc<str>>,
    /// No token, and the listener is reachable from the network without `--insecure-open-api`:
    /// the API and dashboard answer 401 saying how to enable them ([`auth`]).
    pub api_locked: bool,
    /// The shared event readers and the cap on SSE clients ([`events::Hub`]).
    pub sse: Arc<events::Hub>,
    /// Fired by `app` just before the server stops, so that SSE streams end and graceful
    /// shutdown does not wait for them.
    pub closing: CancellationToken,
    /// The supervised programs (an empty handle when there are none).
    pub programs: crate::programs::Programs,
}

/// `/metrics` alone, without the token guard: the `-prometheus-listen-address` port, which
/// the operator opens for a scraper on purpose (Supercronic serves it the same way).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(prometheus::metrics))
        .with_state(state)
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api::routes().split_for_parts();
    let doc = Arc::new(doc);
    Router::new()
        .route("/health", get(health::health))
        .route("/metrics", get(prometheus::metrics))
        .route(
            "/api/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .route("/", get(ui::index))
        .merge(api)
        .fallback(|| async { ApiError::NotFound("no such route: see /api/openapi.json".into()) })
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(middleware::map_response(browser::harden))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
