//! Handlers built into the binary: `noop` (benchmarks), `echo`, `sleep`, `fail` (drills).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{JobError, JobInput, RunResult};
use crate::config::Builtin;

/// Runs builtin `b`.
pub async fn run(b: Builtin, job: &JobInput, cancel: &CancellationToken) -> RunResult {
    match b {
        Builtin::Noop => Ok(serde_json::Value::Null),
        Builtin::Echo => Ok(job.data.clone()),
        Builtin::Sleep => {
            let ms = job.data.get("ms").and_then(|v| v.as_u64()).unwrap_or(1000);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(ms)) => Ok(serde_json::json!({ "slept_ms": ms })),
                _ = cancel.cancelled() => Err(JobError::Cancelled),
            }
        }
        Builtin::Fail => {
            let reason = job
                .data
                .get("reason")
                .and_then(|v| v.as_str())
                .unwrap_or("failed by the builtin fail handler");
            Err(JobError::Retryable(reason.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(data: serde_json::Value) -> JobInput {
        super::super::test_support::job("1", 1, data)
    }

    #[tokio::test(start_paused = true)]
    async fn sleep_honours_cancellation() {
        let cancel = CancellationToken::new();
        let j = job(serde_json::json!({"ms": 60_000}));
        let run = run(Builtin::Sleep, &j, &cancel);
        tokio::pin!(run);
        tokio::select! {
            _ = &mut run => panic!("finished early"),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        cancel.cancel();
        assert_eq!(run.await, Err(JobError::Cancelled));
    }

    #[tokio::test]
    async fn echo_and_fail() {
        let c = CancellationToken::new();
        let d = serde_json::json!({"a": 1, "reason": "nope"});
        assert_eq!(run(Builtin::Echo, &job(d.clone()), &c).await, Ok(d.clone()));
        assert_eq!(
            run(Builtin::Fail, &job(d), &c).await,
            Err(JobError::Retryable("nope".into()))
        );
        assert_eq!(
            run(Builtin::Noop, &job(serde_json::json!(null)), &c).await,
            Ok(serde_json::Value::Null)
        );
    }
}
