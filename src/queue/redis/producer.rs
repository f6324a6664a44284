//! Adding jobs (BullMQ's `addStandardJob` / `addDelayedJob` / `addPrioritizedJob` scripts, run
//! by the engine), and the deterministic ids that make cron ticks single-fire across replicas.

use bullmq::types::{BackoffStrategy, KeepJobs, RemoveOnFinish};
use bullmq::JobOptions;

use super::RedisStore;
use crate::queue::contract::Produce;
use crate::queue::record::FinishedRun;
use crate::queue::spec::ValidJob;
use crate::queue::{error::Error, job::Backoff, job::JobSpec, job::Retention};
use async_trait::async_trait;

fn engine_options(spec: &JobSpec) -> JobOptions {
    let mut opts = JobOptions::new();
    opts.job_id = spec.job_id.clone();
    opts.delay = spec
        .delay
        .map(|d| d.as_millis() as u64)
        .filter(|&ms| ms > 0);
    opts.priority = spec.priority.filter(|&p| p > 0);
    // Node always writes `attempts` (default 0); so do we, for older tooling (bullmq-layout §19.17).
    opts.attempts = Some(spec.attempts.unwrap_or(0));
    opts.backoff = spec.backoff.map(|b| match b {
        Backoff::Fixed(d) => BackoffStrategy::Fixed(d.as_millis() as u64),
        Backoff::Exponential(d) => BackoffStrategy::Exponential(d.as_millis() as u64),
    });
    opts.remove_on_complete = spec.remove_on_complete.map(retention);
    opts.remove_on_fail = spec.remove_on_fail.map(retention);
    opts
}

/// Our retention → the engine's. BullMQ's `age` is in **seconds** (its Lua multiplies by
/// 1000); the engine's doc comment says milliseconds, which is wrong, so we pass seconds.
pub(crate) fn retention(r: Retention) -> RemoveOnFinish {
    match r {
        Retention::KeepAll => RemoveOnFinish::Bool(false),
        Retention::RemoveAll => RemoveOnFinish::Bool(true),
        Retention::Keep {
            count: Some(count),
            age: None,
        } => RemoveOnFinish::Count(count),
        Retention::Keep { count, age } => RemoveOnFinish::Options(KeepJobs {
            age: age.map(|a| a.as_secs().max(1)),
            count,
            limit: None,
        }),
    }
}

#[async_trait]
impl Produce for RedisStore {
    /// Adds a job to `queue` and returns its id (the existing id when a job with the same
    /// custom id is already there: BullMQ then adds nothing). The facade validated `spec`.
    async fn add(&self, queue: &str, spec: ValidJob) -> Result<String, Error> {
        let engine = self.queue(queue).await?;
        let opts = engine_options(&spec);
        // The engine stamps the hash with this process's clock, read after this.
        let started_ms = crate::queue::consumer::now_ms();
        let added = engine.add(&spec.name, &spec.data).options(opts).await;
        match added {
            Ok(job) => Ok(job.id().to_string()),
            Err(e) => {
                // A script that failed midway may have left the hash in no list (add_undo).
                if let Some(id) = &spec.job_id {
                    self.undo_failed_add(queue, id, started_ms).await;
                }
                Err(Error::engine(queue, e))
            }
        }
    }

    async fn record_run(&self, queue: &str, run: &FinishedRun) -> Result<bool, Error> {
        self.write_finished_run(queue, run).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn options_always_carry_attempts_and_skip_zero_values() {
        let mut spec = JobSpec::new("n", serde_json::json!({}));
        spec.delay = Some(Duration::ZERO);
        spec.priority = Some(0);
        let o = engine_options(&spec);
        assert_eq!(o.attempts, Some(0));
        assert_eq!(o.delay, None);
        assert_eq!(o.priority, None);
    }

    #[test]
    fn retention_age_is_in_seconds() {
        let r = retention(Retention::Keep {
            count: None,
            age: Some(Duration::from_secs(7 * 86_400)),
        });
        match r {
            RemoveOnFinish::Options(k) => assert_eq!(k.age, Some(604_800)),
            other => panic!("unexpected {other:?}"),
        }
    }
}
