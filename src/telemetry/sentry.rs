//! Sentry reporting (`SENTRY_DSN` / `-sentry-dsn`): each job's final failure (no retry left)
//! and each error the daemon logs become one Sentry event, tagged with the queue, job id, job
//! name and crontab entry when the event has them. Sent by the `sentry` crate's own background
//! thread (reqwest over rustls); without a client installed every call here is a no-op.

use std::collections::BTreeMap;

use sentry::protocol::{Event, Level};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// The fields that become Sentry tags (the rest become extra data).
const TAGS: &[&str] = &["queue", "job_id", "name", "entry", "entry_id", "component"];

/// Where events go and how they are labelled: Supercronic's `-sentry-dsn`, `-sentry-environment`
/// and `-sentry-release` (or `SENTRY_DSN`, `SENTRY_ENVIRONMENT`, `SENTRY_RELEASE`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentryOptions {
    /// The DSN.
    pub dsn: String,
    /// The environment of every event (`production`, `staging`); Sentry's default when unset.
    pub environment: Option<String>,
    /// The release of every event; `cronq@VERSION` when unset.
    pub release: Option<String>,
}

/// Installs the Sentry client; keep the guard for the process's life (dropping it flushes
/// queued events, up to two seconds).
pub fn init(opts: &SentryOptions) -> Result<sentry::ClientInitGuard, String> {
    let dsn = opts.dsn.as_str();
    let dsn: sentry::types::Dsn = dsn.trim().parse().map_err(|e| {
        format!("the Sentry DSN does not parse ({e}): write https://KEY@HOST/PROJECT (SENTRY_DSN, -sentry-dsn)")
    })?;
    Ok(sentry::init(sentry::ClientOptions {
        dsn: Some(dsn),
        release: Some(
            opts.release
                .clone()
                .map(Into::into)
                .unwrap_or_else(|| concat!("cronq@", env!("CARGO_PKG_VERSION")).into()),
        ),
        environment: opts.environment.clone().map(Into::into),
        ..Default::default()
    }))
}

/// Reports a job that failed for good.
pub fn job_failed(queue: &str, job_id: &str, name: &str, entry: Option<&str>, reason: &str) {
    let mut tags = BTreeMap::new();
    tags.insert("queue".to_string(), queue.to_string());
    tags.insert("job_id".to_string(), job_id.to_string());
    tags.insert("name".to_string(), name.to_string());
    if let Some(e) = entry {
        tags.insert("entry".to_string(), e.to_string());
    }
    sentry::capture_event(Event {
        level: Level::Error,
        message: Some(format!("job {queue}/{name} failed: {reason}")),
        logger: Some("cronq.job".into()),
        tags,
        ..Default::default()
    });
}

/// Reports an error that stopped the daemon (printed, not logged).
pub fn daemon_error(message: &str) {
    sentry::capture_event(Event {
        level: Level::Error,
        message: Some(message.to_string()),
        logger: Some("cronq".into()),
        ..Default::default()
    });
}

/// A log layer that sends every ERROR event to Sentry.
#[derive(Debug, Default)]
pub struct ErrorLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() != tracing::Level::ERROR {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        sentry::capture_event(Event {
            level: Level::Error,
            message: Some(fields.message),
            logger: Some(event.metadata().target().to_string()),
            tags: fields.tags,
            extra: fields.extra,
            ..Default::default()
        });
    }
}

/// An event's fields, sorted into message, tags and extra data.
#[derive(Default)]
struct Fields {
    message: String,
    tags: BTreeMap<String, String>,
    extra: BTreeMap<String, sentry::protocol::Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = value,
            n if TAGS.contains(&n) => {
                self.tags.insert(n.to_string(), value);
            }
            n => {
                self.extra.insert(n.to_string(), value.into());
            }
        }
    }
}
