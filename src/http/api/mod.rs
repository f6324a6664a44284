//! The JSON API under `/api`. Routes are declared with their OpenAPI description next to each
//! handler; [`routes`] collects both, so `/api/openapi.json` is generated from the handlers and
//! cannot drift from them.

mod add_truth;
mod body;
pub mod cancel;
pub mod charts;
pub mod jobs;
mod path;
pub mod preview;
pub mod programs;
pub mod queues;
mod route;
pub mod schedules;
pub mod timeline;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ErrorBody;
pub(crate) use super::precondition::{queue_name, store};
use super::AppState;

pub(crate) use body::is_json;
pub use body::JsonBody;
pub use path::ApiPath;
pub use route::{OnJob, OnProgram, OnQueue};

/// The document's fixed parts; paths are added by [`routes`].
#[derive(OpenApi)]
#[openapi(
    info(title = "cronq API", description = "Queues, jobs and schedules of a cronq worker (BullMQ layout in Redis). With API_TOKEN set, send `Authorization: Bearer <token>`."),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every API route with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(queues::list_queues))
        .routes(routes!(queues::pause_queue))
        .routes(routes!(queues::resume_queue))
        .routes(routes!(queues::retry_failed))
        .routes(routes!(queues::clean_queue))
        .routes(routes!(charts::queue_metrics))
        .routes(routes!(jobs::list_jobs, jobs::add_job))
        .routes(routes!(jobs::get_job, jobs::remove_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(jobs::promote_job))
        .routes(routes!(cancel::cancel_job))
        .routes(routes!(schedules::list_schedules))
        .routes(routes!(schedules::trigger_schedule))
        .routes(routes!(schedules::pause_schedule))
        .routes(routes!(schedules::resume_schedule))
        .routes(routes!(schedules::backfill_schedule))
        .routes(routes!(timeline::schedules_timeline))
        .routes(routes!(super::events::events))
        .routes(routes!(programs::list_programs))
        .routes(routes!(programs::start_program))
        .routes(routes!(programs::stop_program))
        .routes(routes!(programs::restart_program))
        .routes(routes!(programs::tail_program))
}
