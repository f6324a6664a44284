//! Operations on queues and jobs for people and tools (API, CLI, dashboard), each one BullMQ
//! script run by the engine: retry (`reprocessJob`, `moveJobsToWait`), remove (`removeJob`),
//! promote (`promote`), pause/resume, clean (`cleanJobsInSet`).

use std::time::Duration;

use super::client::on;
use super::RedisStore;
use crate::queue::consumer::now_ms;
use crate::queue::contract::{Admin, Browse, Progress};
use crate::queue::state::{CleanOrder, JobState};
use crate::queue::{error::Error, error::JobOpError};
use async_trait::async_trait;

impl RedisStore {
    async fn require_state(
        &self,
        queue: &str,
        id: &str,
        wanted: &[JobState],
        hint: &str,
    ) -> Result<(), JobOpError> {
        match self.state(queue, id).await? {
            None => Err(JobOpError::NotFound {
                queue: queue.into(),
                id: id.into(),
            }),
            Some(s) if wanted.contains(&s) => Ok(()),
            Some(s) => Err(JobOpError::WrongState {
                queue: queue.into(),
                id: id.into(),
                state: s.to_string(),
                hint: hint.into(),
            }),
        }
    }

    /// The engine's handle of job `id` when it is in `wanted` (else `NotFound`, or `WrongState`
    /// with `hint`): the check and the handle every single-job move starts with.
    async fn engine_job_in(
        &self,
        queue: &str,
        id: &str,
        wanted: JobState,
        hint: &str,
    ) -> Result<bullmq::Job, JobOpError> {
        self.require_state(queue, id, &[wanted], hint).await?;
        self.engine_job(queue, id).await
    }

    /// The engine's handle of job `id` (with its script context), or `NotFound`.
    async fn engine_job(&self, queue: &str, id: &str) -> Result<bullmq::Job, JobOpError> {
        self.queue(queue)
            .await?
            .get_job(id)
            .await
            .map_err(|e| Error::engine(queue, e))?
            .ok_or_else(|| JobOpError::NotFound {
                queue: queue.into(),
                id: id.into(),
            })
    }

    async fn failed_before(&self, queue: &str, ms: u64) -> Result<u64, Error> {
        let key = super::keys::QueueKeys::new(self.prefix(), queue).failed();
        self.inner
            .conn
            .cmd(redis::cmd("ZCOUNT").arg(key).arg("-inf").arg(ms))
            .await
            .map_err(|e| Error::engine(queue, e))
    }
}

#[async_trait]
impl Admin for RedisStore {
    /// Moves one failed job back to `wait` (its attempt count is kept, as Bull Board's retry).
    async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        let hint = "only failed jobs can be retried";
        let mut job = self
            .engine_job_in(queue, id, JobState::Failed, hint)
            .await?;
        job.retry("failed", None)
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(())
    }

    /// Moves every failed job of `queue` back to `wait`; `progress(done, total)` is called as
    /// the move goes on. Returns how many were moved. Only jobs that failed before the call are
    /// counted and moved, so a job that fails again meanwhile is neither retried twice nor
    /// mistaken for one left behind.
    async fn retry_all_failed(&self, queue: &str, progress: Progress<'_>) -> Result<u64, Error> {
        let q = self.queue(queue).await?;
        let before = now_ms();
        let total = self.failed_before(queue, before).await?;
        // The engine moves everything in one call (its script loops in batches of 500); the
        // progress is read beside it from what is left.
        let moving = q.retry_jobs("failed", 500, Some(before));
        tokio::pin!(moving);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                r = &mut moving => {
                    r.map_err(|e| Error::engine(queue, e))?;
                    let left = self.failed_before(queue, before).await?;
                    progress(total - left.min(total), total);
                    return Ok(total - left.min(total));
                }
                _ = tick.tick() => {
                    if let Ok(left) = self.failed_before(queue, before).await {
                        progress(total - left.min(total), total);
                    }
                }
            }
        }
    }

    /// Removes a job that is not active (with its logs).
    async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.require_state(
            queue,
            id,
            &[
                JobState::Waiting,
                JobState::Prioritized,
                JobState::Delayed,
                JobState::Completed,
                JobState::Failed,
                JobState::WaitingChildren,
            ],
            "an active job cannot be removed; wait for it to finish",
        )
        .await?;
        let q = self.queue(queue).await?;
        let removed = q.remove(id).await.map_err(|e| Error::engine(queue, e))?;
        if !removed {
            return Err(JobOpError::WrongState {
                queue: queue.into(),
                id: id.into(),
                state: "locked".into(),
                hint: "a worker holds its lock; try again when it finishes".into(),
            });
        }
        Ok(())
    }

    /// Makes a delayed job ready now.
    async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        let hint = "only delayed jobs can be promoted";
        let job = self
            .engine_job_in(queue, id, JobState::Delayed, hint)
            .await?;
        job.promote().await.map_err(|e| Error::engine(queue, e))?;
        Ok(())
    }

    /// Pauses `queue` for every worker (BullMQ's `meta.paused`; Node workers stop too).
    async fn pause(&self, queue: &str) -> Result<(), Error> {
        on(queue, self.queue(queue).await?.pause()).await
    }

    /// Resumes `queue`.
    async fn resume(&self, queue: &str) -> Result<(), Error> {
        on(queue, self.queue(queue).await?.resume()).await
    }

    /// Removes `completed` or `failed` jobs finished longer than `older_than` ago. Returns how many.
    async fn clean(&self, queue: &str, order: CleanOrder) -> Result<u64, Error> {
        let q = self.queue(queue).await?;
        let grace = order.older_than().as_millis() as u64;
        let mut removed = 0u64;
        loop {
            let batch = q
                .clean(grace, 1000, order.state().as_str())
                .await
                .map_err(|e| Error::engine(queue, e))?;
            removed += batch.len() as u64;
            if batch.len() < 1000 {
                return Ok(removed);
            }
        }
    }
}
