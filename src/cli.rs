//! Command-line interface (clap derive): daemon flags and subcommands. Flags beat environment,
//! which beats the config file.

mod prometheus;
mod supercronic;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;

pub use prometheus::{prometheus_addr, DEFAULT_PROMETHEUS_PORT};
pub use supercronic::{parse_args, rewrite_supercronic_flags, UnknownFlag, SUPERCRONIC_HELP};

/// cronq: a crontab scheduler and BullMQ-compatible job worker in one binary.
#[derive(Debug, Parser)]
#[command(
    name = "worker",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = SUPERCRONIC_HELP
)]
pub struct Cli {
    /// The crontab, as Supercronic takes it (`worker /app/crontab`); same as --crontab.
    #[arg(value_name = "CRONTAB")]
    pub crontab_file: Option<PathBuf>,
    /// Daemon flags (also accepted by `worker run`).
    #[command(flatten)]
    pub daemon: DaemonArgs,
    /// Validate a crontab (default: the configured one), list its entries with their next fire
    /// times, and exit 0 when valid, 1 otherwise.
    // `Some(None)`: the flag without a file (clap's path parser refuses an empty default).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub test_crontab: Option<Option<PathBuf>>,
    /// What to do; the daemon when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The `--help` section of the long forms of Supercronic's flags (one name, so no flag
/// lands in a section of its own through a typo).
const SUPERCRONIC_HEADING: &str = "Supercronic options (long form)";
/// Flags of the daemon.
#[derive(Debug, Clone, Default, Args)]
pub struct DaemonArgs {
    /// Config file (default: $WORKER_CONFIG, else ./config/worker.toml when present).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Crontab file (default: $CRONTAB, else ./crontab).
    #[arg(long, value_name = "FILE", global = true)]
    pub crontab: Option<PathBuf>,
    /// HTTP listen address (default: $WORKER_LISTEN, else 0.0.0.0:3001).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Default jobs run at once per queue (default: $WORKER_CONCURRENCY, else 5).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Redis URL (default: $REDIS_URL, else the [redis] table; with none of them, the embedded
    /// store in $CRONQ_DATA, default ./data/cronq.db).
    #[arg(long, value_name = "URL", global = true)]
    pub redis_url: Option<String>,
    /// Drain deadline on SIGTERM (default: $SHUTDOWN_TIMEOUT, else 25s).
    #[arg(long, value_name = "DURATION")]
    pub shutdown_timeout: Option<String>,
    /// Serve the API on a non-loopback address without API_TOKEN (anyone reaching the port can
    /// change jobs). Without it, such a daemon serves only /health and /metrics (the API: 401).
    #[arg(long)]
    pub insecure_open_api: bool,
    /// Reload when the crontab or config file changes (as SIGUSR2 does).
    #[arg(long)]
    pub watch: bool,
    /// Drain and exit 0 after this many jobs, so an orchestrator restarts the process fresh.
    #[arg(long, value_name = "N")]
    pub max_jobs: Option<u64>,
    /// Drain and exit 0 after running this long (e.g. 12h; a bare number is seconds; default:
    /// $WORKER_MAX_RUNTIME).
    #[arg(long, value_name = "DURATION")]
    pub max_runtime: Option<String>,
    /// Drain and exit 0 when resident memory exceeds this (MiB, or 512MB, 1GB; default:
    /// $WORKER_MAX_MEMORY, else $WORKER_MEMORY_THRESHOLD).
    #[arg(long = "max-memory", value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// Log as JSON lines, as LOG_FORMAT=json does (Supercronic's -json).
    #[arg(long, help_heading = SUPERCRONIC_HEADING)]
    pub log_json: bool,
    /// Log at debug level (Supercronic's -debug).
    #[arg(long, help_heading = SUPERCRONIC_HEADING)]
    pub debug: bool,
    /// Log warnings and errors only, job output included; wins over --debug (-quiet).
    #[arg(long, help_heading = SUPERCRONIC_HEADING)]
    pub quiet: bool,
    /// Print job output raw, undecorated: job stdout on stdout, stderr on stderr
    /// (-passthrough-logs).
    #[arg(long, help_heading = SUPERCRONIC_HEADING)]
    pub passthrough_logs: bool,
    /// Job stdout log lines on stdout, every other log line on stderr (-split-logs).
    #[arg(long, help_heading = SUPERCRONIC_HEADING)]
    pub split_logs: bool,
    /// Let every schedule entry overlap its previous run: overlap = allow (-overlapping).
    #[arg(long, help_heading = SUPERCRONIC_HEADING)]
    pub overlapping: bool,
    /// Do not reap orphaned processes when running as PID 1 (-no-reap).
    #[arg(long, help_heading = SUPERCRONIC_HEADING)]
    pub no_reap: bool,
    /// Also serve /metrics on this address, without a token (-prometheus-listen-address).
    #[arg(long, value_name = "ADDR", help_heading = SUPERCRONIC_HEADING)]
    pub prometheus_listen_address: Option<String>,
    /// Report final job failures and daemon errors to Sentry (default: $SENTRY_DSN).
    #[arg(long, value_name = "DSN", help_heading = SUPERCRONIC_HEADING)]
    pub sentry_dsn: Option<String>,
    /// Supercronic's older `-sentryDsn` spelling; `--sentry-dsn` wins when both are given.
    #[arg(long, value_name = "DSN", hide = true)]
    pub sentry_dsn_alias: Option<String>,
    /// The Sentry environment of every event (default: $SENTRY_ENVIRONMENT).
    #[arg(long, value_name = "ENV", help_heading = SUPERCRONIC_HEADING)]
    pub sentry_environment: Option<String>,
    /// The Sentry release of every event (default: $SENTRY_RELEASE, else cronq@VERSION).
    #[arg(long, value_name = "RELEASE", help_heading = SUPERCRONIC_HEADING)]
    pub sentry_release: Option<String>,
}

impl DaemonArgs {
    /// The flags as config overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config: self.config.clone(),
            crontab: self.crontab.clone(),
            listen: self.listen.clone(),
            concurrency: self.concurrency,
            redis_url: self.redis_url.clone(),
            shutdown_timeout: self.shutdown_timeout.clone(),
            max_jobs: self.max_jobs,
            max_runtime: self.max_runtime.clone(),
            max_memory: self.max_memory.clone(),
            passthrough_logs: self.passthrough_logs,
            overlapping: self.overlapping,
        }
    }
}

impl Cli {
    /// The daemon flags in effect: `worker run`'s, else the top-level ones, with a positional
    /// CRONTAB taken as `--crontab`.
    pub fn daemon_args(&self) -> DaemonArgs {
        let mut args = match &self.command {
            Some(Command::Run(a)) => a.clone(),
            _ => self.daemon.clone(),
        };
        if let Some(file) = &self.crontab_file {
            args.crontab = Some(file.clone());
        }
        args
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default).
    Run(DaemonArgs),
    /// Cron expression tools.
    #[command(subcommand)]
    Cron(CronCommand),
    /// Exit 0 when /health says healthy (a Docker HEALTHCHECK without curl).
    Healthcheck {
        /// The health URL (default: from the listen address).
        #[arg(long)]
        url: Option<String>,
    },
    /// Add a job and print its id.
    Enqueue(EnqueueArgs),
    /// Counts per queue and state (like `supervisorctl status`).
    Status(JsonFlag),
    /// List a queue's jobs in one state.
    Jobs {
        /// Queue.
        queue: String,
        /// waiting, prioritized, active, delayed, completed, failed, waiting-children.
        #[arg(long, default_value = "waiting")]
        state: crate::queue::JobState,
        /// Page size.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// First index.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show one job with its logs.
    Job {
        /// Queue.
        queue: String,
        /// Job id.
        id: String,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Move a failed job (or, with --all-failed, every failed job) back to waiting.
    Retry {
        /// Queue.
        queue: String,
        /// Job id.
        #[arg(required_unless_present = "all_failed", conflicts_with = "all_failed")]
        id: Option<String>,
        /// Retry every failed job of the queue (with a progress bar).
        #[arg(long)]
        all_failed: bool,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Remove a job that is not active.
    Remove {
        /// Queue.
        queue: String,
        /// Job id.
        id: String,
    },
    /// Make a delayed job ready now.
    Promote {
        /// Queue.
        queue: String,
        /// Job id.
        id: String,
    },
    /// Cancel a job: one not started is removed; a running one is stopped by the cronq
    /// daemon running it (any replica) and fails, not retried, naming who cancelled it.
    Cancel {
        /// Queue.
        queue: String,
        /// Job id.
        id: String,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Pause a queue for every worker.
    Pause {
        /// Queue.
        queue: String,
    },
    /// Resume a paused queue.
    Resume {
        /// Queue.
        queue: String,
    },
    /// Remove completed or failed jobs older than a duration.
    Clean {
        /// Queue.
        queue: String,
        /// completed or failed.
        #[arg(long)]
        state: crate::queue::JobState,
        /// e.g. 7d, 24h.
        #[arg(long)]
        older_than: String,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Schedules with their latest run and next fire time; `pause`/`resume` one entry.
    Schedules {
        /// Pause or resume an entry (none: list them).
        #[command(subcommand)]
        action: Option<SchedulesCommand>,
        /// `--json` for the list.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Supervised programs' states (`supervisorctl status`), from the running daemon.
    Programs(ProgramsArgs),
    /// Start a program (NAME, NAME:00 or all) in the running daemon (`supervisorctl start`).
    Start(ProgramTarget),
    /// Stop a program: its stopsignal, then KILL after stopwaitsecs (`supervisorctl stop`).
    Stop(ProgramTarget),
    /// Stop, then start a program (`supervisorctl restart`).
    Restart(ProgramTarget),
    /// Print a program's last output lines (`supervisorctl tail [-f] NAME [stderr]`).
    Tail(TailArgs),
}

/// Where the running daemon's API is.
#[derive(Debug, Clone, Args)]
pub struct DaemonUrl {
    /// The daemon's base URL (default: from the listen address; API_TOKEN is sent when set).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// `worker programs`
#[derive(Debug, Clone, Args)]
pub struct ProgramsArgs {
    /// Output format.
    #[command(flatten)]
    pub json: JsonFlag,
    /// The daemon.
    #[command(flatten)]
    pub daemon: DaemonUrl,
}

/// `worker start|stop|restart NAME`
#[derive(Debug, Clone, Args)]
pub struct ProgramTarget {
    /// A program (every instance), one instance (NAME:00), or `all`.
    pub name: String,
    /// The daemon.
    #[command(flatten)]
    pub daemon: DaemonUrl,
}

/// `worker tail [-f] [-n N] NAME [stderr]`
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Keep printing new lines until interrupted.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// How many of the last lines (at most 1000 are kept).
    #[arg(short = 'n', default_value_t = 20)]
    pub lines: usize,
    /// The instance (NAME:00), or a program for its first instance.
    pub name: String,
    /// `stdout` (default) or `stderr`.
    #[arg(default_value = "stdout", value_parser = ["stdout", "stderr"])]
    pub stream: String,
    /// The daemon.
    #[command(flatten)]
    pub daemon: DaemonUrl,
}

/// `worker schedules …`
#[derive(Debug, Clone, Subcommand)]
pub enum SchedulesCommand {
    /// Pause ENTRY on every daemon of the store: its ticks add no job until resumed.
    Pause {
        /// The entry id (`worker schedules` lists them).
        entry: String,
        /// Why, for the other operators (one line).
        #[arg(long)]
        note: Option<String>,
    },
    /// Resume a paused ENTRY.
    Resume {
        /// The entry id.
        entry: String,
    },
    /// Run ENTRY's ticks from --from to --to (RFC 3339) now; ticks that already ran are skipped.
    Backfill {
        /// The entry id.
        entry: String,
        /// First instant, RFC 3339 (e.g. 2027-01-01T00:00:00Z).
        #[arg(long)]
        from: String,
        /// Last instant, inclusive, RFC 3339.
        #[arg(long)]
        to: String,
    },
}

/// `--json`: machine-readable output.
#[derive(Debug, Clone, Copy, Args)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `worker cron …`
#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// Print the next fire instants of EXPR, one RFC 3339 UTC timestamp per line.
    Next {
        /// The schedule: 5/6/7 fields or a @macro (quote it).
        expr: String,
        /// IANA zone (default UTC).
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Start instant, exclusive (RFC 3339; default now).
        #[arg(long)]
        from: Option<String>,
        /// How many instants.
        #[arg(short = 'n', default_value_t = 5)]
        n: usize,
    },
}

/// `worker enqueue QUEUE NAME …`
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// Target queue.
    pub queue: String,
    /// Job name.
    pub name: String,
    /// Job data (JSON).
    #[arg(long, default_value = "{}")]
    pub data: String,
    /// Run after this long (`30s`, `5m`, or milliseconds).
    #[arg(long)]
    pub delay: Option<String>,
    /// Priority: 1 runs first; unset = plain FIFO.
    #[arg(long)]
    pub priority: Option<u32>,
    /// Total attempts, 1..=10000 (default: the handler's, else [defaults], else 3).
    #[arg(long)]
    pub attempts: Option<u32>,
    /// `exponential:5000` or `fixed:1000` (default: the handler's).
    #[arg(long)]
    pub backoff: Option<String>,
    /// Custom job id (not an integer, no ':'); an existing id adds nothing.
    #[arg(long)]
    pub job_id: Option<String>,
}
