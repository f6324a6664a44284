//! The config file as written (`config/worker.toml`): every key optional, unknown keys refused.
//! Defaults live in `Config` (see `mod.rs`), not here, so that "unset" stays distinguishable
//! from "set to the default" when environment and flags are layered on top.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Declares a raw table that carries the ten schedule-policy keys (`overlap` … `notify`) between
/// its own keys, and its `policy()`, the [`RawPolicy`] of those keys.
///
/// Why a macro: `[cron]`, `[cron.entries."KEY"]` and `[[schedule]]` take the same policy keys,
/// and `#[serde(flatten)]` (the usual way to share fields) cannot be combined with
/// `deny_unknown_fields`: a flattened table stops refusing unknown keys. The keys stay plain
/// fields of each table, in the order written here, so serde's "unknown field …, expected one
/// of …" lists them as before (`raw_tests.rs` pins it).
macro_rules! policy_table {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($before:tt)* } then policy keys then { $($after:tt)* }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($before)*
            /// `forbid` (default), `allow`, `replace`, `buffer_one` or `buffer_all`.
            pub overlap: Option<String>,
            /// Ticks `buffer_all` holds, default 10.
            pub buffer_max: Option<u64>,
            /// Start delay up to this long.
            pub jitter: Option<String>,
            /// `random` (default) or `fixed` (hashed from the entry id).
            pub jitter_mode: Option<String>,
            /// Look back this far at start for ticks missed while down (default off).
            pub catch_up: Option<String>,
            /// `once` (default: one run for all missed ticks) or `all`.
            pub catch_up_mode: Option<String>,
            /// Missed ticks `all` runs at most, default 10.
            pub catch_up_max: Option<u64>,
            /// Stale after this long without a success (named in /health).
            pub alert_after: Option<String>,
            /// Check-in URL (healthchecks.io, Cronitor) told of each run's start, success,
            /// failure.
            pub ping: Option<String>,
            /// Webhook POSTed a JSON document (Slack-compatible `text`) on failure and
            /// recovery.
            pub notify: Option<String>,
            $($after)*
        }

        impl $name {
            /// The policy keys of this table, as written.
            pub fn policy(&self) -> RawPolicy {
                RawPolicy {
                    overlap: self.overlap.clone(),
                    buffer_max: self.buffer_max,
                    jitter: self.jitter.clone(),
                    jitter_mode: self.jitter_mode.clone(),
                    catch_up: self.catch_up.clone(),
                    catch_up_mode: self.catch_up_mode.clone(),
                    catch_up_max: self.catch_up_max,
                    alert_after: self.alert_after.clone(),
                    ping: self.ping.clone(),
                    notify: self.notify.clone(),
                }
            }
        }
    };
}

/// The whole file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[redis]`
    pub redis: Option<RawRedis>,
    /// `[http]`
    pub http: Option<RawHttp>,
    /// `[worker]`
    pub worker: Option<RawWorker>,
    /// `[defaults]`: job defaults for every handler.
    pub defaults: Option<RawJobDefaults>,
    /// `[queues.NAME]`
    #[serde(default)]
    pub queues: BTreeMap<String, RawQueue>,
    /// `[[schedule]]`: the long form of a crontab line.
    #[serde(default)]
    pub schedule: Vec<RawSchedule>,
    /// `[cron]`: how crontab command lines run.
    pub cron: Option<RawCron>,
    /// `[programs.NAME]`: long-running programs, supervised (Supervisor's `[program:x]`).
    #[serde(default)]
    pub programs: BTreeMap<String, crate::config::programs::RawProgram>,
}

policy_table! {
    /// `[cron]`: the queue, pool and job settings of crontab command lines (and command
    /// `[[schedule]]` tables). `enqueue` lines follow their target queue's settings instead.
    #[derive(Debug, Default, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawCron {
        /// The queue their runs go through, default `cron`.
        pub queue: Option<String>,
        /// Runs at once in this daemon, default 256 (not `[worker] concurrency`: every entry runs
        /// at its time; each entry's `overlap` policy bounds its own runs).
        pub concurrency: Option<usize>,
        /// Total attempts of one tick's run, default 1 (Supercronic: once per tick, never re-run).
        pub attempts: Option<u32>,
        /// Backoff between attempts when `attempts` > 1, default `[defaults] backoff`.
        pub backoff: Option<String>,
        /// Completed runs to keep, default `[defaults]`'s when set, else the newest 100 per entry.
        pub remove_on_complete: Option<RawRetention>,
        /// Failed runs to keep, default `[defaults]`'s when set, else one day of them.
        pub remove_on_fail: Option<RawRetention>,
        /// `"run"` (default), `"skip"` or `"run_if_alone"`: a command line's tick when the
        /// store is unreachable.
        pub when_store_down: Option<crate::config::cron::WhenStoreDown>,
    } then policy keys then {
        /// A stale entry turns `/health` 503 (default false: it is only named in the body).
        pub stale_fails_health: Option<bool>,
        /// `[cron.entries."crontab:LINE"]`: one crontab line's own policies.
        pub entries: Option<std::collections::BTreeMap<String, RawPolicy>>,
    }
}

policy_table! {
    /// The schedule policies of one place (`[cron.entries."KEY"]`; `[cron]` and `[[schedule]]`
    /// carry the same keys).
    #[derive(Debug, Default, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawPolicy {} then policy keys then {}
}

/// `[redis]`: a URL, or its parts.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    /// `redis://…` or `rediss://…` (TLS). Default `redis://127.0.0.1:6379/0`.
    pub url: Option<String>,
    /// Host, when no URL is given.
    pub host: Option<String>,
    /// Port, default 6379.
    pub port: Option<u16>,
    /// ACL user name.
    pub username: Option<String>,
    /// Password (prefer `REDIS_PASSWORD` in the environment).
    pub password: Option<String>,
    /// Database number, default 0.
    pub db: Option<u8>,
    /// Use TLS.
    pub tls: Option<bool>,
    /// PEM CA file for TLS with a private CA.
    pub ca_file: Option<String>,
    /// Key prefix, default `bull`.
    pub prefix: Option<String>,
    /// Sentinels (`host:port`) that name the primary; the URL's host and port are then unused.
    pub sentinels: Option<Vec<String>>,
    /// The primary's name at the sentinels, default `mymaster`.
    pub sentinel_name: Option<String>,
    /// Password of the sentinels themselves (the URL's password is the primary's).
    pub sentinel_password: Option<String>,
    /// Reach the sentinels over TLS; default: as the data connection (`tls` / `rediss://`).
    pub sentinel_tls: Option<bool>,
    /// Seed nodes (`host:port`) of a Redis Cluster; the URL's host and port are then unused.
    pub cluster_nodes: Option<Vec<String>>,
}

/// `[http]`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// Listen address, default `0.0.0.0:3001`.
    pub listen: Option<String>,
    /// Concurrent SSE clients, default 64.
    pub max_sse_clients: Option<usize>,
    /// Idle HTTP connections are closed after this, default `60s`.
    pub idle_timeout: Option<String>,
    /// The dashboard's public address, for full links in notifications; default none.
    pub public_url: Option<String>,
}

/// `[worker]`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorker {
    /// Default concurrency per queue, default 5.
    pub concurrency: Option<usize>,
    /// Drain deadline on SIGTERM, default `25s`.
    pub shutdown_timeout: Option<String>,
    /// Job lock TTL, default `30s` (BullMQ's default).
    pub lock_duration: Option<String>,
    /// Stalled-job check period, default `30s` (BullMQ's default).
    pub stalled_interval: Option<String>,
    /// How long a queue with no job keeps its own fetch loop, default `30s`.
    pub idle_release: Option<String>,
    /// Stalls allowed before a job fails, default 1 (BullMQ's default).
    pub max_stalled_count: Option<u32>,
    /// Minutes of completed/failed counts kept per queue (BullMQ's `metrics.maxDataPoints`),
    /// default 20160 (two weeks); 0 records none.
    pub metrics_points: Option<u64>,
    /// The crontab, default `./crontab`.
    pub crontab: Option<String>,
    /// Name written to each job's `processedBy`, default `cronq@<hostname>`.
    pub name: Option<String>,
    /// This daemon's identity (`WORKER_ID`), default the host name: a restarted daemon
    /// recovers the jobs its previous run left active at once.
    pub id: Option<String>,
    /// Drain and exit 0 after this many jobs (an orchestrator restarts the process fresh).
    pub max_jobs: Option<u64>,
    /// Drain and exit 0 after running this long (`12h`).
    pub max_runtime: Option<String>,
    /// Drain and exit 0 when the resident memory exceeds this many MiB.
    pub max_memory_mb: Option<u64>,
    /// Copy each line a job prints into the daemon's log stream, default `true`.
    pub log_output: Option<bool>,
    /// The daemon's secret variables (`API_TOKEN`, `REDIS_PASSWORD`, a `REDIS_URL` with a
    /// password, `SENTRY_DSN`, …) that exec jobs get; default none, `["*"]` all.
    pub pass_env: Option<Vec<String>>,
}

/// `[defaults]`, and the job fields of a handler.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJobDefaults {
    /// Total attempts, default 3.
    pub attempts: Option<u32>,
    /// `exponential:5000` (default) or `fixed:1000`.
    pub backoff: Option<String>,
    /// Handler timeout, default none.
    pub timeout: Option<String>,
    /// Completed jobs to keep.
    pub remove_on_complete: Option<RawRetention>,
    /// Failed jobs to keep.
    pub remove_on_fail: Option<RawRetention>,
}

/// `true` (remove at once), `false` (keep all), a count, or `{ age = "7d", count = 1000 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawRetention {
    /// Remove (true) or keep (false).
    Flag(bool),
    /// Keep the newest N.
    Count(u64),
    /// Keep by age and/or count.
    Policy(RawRetentionPolicy),
}

/// `{ age = "24h", count = 1000 }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetentionPolicy {
    /// Keep jobs younger than this.
    pub age: Option<String>,
    /// Keep at most this many.
    pub count: Option<u64>,
}

/// `[queues.NAME]`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    /// Jobs of this queue run at once, default `[worker] concurrency`.
    pub concurrency: Option<usize>,
    /// Redis layout: `bullmq` (default) or `bull` (Bull 3/4, `@nestjs/bull`).
    pub layout: Option<String>,
    /// A queue (declared as `[queues.OTHER]`) that receives a copy of each job failing for the
    /// last time (`queue/dead_letter.rs`); default none.
    pub dead_letter: Option<String>,
    /// Where a job's group is read when its options carry no BullMQ Pro `group.id`: a dotted
    /// path into its data, e.g. `data.tenant` (`queue/groups.rs`); default none.
    pub group_by: Option<String>,
    /// At most this many running jobs of one group, across every daemon; default no cap.
    pub group_concurrency: Option<u32>,
    /// At most this many starts of one group per window, `N/s`, `N/m` or `N/h`; default none.
    pub group_rate: Option<String>,
    /// Handlers by job name.
    #[serde(default)]
    pub handlers: BTreeMap<String, RawHandler>,
}

/// `[queues.Q.handlers.NAME]`: exactly one of `exec`, `http`, `builtin`, plus job fields.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHandler {
    /// A command run by `/bin/sh -c`; job data on stdin and in `JOB_DATA`.
    pub exec: Option<String>,
    /// An HTTP call.
    pub http: Option<RawHttpHandler>,
    /// A handler built into the binary: `noop`, `echo`, `sleep`, `fail`.
    pub builtin: Option<String>,
    /// Long-lived processes fed jobs over the line protocol (docs/process-protocol.md).
    pub process: Option<RawProcessHandler>,
    /// A BullMQ sandboxed processor file run by cronq's Node bootstrap.
    pub node: Option<RawNodeHandler>,
    /// Kill the run after this long (`30s`); it then counts as a failed attempt.
    pub timeout: Option<String>,
    /// Total attempts for jobs cronq adds.
    pub attempts: Option<u32>,
    /// Backoff for jobs cronq adds.
    pub backoff: Option<String>,
    /// Retention for jobs cronq adds.
    pub remove_on_complete: Option<RawRetention>,
    /// Retention for jobs cronq adds.
    pub remove_on_fail: Option<RawRetention>,
    /// Copy its output lines into the daemon's log, default `[worker] log_output`.
    pub log_output: Option<bool>,
    /// The daemon's secret variables this handler's jobs get, default `[worker] pass_env`.
    pub pass_env: Option<Vec<String>>,
}

/// `http = { url, method, timeout, headers }`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttpHandler {
    /// Where to send the job.
    pub url: String,
    /// Default `POST`.
    pub method: Option<String>,
    /// Request timeout (default: the handler timeout, else 30s).
    pub timeout: Option<String>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `process = { command, instances, max_jobs, max_memory }`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcessHandler {
    /// Run by `/bin/sh -c` once per process, not once per job.
    pub command: String,
    /// At most this many processes (default: one per concurrent job of the queue).
    pub instances: Option<usize>,
    /// Replace a process after this many jobs.
    pub max_jobs: Option<u64>,
    /// Replace a process whose group's RSS passes this after a job (`256MB`).
    pub max_memory: Option<String>,
}

/// `node = { file, node_binary, instances, max_jobs, max_memory }`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodeHandler {
    /// The processor file (ESM or CommonJS), relative to the working directory.
    pub file: String,
    /// Default `node`, looked up on PATH.
    pub node_binary: Option<String>,
    /// At most this many processes (default: one per concurrent job of the queue).
    pub instances: Option<usize>,
    /// Replace a process after this many jobs.
    pub max_jobs: Option<u64>,
    /// Replace a process whose group's RSS passes this after a job (`256MB`).
    pub max_memory: Option<String>,
}

policy_table! {
    /// `[[schedule]]`
    #[derive(Debug, Default, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawSchedule {
        /// Entry name: becomes the entry id in job ids (`cron-<name>-<secs>`).
        pub name: Option<String>,
        /// The schedule expression (5/6/7 fields or a macro).
        pub cron: String,
        /// IANA zone, default the crontab's / daemon's.
        pub tz: Option<String>,
        /// What to add at each tick.
        pub enqueue: Option<RawEnqueue>,
        /// A command to run (queue `cron`), instead of `enqueue`.
        pub command: Option<String>,
        /// Handler timeout for this entry's runs.
        pub timeout: Option<String>,
    } then policy keys then {
        /// Total attempts of a command entry's run, default `[cron] attempts` (1).
        pub attempts: Option<u32>,
        /// Backoff between a command entry's attempts, default `[cron] backoff`.
        pub backoff: Option<String>,
    }
}

/// `enqueue = { queue, name, data }`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnqueue {
    /// Target queue.
    pub queue: String,
    /// Job name.
    pub name: String,
    /// Job data, default `{}`.
    pub data: Option<toml::Value>,
}
