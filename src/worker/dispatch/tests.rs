//! Dispatch: supervision of a running job (cancel, timeout) and the outcome mapping.

use super::*;
use crate::worker::handler::JobError;

async fn slow(stop: &CancellationToken) -> Result<serde_json::Value, JobError> {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(3600)) => Ok(serde_json::Value::Null),
        _ = stop.cancelled() => Err(JobError::Cancelled),
    }
}

#[tokio::test(start_paused = true)]
async fn timeout_cancels_and_is_retryable() {
    let stop = CancellationToken::new();
    let cut = CancellationToken::new();
    let o = supervise(
        slow(&stop),
        &stop,
        Some(Duration::from_secs(30)),
        &cut,
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(o, Outcome::Retry("timed out after 30s".into()));
    assert!(stop.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn a_cancel_request_fails_the_run_for_good() {
    let stop = CancellationToken::new();
    let cancel = CancellationToken::new();
    let canceller = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        cancel.cancel();
    };
    let never = CancellationToken::new();
    let (o, ()) = tokio::join!(
        supervise(slow(&stop), &stop, None, &never, &cancel),
        canceller
    );
    assert_eq!(
        o,
        Outcome::Fail("cancelled on request (a newer run replaced it)".into())
    );
    assert!(stop.is_cancelled(), "the handler was stopped");
}

#[tokio::test(start_paused = true)]
async fn the_deadline_releases_the_job() {
    let stop = CancellationToken::new();
    let cut = CancellationToken::new();
    let canceller = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cut.cancel();
    };
    let never = CancellationToken::new();
    let (o, ()) = tokio::join!(supervise(slow(&stop), &stop, None, &cut, &never), canceller);
    assert_eq!(o, Outcome::Release);
}

#[tokio::test(start_paused = true)]
async fn a_finished_run_keeps_its_result() {
    let stop = CancellationToken::new();
    let cut = CancellationToken::new();
    let fast = async { Err(JobError::Fatal("HTTP 404".into())) };
    assert_eq!(
        supervise(
            fast,
            &stop,
            Some(Duration::from_secs(1)),
            &cut,
            &CancellationToken::new()
        )
        .await,
        Outcome::Fail("HTTP 404".into())
    );
}
