//! A pool's processor with an OpenTelemetry span around each job run (`telemetry::otel`):
//! the run's future executes under the span's context, so handlers find it there and pass it
//! on (`TRACEPARENT`, `traceparent`). [`traced`] returns the processor itself when traces are
//! off: no wrapper, no span, nothing per job.

use std::sync::Arc;

use async_trait::async_trait;
use opentelemetry::context::FutureExt as _;

use crate::queue::job_opts::telemetry_metadata;
use crate::queue::{ActiveJob, Outcome, Processor};
use crate::telemetry::otel::{self, RunEnd, RunInfo};

/// `processor`, traced when traces are on.
pub fn traced(processor: Arc<dyn Processor>) -> Arc<dyn Processor> {
    match otel::enabled() {
        true => Arc::new(Traced { inner: processor }),
        false => processor,
    }
}

/// Spans each run of `inner`.
struct Traced {
    /// The pool's dispatch (shared with the cancel router, which holds another `Arc`).
    inner: Arc<dyn Processor>,
}

#[async_trait]
impl Processor for Traced {
    /// The producer's trace context travels in the stored options (`tm`).
    fn wants_opts(&self, _name: &str) -> bool {
        true
    }

    async fn process(&self, job: ActiveJob) -> Outcome {
        let span = otel::job_span(RunInfo {
            queue: &job.queue,
            name: &job.name,
            id: &job.id,
            attempt: job.attempt,
            producer: telemetry_metadata(&job.opts),
        });
        let Some(span) = span else {
            return self.inner.process(job).await;
        };
        let (attempt, max) = (job.attempt, job.max_attempts);
        let outcome = self.inner.process(job).with_context(span.context()).await;
        span.end(match &outcome {
            Outcome::Completed(_) => RunEnd::Completed,
            Outcome::Retry(reason) if crate::queue::retry::retries(attempt, max) => {
                RunEnd::Retried(reason)
            }
            Outcome::Retry(reason) | Outcome::Fail(reason) => RunEnd::Failed(reason),
            Outcome::Release | Outcome::Defer(_) => RunEnd::Released,
        });
        outcome
    }
}
