//! Operations people run on a Bull queue (API, CLI, dashboard): pause/resume Bull's way, retry
//! a failed job, promote a delayed one, remove one, clean finished ones.

use async_trait::async_trait;

use super::{scripts, BullStore};
use crate::queue::consumer::now_ms;
use crate::queue::contract::{Admin, Browse, Progress};
use crate::queue::error::{Error, JobOpError};
use crate::queue::state::CleanOrder;

/// Jobs `clean` removes per script call (keeps each call short).
const CLEAN_BATCH: u64 = 1000;

impl BullStore {
    /// Pauses (`wait` → `paused`, `meta-paused` set) or resumes, as Bull's `queue.pause()` does.
    pub(super) async fn pause_or_resume(&self, queue: &str, pause: bool) -> Result<(), Error> {
        let k = self.keys(queue);
        let (from, to, word) = if pause {
            ("wait", "paused", "paused")
        } else {
            ("paused", "wait", "resumed")
        };
        let mut inv = k.script(&scripts::PAUSE, &[from, to, "meta-paused", word, "meta"]);
        let _: i64 = self.run(queue, inv.arg(word)).await?;
        Ok(())
    }

    /// Runs retry_failed.lua or promote_one.lua (same keys) on job `id`.
    async fn to_ready(
        &self,
        script: &redis::Script,
        from: &str,
        queue: &str,
        id: &str,
        hint: &str,
    ) -> Result<(), JobOpError> {
        let k = self.keys(queue);
        let waiting = format!("waiting@{}", self.token);
        let keys = [
            from,
            "wait",
            "paused",
            "meta-paused",
            "priority",
            id,
            &waiting,
        ];
        let mut inv = k.script(script, &keys);
        let code: i64 = self.run(queue, inv.arg(id)).await?;
        self.job_code(queue, id, code, hint).await
    }

    /// A script's code as the result of an operation on job `id`.
    async fn job_code(
        &self,
        queue: &str,
        id: &str,
        code: i64,
        hint: &str,
    ) -> Result<(), JobOpError> {
        match code {
            0 => Ok(()),
            -1 => Err(JobOpError::NotFound {
                queue: queue.into(),
                id: id.into(),
            }),
            _ => Err(JobOpError::WrongState {
                queue: queue.into(),
                id: id.into(),
                state: match self.state(queue, id).await? {
                    Some(s) => s.to_string(),
                    None => "gone".into(),
                },
                hint: hint.into(),
            }),
        }
    }
}

#[async_trait]
impl Admin for BullStore {
    /// failed → waiting.
    async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.to_ready(
            &scripts::RETRY_FAILED,
            "failed",
            queue,
            id,
            "only failed jobs can be retried",
        )
        .await
    }

    /// Every failed job → waiting.
    async fn retry_all_failed(&self, queue: &str, progress: Progress<'_>) -> Result<u64, Error> {
        let ids: Vec<String> = self
            .cmd(
                queue,
                redis::cmd("ZRANGE")
                    .arg(self.keys(queue).key("failed"))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        let total = ids.len() as u64;
        let mut done = 0;
        for id in ids {
            match self.retry_job(queue, &id).await {
                Ok(()) => done += 1,
                Err(JobOpError::Store(e)) => return Err(e),
                // Retried or removed by someone else meanwhile.
                Err(_) => {}
            }
            progress(done, total);
        }
        Ok(done)
    }

    /// delayed → waiting.
    async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        self.to_ready(
            &scripts::PROMOTE_ONE,
            "delayed",
            queue,
            id,
            "only delayed jobs can be promoted",
        )
        .await
    }

    /// Pauses Bull's way.
    async fn pause(&self, queue: &str) -> Result<(), Error> {
        self.pause_or_resume(queue, true).await
    }

    /// Resumes Bull's way.
    async fn resume(&self, queue: &str) -> Result<(), Error> {
        self.pause_or_resume(queue, false).await
    }

    /// Removes a job that is not running.
    async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        let k = self.keys(queue);
        let keys = [
            "wait",
            "paused",
            "delayed",
            "priority",
            "completed",
            "failed",
            id,
            "active",
        ];
        let mut inv = k.script(&scripts::REMOVE, &keys);
        let code: i64 = self.run(queue, inv.arg(id)).await?;
        self.job_code(
            queue,
            id,
            code,
            "a worker is running it; try again when it finishes",
        )
        .await
    }

    /// Removes `state` jobs that finished more than `older_than` ago.
    async fn clean(&self, queue: &str, order: CleanOrder) -> Result<u64, Error> {
        let k = self.keys(queue);
        let cut = order.cutoff_ms(now_ms());
        let mut removed = 0;
        loop {
            let mut inv = k.script(&scripts::CLEAN, &[order.state().as_str()]);
            inv.arg(k.base()).arg(cut).arg(CLEAN_BATCH);
            let n: u64 = self.run(queue, &inv).await?;
            removed += n;
            if n < CLEAN_BATCH {
                return Ok(removed);
            }
        }
    }
}
