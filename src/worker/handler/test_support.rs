//! Fixtures the handler tests share: the job they run and the way a run is watched. One copy,
//! so a new `JobInput` field or a change in how a run reports its lines is made once.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::exec::Exec;
use super::{JobInput, LogSender, PrintingRun, RunResult};

/// A job `id` of queue `q` named `n`, at attempt `attempt`, carrying `data`.
pub(super) fn job(id: &str, attempt: u32, data: serde_json::Value) -> JobInput {
    JobInput {
        queue: "q".into(),
        id: id.into(),
        name: "n".into(),
        attempt,
        data,
        children: Default::default(),
        opts: Default::default(),
    }
}

/// Runs `job` on `exec` to its end; its result and every line it logged. The log sender is
/// dropped with the run, which closes the channel and ends the collection.
pub(super) async fn run_exec(exec: &Exec, job: &JobInput) -> (RunResult, Vec<String>) {
    let (tx, mut rx) = mpsc::channel(100);
    let (logs, cancel) = (LogSender::quiet(tx), CancellationToken::new());
    let r = exec
        .run(PrintingRun {
            job,
            logs: &logs,
            cancel: &cancel,
        })
        .await;
    drop(logs);
    let mut lines = Vec::new();
    while let Some(l) = rx.recv().await {
        lines.push(l);
    }
    (r, lines)
}

/// A handler's run started on a [`PrintingRun`] (an exec's or a pool's `run`), boxed so that
/// one fixture can start either kind.
pub(super) type Started<'r> = Pin<Box<dyn Future<Output = RunResult> + 'r>>;

/// Runs `job` on `handler` through `start` with a log of its own, and cancels it (as a timeout
/// does) once its first log line is `signal`: the handler's word that it is mid-job.
pub(super) async fn cancel_once_logged<H>(
    handler: &H,
    job: &JobInput,
    signal: &str,
    start: impl for<'r> FnOnce(&'r H, PrintingRun<'r>) -> Started<'r>,
) -> RunResult {
    let (tx, mut lines) = mpsc::channel(10);
    let (logs, cancel) = (LogSender::quiet(tx), CancellationToken::new());
    let run = start(
        handler,
        PrintingRun {
            job,
            logs: &logs,
            cancel: &cancel,
        },
    );
    let canceller = async {
        assert_eq!(lines.recv().await.as_deref(), Some(signal));
        cancel.cancel();
    };
    let (r, ()) = tokio::join!(run, canceller);
    r
}
