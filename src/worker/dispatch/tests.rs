//! Dispatch: supervision of a running job (cancel, timeout) and the outcome mapping.

use super::*;
use crate::worker::handler::JobError;

async fn slow(stop: &CancellationToken) -> Result<serde_json::Value, JobError> {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(3600)) => Ok(serde_json::Value::Null),
        _ = stop.cancelled() => Err(JobError::Cancelled),
    }
}

/// The outside event a test races a run against, after that many seconds of paused time.
enum Event {
    /// None: only the timeout can end the run.
    Nothing,
    /// The drain's deadline (`cut_off`) passes.
    CutOff(u64),
    /// A cancel request for the job arrives.
    Cancel(u64),
}

/// Supervises a run that would take an hour, with `timeout`, while `event` happens: the
/// outcome, and whether the handler was told to stop.
async fn supervise_slow(timeout: Option<Duration>, event: Event) -> (Outcome, bool) {
    let (stop, cut, cancel) = (
        CancellationToken::new(),
        CancellationToken::new(),
        CancellationToken::new(),
    );
    let outside = async {
        let (token, secs) = match event {
            Event::Nothing => return,
            Event::CutOff(secs) => (&cut, secs),
            Event::Cancel(secs) => (&cancel, secs),
        };
        tokio::time::sleep(Duration::from_secs(secs)).await;
        token.cancel();
    };
    let (o, ()) = tokio::join!(
        supervise(slow(&stop), &stop, timeout, &cut, &cancel),
        outside
    );
    (o, stop.is_cancelled())
}

#[tokio::test(start_paused = true)]
async fn timeout_cancels_and_is_retryable() {
    let (o, stopped) = supervise_slow(Some(Duration::from_secs(30)), Event::Nothing).await;
    assert_eq!(o, Outcome::Retry("timed out after 30s".into()));
    assert!(stopped);
}

#[tokio::test(start_paused = true)]
async fn a_cancel_request_fails_the_run_for_good() {
    let (o, stopped) = supervise_slow(None, Event::Cancel(2)).await;
    assert_eq!(
        o,
        Outcome::Fail("cancelled on request (a newer run replaced it)".into())
    );
    assert!(stopped, "the handler was stopped");
}

#[tokio::test(start_paused = true)]
async fn the_deadline_releases_the_job() {
    let (o, _) = supervise_slow(None, Event::CutOff(5)).await;
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
