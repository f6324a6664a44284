//! A running engine job as the consumer's [`JobHandle`]: its log, its progress and a flow
//! parent's children's return values, each through the engine's own call.

use async_trait::async_trait;

use super::run_one::EngineJob;
use crate::queue::consumer::JobHandle;
use crate::queue::error::Error;

#[async_trait]
impl JobHandle for EngineJob {
    async fn log(&self, queue: &str, line: &str) -> Result<(), Error> {
        self.0
            .log(line)
            .await
            .map(|_| ())
            .map_err(|e| Error::engine(queue, e))
    }

    /// `job.updateProgress(value)`: a number stays a number, anything else is stored as JSON.
    async fn progress(&self, queue: &str, value: serde_json::Value) -> Result<(), Error> {
        let job = &self.0;
        let progress = match value.as_f64() {
            Some(n) => bullmq::JobProgress::Number(n),
            None => bullmq::JobProgress::Object(value),
        };
        // `update_progress` takes `&mut` only to cache the value on its copy of the job.
        let mut job = job.clone();
        job.update_progress(progress)
            .await
            .map_err(|e| Error::engine(queue, e))
    }

    /// `job.updateData(data)`: BullMQ's `updateData` script through the engine.
    async fn update_data(&self, queue: &str, data: serde_json::Value) -> Result<(), Error> {
        // `update_data` takes `&mut` only to cache the value on its copy of the job.
        let mut job = self.0.clone();
        job.update_data(data)
            .await
            .map_err(|e| Error::engine(queue, e))
    }

    /// `job.getChildrenValues()`: child key → return value (empty unless the job is a flow
    /// parent).
    async fn children_values(
        &self,
        queue: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let job = &self.0;
        Ok(job
            .get_children_values()
            .await
            .map_err(|e| Error::engine(queue, e))?
            .into_iter()
            .collect())
    }
}
