//! OpenTelemetry traces over OTLP/HTTP (protobuf): one span per job run, one per cron tick's
//! enqueue, each run a child of the producer's span when the job carries BullMQ's telemetry
//! context (`otel_context.rs`), and the run's context handed to its handler (`TRACEPARENT` in
//! an exec job's environment, a `traceparent` header on an http handler's request).
//!
//! Off unless `app` installs it from the standard `OTEL_*` variables ([`TraceConfig`]): then
//! there is no exporter, no thread and no span; each call below is one read of a `OnceLock`.
//! Installed, spans are batched and sent by the SDK's own thread (the blocking reqwest
//! client), so exporting never holds a tokio worker; a collector that is down costs the
//! dropped batches, never a job.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;

pub use super::otel_context::{trace_headers, TraceHeaders};

/// Where spans go and how they are labelled: read from the `OTEL_*` variables by `app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceConfig {
    /// The full traces URL (`…/v1/traces`).
    pub endpoint: String,
    /// Headers sent with each export (an API key); never logged.
    pub headers: Vec<(String, String)>,
    /// `service.name` of every span.
    pub service_name: String,
    /// More resource attributes (`OTEL_RESOURCE_ATTRIBUTES`).
    pub resource: Vec<(String, String)>,
    /// How long one export may take.
    pub timeout: Duration,
}

/// Why traces could not be installed (a configuration error: the daemon does not start).
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The exporter refused its settings (a malformed endpoint).
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT {endpoint:?}: {reason}; write the collector's OTLP/HTTP address, e.g. http://otel-collector:4318")]
    Exporter {
        /// The endpoint tried.
        endpoint: String,
        /// What the exporter said.
        reason: String,
    },
    /// Installed twice in one process.
    #[error("traces are already installed in this process")]
    Twice,
}

/// The tracer, set once by [`install`]; `None` (never set) means traces are off.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// The installed provider. Held by `app` for the daemon's life; dropping it exports the spans
/// still queued (bounded by [`FLUSH_LIMIT`]).
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

/// How long the exit waits for the last spans to be exported.
const FLUSH_LIMIT: Duration = Duration::from_secs(3);

impl Drop for Traces {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown_with_timeout(FLUSH_LIMIT) {
            tracing::warn!(error = %e, "traces: the last spans were not all exported");
        }
    }
}

/// Starts exporting spans as `config` says.
pub fn install(config: &TraceConfig) -> Result<Traces, TraceError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(config.endpoint.clone())
        .with_timeout(config.timeout)
        .with_headers(config.headers.iter().cloned().collect::<HashMap<_, _>>())
        .build()
        .map_err(|e| TraceError::Exporter {
            endpoint: config.endpoint.clone(),
            reason: e.to_string(),
        })?;
    let resource = Resource::builder_empty()
        .with_service_name(config.service_name.clone())
        .with_attributes(
            config
                .resource
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    use opentelemetry::trace::TracerProvider as _;
    TRACER
        .set(provider.tracer("cronq"))
        .map_err(|_| TraceError::Twice)?;
    Ok(Traces { provider })
}

fn tracer() -> Option<&'static SdkTracer> {
    TRACER.get()
}

/// Whether spans are being made (to skip preparing their attributes otherwise).
pub fn enabled() -> bool {
    tracer().is_some()
}

/// What a job run is, for its span.
#[derive(Debug, Clone, Copy)]
pub struct RunInfo<'a> {
    /// Its queue.
    pub queue: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its id.
    pub id: &'a str,
    /// This attempt, 1-based.
    pub attempt: u32,
    /// The producer's context as BullMQ's telemetry option stored it (`opts.telemetry.metadata`).
    pub producer: Option<&'a serde_json::Value>,
}

/// How a run ended, for its span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd<'a> {
    /// Completed.
    Completed,
    /// Failed; another attempt follows.
    Retried(&'a str),
    /// Failed for good.
    Failed(&'a str),
    /// Cut off by the drain (back to wait) or handed to another daemon: not a run.
    Released,
}

/// The span of one job run (`process QUEUE`, as BullMQ's worker names it), a child of the
/// producer's span when the job carries its context. `None` when traces are off. Run the
/// job's future under [`JobSpan::context`], then [`JobSpan::end`] it.
pub fn job_span(run: RunInfo<'_>) -> Option<JobSpan> {
    let tracer = tracer()?;
    let parent = run
        .producer
        .and_then(super::otel_context::producer_context)
        .unwrap_or_default();
    let span = tracer
        .span_builder(format!("process {}", run.queue))
        .with_kind(SpanKind::Consumer)
        .with_attributes([
            KeyValue::new("bullmq.queue.name", run.queue.to_string()),
            KeyValue::new("bullmq.queue.operation", "process"),
            KeyValue::new("bullmq.job.name", run.name.to_string()),
            KeyValue::new("bullmq.job.id", run.id.to_string()),
            KeyValue::new(
                "bullmq.job.attempts.made",
                i64::from(run.attempt.saturating_sub(1)),
            ),
            KeyValue::new("cronq.job.attempt", i64::from(run.attempt)),
        ])
        .start_with_context(tracer, &parent);
    Some(JobSpan {
        cx: parent.with_span(span),
    })
}

/// A job run's open span (see [`job_span`]).
#[derive(Debug)]
pub struct JobSpan {
    cx: Context,
}

impl JobSpan {
    /// The context to run the job under: handlers read it to pass the trace on.
    pub fn context(&self) -> Context {
        self.cx.clone()
    }

    /// Records how the run ended, and ends the span.
    pub fn end(self, end: RunEnd<'_>) {
        let span = self.cx.span();
        let (outcome, error) = match end {
            RunEnd::Completed => ("completed", None),
            RunEnd::Retried(reason) => ("retried", Some(reason)),
            RunEnd::Failed(reason) => ("failed", Some(reason)),
            RunEnd::Released => ("released", None),
        };
        span.set_attribute(KeyValue::new("cronq.job.outcome", outcome));
        if let Some(reason) = error {
            let reason = reason.to_string();
            span.set_attribute(KeyValue::new("bullmq.job.failed.reason", reason.clone()));
            span.add_event(
                "exception",
                vec![KeyValue::new("exception.message", reason.clone())],
            );
            span.set_status(Status::error(reason));
        }
        span.end();
    }
}

/// The span of one cron tick's enqueue (`enqueue QUEUE`, a producer span, the root of its
/// own trace), when traces are on; [`EnqueueSpan::end`] it when the add has answered.
pub fn enqueue_span(queue: &str, name: &str, job_id: &str) -> Option<EnqueueSpan> {
    let tracer = tracer()?;
    let span = tracer
        .span_builder(format!("enqueue {queue}"))
        .with_kind(SpanKind::Producer)
        .with_attributes([
            KeyValue::new("bullmq.queue.name", queue.to_string()),
            KeyValue::new("bullmq.queue.operation", "add"),
            KeyValue::new("bullmq.job.name", name.to_string()),
            KeyValue::new("bullmq.job.id", job_id.to_string()),
            KeyValue::new("cronq.cron", true),
        ])
        .start(tracer);
    Some(EnqueueSpan(span))
}

/// A cron tick's open enqueue span (see [`enqueue_span`]).
#[derive(Debug)]
pub struct EnqueueSpan(opentelemetry_sdk::trace::Span);

impl EnqueueSpan {
    /// Ends the span; `error` is why the add failed.
    pub fn end(mut self, error: Option<&str>) {
        if let Some(reason) = error {
            self.0
                .set_status(Status::error(Cow::Owned(reason.to_string())));
        }
        self.0.end();
    }
}
