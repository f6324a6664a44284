//! The Redis store behind the store contract ([`crate::queue::contract`]): each method is the
//! store's own operation of the same name (in `admin`, `info`, `events`, `cancel`, …).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::consumer::{children_values, set_progress, EngineJob, RedisConsumer};
use super::events::RedisEventReader;
use super::RedisStore;
use crate::queue::contract::{Backend, ConsumerHandle, EventSource, JobHandle};
use crate::queue::{
    Consumer, ConsumerOptions, Error, JobCounts, JobInfo, JobOpError, JobPage, JobSpec, Processor,
    QueueEvent,
};

#[async_trait]
impl Backend for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }
    fn redacted_url(&self) -> String {
        RedisStore::redacted_url(self)
    }
    fn prefix(&self) -> &str {
        RedisStore::prefix(self)
    }
    async fn ping(&self) -> Result<Duration, Error> {
        RedisStore::ping(self).await
    }
    async fn claim_identity(
        &self,
        id: &crate::queue::Identity,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<(), Error> {
        RedisStore::claim_identity(self, id, stop).await
    }
    async fn settings_warnings(&self) -> Vec<String> {
        self.eviction_warning().await.into_iter().collect()
    }
    async fn add(&self, queue: &str, spec: JobSpec) -> Result<String, Error> {
        RedisStore::add(self, queue, spec).await
    }
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        RedisStore::consume(self, queue, opts, processor).await
    }
    async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        RedisStore::counts(self, queue).await
    }
    async fn any_ready(&self, queues: &[String]) -> Result<bool, Error> {
        RedisStore::any_ready(self, queues).await
    }
    async fn metrics(
        &self,
        queue: &str,
        minutes: u32,
    ) -> Result<crate::queue::MinuteCounts, Error> {
        RedisStore::metrics(self, queue, minutes).await
    }
    async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        RedisStore::is_paused(self, queue).await
    }
    async fn state(&self, queue: &str, id: &str) -> Result<Option<String>, Error> {
        RedisStore::state(self, queue, id).await
    }
    async fn jobs(
        &self,
        queue: &str,
        state: &str,
        offset: u64,
        limit: u64,
    ) -> Result<JobPage, Error> {
        RedisStore::jobs(self, queue, state, offset, limit).await
    }
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        RedisStore::job(self, queue, id).await
    }
    async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        RedisStore::discover_queues(self).await
    }
    async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        RedisStore::retry_job(self, queue, id).await
    }
    async fn retry_all_failed(
        &self,
        queue: &str,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, Error> {
        RedisStore::retry_all_failed(self, queue, progress).await
    }
    async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        RedisStore::remove_job(self, queue, id).await
    }
    async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        RedisStore::promote_job(self, queue, id).await
    }
    async fn pause(&self, queue: &str) -> Result<(), Error> {
        RedisStore::pause(self, queue).await
    }
    async fn resume(&self, queue: &str) -> Result<(), Error> {
        RedisStore::resume(self, queue).await
    }
    async fn clean(&self, queue: &str, state: &str, older_than: Duration) -> Result<u64, Error> {
        RedisStore::clean(self, queue, state, older_than).await
    }
    async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error> {
        RedisStore::request_cancel(self, queue, id).await
    }
    async fn advertise_entries(
        &self,
        queue: &str,
        holder: &str,
        entries: &[String],
        ttl: std::time::Duration,
    ) -> Result<Vec<String>, Error> {
        RedisStore::advertise_entries(self, queue, holder, entries, ttl).await
    }
    async fn entry_claimed(&self, queue: &str, entry: &str) -> Result<bool, Error> {
        RedisStore::entry_claimed(self, queue, entry).await
    }
    async fn record_run(
        &self,
        queue: &str,
        run: &crate::queue::FinishedRun,
    ) -> Result<bool, Error> {
        RedisStore::record_run(self, queue, run).await
    }
    async fn listen_cancels(&self, out: mpsc::Sender<(String, String)>, stop: CancellationToken) {
        RedisStore::listen_cancels(self, out, stop).await
    }
    async fn events_after(
        &self,
        queue: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<QueueEvent>, Error> {
        RedisStore::events_after(self, queue, after, count).await
    }
    async fn event_reader(
        &self,
        queues: &[String],
        cursors: BTreeMap<String, String>,
    ) -> Result<Box<dyn EventSource>, Error> {
        Ok(Box::new(
            RedisStore::event_reader(self, queues, cursors).await?,
        ))
    }
}

#[async_trait]
impl ConsumerHandle for RedisConsumer {
    async fn close(self: Box<Self>, queue: &str, wait: Duration) {
        RedisConsumer::close(*self, queue, wait).await
    }
}

#[async_trait]
impl JobHandle for EngineJob {
    async fn log(&self, queue: &str, line: &str) -> Result<(), Error> {
        self.0
            .log(line)
            .await
            .map(|_| ())
            .map_err(|e| Error::engine(queue, e))
    }
    async fn progress(&self, queue: &str, value: serde_json::Value) -> Result<(), Error> {
        set_progress(&self.0, queue, value).await
    }
    async fn children_values(
        &self,
        queue: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        children_values(&self.0, queue).await
    }
}

#[async_trait]
impl EventSource for RedisEventReader {
    fn start_cursors(&self) -> BTreeMap<String, String> {
        RedisEventReader::start_cursors(self)
    }
    async fn next_batch(&mut self, block: Duration) -> Result<Vec<QueueEvent>, Error> {
        RedisEventReader::next_batch(self, block).await
    }
}
