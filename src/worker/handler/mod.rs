//! Handlers: what a job runs. Each is chosen by local configuration (queue + job name, or a
//! crontab entry id), never by anything read from Redis; job data reaches a handler only as
//! environment, stdin or a JSON body.

pub mod builtin;
pub mod echo;
pub mod exec;
#[cfg(test)]
mod exec_env_tests;
pub mod http;
pub mod limits;
pub(crate) mod lines;
mod output;
pub mod pdeath;
pub mod process;
#[cfg(test)]
mod test_support;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Builtin, EnvPolicy, HandlerKind};

pub use output::LogBuffer;

/// The parts of a job a handler may see.
#[derive(Debug, Clone)]
pub struct JobInput {
    /// Queue name.
    pub queue: String,
    /// Job id.
    pub id: String,
    /// Job name.
    pub name: String,
    /// Attempt number, 1-based.
    pub attempt: u32,
    /// The job data (valid JSON).
    pub data: serde_json::Value,
    /// Its options as stored (BullMQ's `job.opts`; see `queue::job_opts`).
    pub opts: crate::queue::job_opts::JobOpts,
    /// A flow parent's finished children: child key → return value (`JOB_CHILDREN` for exec
    /// handlers); empty for other jobs and for handlers that do not receive it.
    pub children: serde_json::Map<String, serde_json::Value>,
}

/// One run of a printing handler (exec, process): the job, where its lines go and the token
/// that cancels it, the three that travel together from [`Handler::run`] down to the process.
#[derive(Debug, Clone, Copy)]
pub struct PrintingRun<'a> {
    /// The job.
    pub job: &'a JobInput,
    /// Its log lines and the daemon's echo of them.
    pub logs: &'a LogSender,
    /// Fires on a timeout, a cancel request or the shutdown deadline.
    pub cancel: &'a CancellationToken,
}

impl<'a> PrintingRun<'a> {
    /// A run writing to `logs`, or with none to a sender nobody reads, kept in `spare` (the
    /// caller's) for as long as the run: the one place a run without a log is made quiet.
    fn new(
        job: &'a JobInput,
        logs: Option<&'a LogSender>,
        cancel: &'a CancellationToken,
        spare: &'a mut Option<LogSender>,
    ) -> Self {
        let logs = match logs {
            Some(logs) => logs,
            None => spare.insert(LogSender::quiet(mpsc::channel(1).0)),
        };
        PrintingRun { job, logs, cancel }
    }
}

/// Why a run did not complete (the worker boundary's error: apalis `Failed`/`Abort`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (non-zero exit, HTTP 5xx, timeout, connection refused).
    #[error("{0}")]
    Retryable(String),
    /// Retrying cannot help (HTTP 4xx, no handler, bad data).
    #[error("{0}")]
    Fatal(String),
    /// Stopped because its cancellation token fired (timeout or shutdown deadline); the
    /// caller knows which and decides the outcome.
    #[error("cancelled")]
    Cancelled,
}

/// What a finished run returns: the job's return value (always JSON).
pub type RunResult = Result<serde_json::Value, JobError>;

/// A stdout line starting with this sets the job's progress to the JSON after it (BullMQ's
/// `job.updateProgress`) instead of becoming a log line, e.g. `cronq:progress {"done":3}`.
pub const PROGRESS_PREFIX: &str = "cronq:progress ";

/// A stdout line starting with this replaces the job's data with the JSON after it (BullMQ's
/// `job.updateData`), e.g. `cronq:data {"step":2}`; persistent handlers' `data` messages
/// travel as such lines too.
pub const DATA_PREFIX: &str = "cronq:data ";

/// Where a handler's output lines go: `lines` to the job's log (the pool drains the other end
/// into the store; bounded: a handler that prints faster than the store takes logs loses log
/// lines, never memory), and every line to `echo` (the daemon's own output).
#[derive(Debug, Clone)]
pub struct LogSender {
    /// The job's log.
    pub lines: mpsc::Sender<String>,
    /// The daemon's output stream.
    pub echo: Arc<echo::Echo>,
}

impl LogSender {
    /// Lines to `lines` and `echo`.
    pub fn new(lines: mpsc::Sender<String>, echo: echo::Echo) -> Self {
        LogSender {
            lines,
            echo: Arc::new(echo),
        }
    }

    /// Lines to the job's log only.
    pub fn quiet(lines: mpsc::Sender<String>) -> Self {
        LogSender::new(lines, echo::Echo::off())
    }
}

/// A configured handler, ready to run jobs.
#[derive(Debug)]
pub enum Handler {
    /// A shell command.
    Exec(exec::Exec),
    /// An HTTP request.
    Http(http::Http),
    /// Built into the binary.
    Builtin(Builtin),
    /// Long-lived processes (`process`, `node`).
    Process(process::Pool),
}

impl Handler {
    /// Whether its runs print output lines (then the caller gives them a [`LogSender`]).
    pub fn prints(&self) -> bool {
        matches!(self, Handler::Exec(_) | Handler::Process(_))
    }

    /// Builds the handler of a validated config entry; `env` says what an exec handler's jobs
    /// may not see, and what to hide in their output.
    pub fn from_config(
        kind: &HandlerKind,
        env: EnvPolicy,
        http_client: &reqwest::Client,
    ) -> Handler {
        match kind {
            HandlerKind::Exec { command } => {
                Handler::Exec(exec::Exec::new("/bin/sh", command, Vec::new()).with_policy(env))
            }
            HandlerKind::Http {
                url,
                method,
                timeout,
                headers,
            } => Handler::Http(http::Http::new(
                http_client.clone(),
                url,
                method,
                *timeout,
                headers,
            )),
            HandlerKind::Builtin(b) => Handler::Builtin(*b),
            HandlerKind::Process(spec) => Handler::Process(process::Pool::new(spec.clone(), env)),
        }
    }

    /// Runs one job. Returns [`JobError::Cancelled`] soon after `cancel` fires, with any
    /// process group it started already terminated. Only handlers that [`Handler::prints`]
    /// write to `logs`; a run of one given none has its output discarded.
    pub async fn run(
        &self,
        job: &JobInput,
        logs: Option<&LogSender>,
        cancel: &CancellationToken,
    ) -> RunResult {
        // Made only for a printing handler run without a log (see `PrintingRun::new`).
        let mut spare = None;
        match self {
            Handler::Exec(e) => e.run(PrintingRun::new(job, logs, cancel, &mut spare)).await,
            Handler::Http(h) => h.run(job, cancel).await,
            Handler::Builtin(b) => builtin::run(*b, job, cancel).await,
            Handler::Process(p) => p.run(PrintingRun::new(job, logs, cancel, &mut spare)).await,
        }
    }
}

/// How long a process group gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);
