//! The queue room: the only code that names the engine (`bullmq-official`, BullMQ's own Rust
//! port running BullMQ's Lua scripts). Everything else in cronq speaks the types exported here,
//! so a second store can later sit behind the same operations.
//!
//! - [`client`]: where Redis is, redaction, the shared [`Store`] handle.
//! - [`producer`]: adding jobs; deterministic cron ids.
//! - [`consumer`]: running jobs through a [`Processor`]; lock renewal and stalled recovery are
//!   the engine's (BullMQ's `extendLock` and `moveStalledJobsToWait` scripts).
//! - [`inspect`], [`info`]: counts, state and job details for `/health`, the API and the CLI.
//! - [`admin`]: retry, remove, promote, pause/resume, clean.
//! - [`keys`]: key names, for tests and inspection.

mod admin;
mod client;
mod consumer;
mod error;
mod events;
mod info;
mod inspect;
mod job;
pub mod keys;
mod producer;

pub use admin::JobOpError;
pub use client::{redact_url, RedisTarget, Store};
pub use consumer::{ActiveJob, Consumer, ConsumerOptions, LoopBeat, Processor};
pub use error::Error;
pub use events::{EventReader, QueueEvent};
pub use info::{is_state, JobInfo, JobPage, STATES};
pub use job::{
    parse_millis_or_duration, validate_job_id, Backoff, JobCounts, JobSpec, Outcome, Retention,
};
pub use producer::cron_job_id;
