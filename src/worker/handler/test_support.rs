//! Fixtures the handler tests share: the job they run and the way a run is watched. One copy,
//! so a new `JobInput` field or a change in how a run reports its lines is made once.

use std::future::Future;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::exec::Exec;
use super::{JobInput, LogSender, RunResult};

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
    let r = exec
        .run(job, &LogSender::quiet(tx), &CancellationToken::new())
        .await;
    let mut lines = Vec::new();
    while let Some(l) = rx.recv().await {
        lines.push(l);
    }
    (r, lines)
}

/// Drives `run` and cancels it through `cancel` (as a timeout does) once its first log line,
/// read from `logs`, is `signal`: the handler's word that it is mid-job.
pub(super) async fn cancel_once_logged(
    run: impl Future<Output = RunResult>,
    logs: &mut mpsc::Receiver<String>,
    signal: &str,
    cancel: &CancellationToken,
) -> RunResult {
    let canceller = async {
        assert_eq!(logs.recv().await.as_deref(), Some(signal));
        cancel.cancel();
    };
    let (r, ()) = tokio::join!(run, canceller);
    r
}
