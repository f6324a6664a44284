//! Configuration in two stages: [`raw::RawConfig`] is the file as written (serde, unknown keys
//! refused); [`Config`] is validated, with real types and every default applied. Layers, lowest
//! first: built-in defaults, `config/worker.toml`, environment, command-line flags.

pub mod cron;
pub mod cron_policy;
mod dead_letter;
pub mod dotenv;
mod env;
pub mod files;
mod groups;
mod handler_kind;
mod job_env;
mod load;
pub mod programs;
pub mod public_url;
pub mod raw;
#[cfg(test)]
mod raw_tests;
mod redis_topology;
mod redis_url;
pub mod units;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::queue::{Backoff, HandlerDefaults, StoreTarget};

pub use cron::CronConfig;
pub use handler_kind::{Builtin, HandlerKind, ProcessProgram, ProcessSpec};

pub use job_env::{EnvPolicy, JobEnv, Secrets};

pub use env::queue_concurrency_var;
pub use load::{load, load_text};

/// A configuration error, naming the place (`FILE:LINE` or the variable) and the fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{path}: cannot read config: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The file is not valid TOML or has an unknown key / wrong type.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value is well-formed but not acceptable.
    #[error("{place}: {message}")]
    Invalid {
        /// `FILE:LINE: [table] key`, or an environment variable / flag name.
        place: String,
        /// What is wrong and what would be valid.
        message: String,
    },
}

/// Values given on the command line (they beat environment and file).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config`
    pub config: Option<PathBuf>,
    /// `--crontab`
    pub crontab: Option<PathBuf>,
    /// `--listen`
    pub listen: Option<String>,
    /// `--concurrency`
    pub concurrency: Option<usize>,
    /// `--redis-url`
    pub redis_url: Option<String>,
    /// `--shutdown-timeout`
    pub shutdown_timeout: Option<String>,
    /// `--max-jobs`
    pub max_jobs: Option<u64>,
    /// `--max-runtime`
    pub max_runtime: Option<String>,
    /// `--max-memory`, as written (MiB, or with a unit: see [`units`])
    pub max_memory: Option<String>,
    /// `--passthrough-logs` (Supercronic's `-passthrough-logs`)
    pub passthrough_logs: bool,
    /// `--overlapping` (Supercronic's `-overlapping`)
    pub overlapping: bool,
}

/// The validated configuration of a daemon.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// Which store, and where: Redis when one is configured, else the embedded file.
    pub store: StoreTarget,
    /// Key prefix (`bull`).
    pub prefix: String,
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// `[http]` limits.
    pub http: HttpLimits,
    /// The dashboard's public address (`[http] public_url`, `CRONQ_PUBLIC_URL`), checked and
    /// without a trailing slash: notifications link to it (`public_url.rs`).
    pub public_url: Option<String>,
    /// Default concurrency per queue.
    pub concurrency: NonZeroUsize,
    /// Drain deadline on SIGTERM.
    pub shutdown_timeout: Duration,
    /// Job lock TTL.
    pub lock_duration: Duration,
    /// Stalled-job check period.
    pub stalled_interval: Duration,
    /// How long a queue with no job keeps its own fetch loop before it waits with the other
    /// idle queues on one connection (issue 26).
    pub idle_release: Duration,
    /// Stalls allowed before a job fails.
    pub max_stalled_count: u32,
    /// Minutes of job metrics kept per queue (0 = none recorded).
    pub metrics_points: u32,
    /// The crontab path.
    pub crontab: PathBuf,
    /// Whether the crontab path was given explicitly (a missing explicit crontab is an error;
    /// a missing default `./crontab` just means no schedule).
    pub crontab_explicit: bool,
    /// Written to each job's `processedBy`.
    pub worker_name: String,
    /// This daemon's identity (`WORKER_ID`, `[worker] id`), default the host name.
    pub worker_id: String,
    /// Recycle limits: drain and exit 0 when one is reached.
    pub limits: Limits,
    /// Job defaults for every handler.
    pub defaults: JobDefaults,
    /// Consumed queues and their handlers.
    pub queues: BTreeMap<String, QueueConfig>,
    /// Copy each line a job prints into the daemon's log (`[worker] log_output`, default on);
    /// handlers may override it.
    pub log_output: bool,
    /// Print job output raw on the daemon's stdout/stderr instead of as log lines
    /// (`--passthrough-logs`).
    pub passthrough_logs: bool,
    /// Every schedule entry overlaps (`--overlapping`: overlap = allow for all).
    pub overlap_all: bool,
    /// `[[schedule]]` entries, still as written (the scheduler validates expressions with the
    /// crontab parser so both forms share one dialect).
    pub schedules: Vec<ScheduleConfig>,
    /// What of the daemon's environment jobs see (`[worker] pass_env`), and the secret values
    /// hidden in job output.
    pub job_env: JobEnv,
    /// `[cron]`: how crontab command lines run.
    pub cron: CronConfig,
    /// `[programs.NAME]`: supervised long-running programs, by name.
    pub programs: BTreeMap<String, programs::ProgramSpec>,
}

impl Config {
    /// Each configured queue's Redis layout, for [`crate::queue::Store::open_with`].
    pub fn layouts(&self) -> BTreeMap<String, crate::queue::Layout> {
        self.queues
            .iter()
            .map(|(name, q)| (name.clone(), q.layout))
            .collect()
    }
}

/// Limits of the HTTP server (`[http]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Concurrent SSE clients; one more gets 503 with `Retry-After` (default 64).
    pub max_sse_clients: usize,
    /// A connection with no request in flight (idle keep-alive, or one that never sends a
    /// request) is closed after this (default 60 s).
    pub idle_timeout: Duration,
}

/// When the daemon drains and exits 0 on its own, so that an orchestrator restarts it fresh
/// (the `--max-jobs` / `--max-runtime` / `--max-memory` of Node worker supervisors).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// After this many finished jobs.
    pub max_jobs: Option<u64>,
    /// After this long.
    pub max_runtime: Option<Duration>,
    /// Above this resident memory, in MiB.
    pub max_memory_mb: Option<u64>,
}

/// Job settings: `[defaults]`, overridden per handler.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDefaults {
    /// What the jobs' unset options take: attempts (default 3), backoff (default exponential
    /// from 5 s), completed and failed jobs to keep (default: BullMQ's, keep all). The queue
    /// room's own type, so the job-spec builder takes it as it is.
    pub options: HandlerDefaults,
    /// Handler timeout (default none): applied by the handler's route, not stored in the job.
    pub timeout: Option<Duration>,
}

impl Default for JobDefaults {
    fn default() -> Self {
        JobDefaults {
            options: HandlerDefaults {
                attempts: 3,
                backoff: Backoff::Exponential(Duration::from_secs(5)),
                remove_on_complete: None,
                remove_on_fail: None,
            },
            timeout: None,
        }
    }
}

/// One consumed queue.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Jobs run at once.
    pub concurrency: NonZeroUsize,
    /// How its keys are laid out in Redis (`[queues.NAME] layout`).
    pub layout: crate::queue::Layout,
    /// Handlers by job name.
    pub handlers: BTreeMap<String, HandlerConfig>,
    /// Where its jobs' last failures are copied (`[queues.NAME] dead_letter`): a declared
    /// queue other than this one.
    pub dead_letter: Option<String>,
    /// Fair groups (`group_by`, `group_concurrency`, `group_rate`); `None` when the queue
    /// sets no group limit, so its jobs cost nothing extra.
    pub groups: Option<crate::queue::groups::GroupPolicy>,
}

/// One handler: what runs, and its job settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerConfig {
    /// What runs.
    pub kind: HandlerKind,
    /// Timeout, attempts, backoff, retention.
    pub job: JobDefaults,
    /// Copy its output lines into the daemon's log (its own `log_output`, else `[worker]`'s).
    pub log_output: bool,
    /// The daemon's secret variables its jobs get (its own `pass_env`, replacing `[worker]`'s).
    pub pass_env: Option<Vec<String>>,
}

/// A `[[schedule]]` entry, validated for shape; its expression is parsed by the cron room.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleConfig {
    /// Where it was written (`FILE:LINE`).
    pub place: String,
    /// Entry name (its id).
    pub name: Option<String>,
    /// The expression.
    pub cron: String,
    /// Zone name.
    pub tz: Option<String>,
    /// What runs.
    pub target: ScheduleTarget,
    /// Overlap, jitter, catch-up and staleness as this table says them (unsaid ones come
    /// from `[cron]`, see [`cron_policy`]).
    pub policy: cron_policy::PolicySettings,
    /// Handler timeout.
    pub timeout: Option<Duration>,
    /// A command entry's attempts (`None`: `[cron] attempts`).
    pub attempts: Option<u32>,
    /// A command entry's backoff (`None`: `[cron] backoff`).
    pub backoff: Option<Backoff>,
}

/// What a schedule adds at each tick.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleTarget {
    /// Job `name` with `data` on `queue`.
    Enqueue {
        /// Queue.
        queue: String,
        /// Job name.
        name: String,
        /// Job data.
        data: serde_json::Value,
    },
    /// A shell command, run by the `cron` queue's consumer.
    Command(String),
}

/// What to do when a tick comes while the previous run of the same entry is not finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlap {
    /// Skip the tick, with a warning (Supercronic's default).
    #[default]
    Forbid,
    /// Add the tick anyway.
    Allow,
    /// Cancel the running one, then add the tick.
    Replace,
    /// Hold one tick until the running run finishes, then add it; further ticks meanwhile
    /// are skipped and counted (Temporal's `BufferOne`).
    BufferOne,
    /// Hold every tick, up to `buffer_max`, and add them one after another as each run
    /// finishes (Temporal's `BufferAll`, capped).
    BufferAll,
}

impl Config {
    /// The job settings for `queue`/`name`: the handler's when configured (the queue's
    /// catch-all `"*"` for a name without one of its own), else `[defaults]`.
    pub fn job_settings(&self, queue: &str, name: &str) -> &JobDefaults {
        self.queues
            .get(queue)
            .and_then(|q| q.handlers.get(name).or_else(|| q.handlers.get("*")))
            .map(|h| &h.job)
            .unwrap_or(&self.defaults)
    }

    /// The address `worker healthcheck` should call: the listen address, with an unspecified
    /// host (`0.0.0.0`, `::`) replaced by loopback.
    pub fn local_health_url(&self) -> String {
        let mut addr = self.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        format!("http://{addr}/health")
    }
}

/// Where the config file is, when no flag or `WORKER_CONFIG` names one: `./config/worker.toml`
/// if it exists.
pub fn default_file() -> Option<PathBuf> {
    let p = Path::new("config/worker.toml");
    p.exists().then(|| p.to_path_buf())
}
