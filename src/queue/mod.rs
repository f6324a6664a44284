//! The queue room: jobs, their states and transitions, behind one [`Store`] handle over two
//! stores — Redis in BullMQ's exact layout ([`redis`], the only code that names the engine,
//! `bullmq-official`, BullMQ's own Lua scripts) and the embedded SQLite file ([`embedded`]) for
//! running with no Redis. Nothing outside this room knows which one is in use.
//!
//! - [`contract`]: the roles a store plays, one small trait each, bundled as
//!   [`contract::Backend`] by a blanket impl.
//! - [`store`]: the [`Store`] facade and [`StoreTarget`].
//! - `state`: [`JobState`], the one parser of state names (`wait` is `waiting`).
//! - [`job`]: what producers add ([`JobSpec`]), how runs end ([`Outcome`]), deterministic cron ids.
//! - `spec`: the one job-spec builder ([`JobSpec::for_handler`]) and the one validation, the
//!   only maker of the [`ValidJob`] a store's `Produce::add` takes.
//! - [`consumer`]: the [`Processor`] a pool plugs in, [`ActiveJob`], [`Consumer`], [`LoopBeat`],
//!   and the handles a store's fetch loop gives them; `fetch_loop` is that loop, written once for
//!   the stores that own theirs.
//! - [`job_opts`]: a job's stored options (BullMQ's `job.opts`), decoded as untrusted input.
//! - [`cancel`]: cancelling a job from anywhere (remove it, or stop its run wherever it runs).
//! - [`dead_letter`]: a queue's last failures copied to its `dead_letter` queue, and sent back.
//! - [`info`], [`events`]: jobs and event logs as people and tools see them.
//! - `script_keys`: one of our Lua scripts called with its KEYS as one list of key suffixes,
//!   for both Redis layouts (each layout's own module still owns its key names).
//!
//! The re-exports below are for the rest of cronq. Files inside this room name the module that
//! defines what they use (`super::error::Error`, `crate::queue::job::JobSpec`), never this
//! file, so no arrow runs back up from a store to the room's top.
//! - [`fault`]: what kind of fault a store error is (whole store, one queue's data, one call).
//! - [`redis::target`]: where Redis is, and redaction; [`redis::keys`]: Redis key names.
//! - [`metrics`]: BullMQ's per-minute completed/failed series, read back as [`MinuteCounts`];
//!   [`timings`]: the daemon's own ring of recent run durations and waits.

mod alarm;
pub mod bull;
pub mod cancel;
pub mod cancel_request;
pub mod consumer;
pub mod contract;
pub mod dead_letter;
pub mod embedded;
mod error;
pub mod events;
pub mod fault;
mod fetch_loop;
pub mod groups;
mod identity;
pub mod info;
mod job;
pub mod job_opts;
mod layout;
pub mod metrics;
mod record;
pub mod redis;
mod resubscribe;
pub mod retry;
mod script_keys;
mod spec;
mod state;
pub mod store;
pub mod timings;

pub use crate::rules::{validate_queue_name, MAX_QUEUE_NAME};
pub use consumer::{ActiveJob, Consumer, ConsumerOptions, LoopBeat, Processor};
pub use error::{Error, JobOpError};
pub use events::{CatchUp, EventReader, EventStarts, QueueEvent};
pub use fault::Fault;
pub use identity::Identity;
pub use info::{JobInfo, JobPage, JobWindow};
pub use job::{
    check_job_duration, cron_job_id, is_hidden_char, parse_millis_or_duration, validate_job_id,
    Backoff, JobCounts, JobSpec, Outcome, Retention,
};
pub use layout::Layout;
pub use metrics::MinuteCounts;
pub use record::FinishedRun;
pub use redis::{redact_url, RedisTarget, Topology};
pub use spec::{HandlerDefaults, JobOverrides, SpecError, ValidJob, MAX_ATTEMPTS, MAX_PRIORITY};
pub use state::{CleanOrder, JobState, UnknownState, LISTED as LISTED_STATES};
pub use store::{Store, StoreTarget};
pub use timings::{Timing, Timings};
