//! How a run is steered from outside its handler: the control lines a handler prints
//! (`cronq:progress JSON`, `cronq:data JSON`), and [`supervise`], which ends a run at its
//! timeout, at the drain deadline or on a cancel request and maps the handler's result onto an
//! [`Outcome`]. Split out of `dispatch.rs`, which runs the job around them.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::queue::Outcome;
use crate::worker::handler::{JobError, DATA_PREFIX, PROGRESS_PREFIX};

/// What a handler's output line asks of the job besides logging.
pub(super) enum Control {
    /// `cronq:progress JSON`: set its progress.
    Progress(serde_json::Value),
    /// `cronq:data JSON`: replace its data.
    Data(serde_json::Value),
}

/// The request a line makes, when it is `cronq:progress JSON` or `cronq:data JSON` (stdout
/// only: stderr lines carry a prefix). A line whose JSON does not parse stays a log line, so
/// nothing is lost.
pub(super) fn control_of(line: &str) -> Option<Control> {
    let parse = |rest: &str| serde_json::from_str(rest.trim()).ok();
    if let Some(rest) = line.strip_prefix(PROGRESS_PREFIX) {
        return parse(rest).map(Control::Progress);
    }
    parse(line.strip_prefix(DATA_PREFIX)?).map(Control::Data)
}

/// Why the run's own token fired, if it did.
enum Stop {
    Timeout(Duration),
    Deadline,
    Cancelled,
}

/// Runs `run` until it ends, its timeout passes, the drain deadline comes or a cancel request
/// arrives; in the last three cases cancels it through `stop` and waits for it to wind down
/// (process groups killed).
pub(crate) async fn supervise(
    run: impl std::future::Future<Output = Result<serde_json::Value, JobError>>,
    stop: &CancellationToken,
    timeout: Option<Duration>,
    cut_off: &CancellationToken,
    cancel: &CancellationToken,
) -> Outcome {
    tokio::pin!(run);
    let timer = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let why = tokio::select! {
        r = &mut run => return outcome(r),
        _ = timer => Stop::Timeout(timeout.unwrap_or_default()),
        _ = cut_off.cancelled() => Stop::Deadline,
        _ = cancel.cancelled() => Stop::Cancelled,
    };
    stop.cancel();
    let _ = run.await;
    match why {
        Stop::Timeout(t) => {
            Outcome::Retry(format!("timed out after {}", humantime::format_duration(t)))
        }
        Stop::Deadline => Outcome::Release,
        Stop::Cancelled => Outcome::Fail("cancelled on request (a newer run replaced it)".into()),
    }
}

fn outcome(r: Result<serde_json::Value, JobError>) -> Outcome {
    match r {
        Ok(v) => Outcome::Completed(v),
        Err(JobError::Retryable(m)) => Outcome::Retry(m),
        Err(JobError::Fatal(m)) => Outcome::Fail(m),
        // Only our own token cancels a handler, and supervise() handles that branch.
        Err(JobError::Cancelled) => Outcome::Release,
    }
}
