//! The embedded store behind the store contract ([`crate::queue::contract`]): each method is
//! the store's own operation of the same name (in `admin`, `info`, `events`, `cancel`, …).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{EmbeddedConsumer, EmbeddedEventReader, EmbeddedStore, JobLogRef};
use crate::queue::contract::{Backend, ConsumerHandle, EventSource, JobHandle};
use crate::queue::{
    Consumer, ConsumerOptions, Error, JobCounts, JobInfo, JobOpError, JobPage, JobSpec, Processor,
    QueueEvent,
};

#[async_trait]
impl Backend for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }
    fn redacted_url(&self) -> String {
        EmbeddedStore::redacted_url(self)
    }
    fn prefix(&self) -> &str {
        EmbeddedStore::prefix(self)
    }
    async fn ping(&self) -> Result<Duration, Error> {
        EmbeddedStore::ping(self).await
    }
    async fn add(&self, queue: &str, spec: JobSpec) -> Result<String, Error> {
        EmbeddedStore::add(self, queue, spec).await
    }
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        EmbeddedStore::consume(self, queue, opts, processor).await
    }
    async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        EmbeddedStore::counts(self, queue).await
    }
    async fn metrics(
        &self,
        queue: &str,
        minutes: u32,
    ) -> Result<crate::queue::MinuteCounts, Error> {
        EmbeddedStore::metrics(self, queue, minutes).await
    }
    async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        EmbeddedStore::is_paused(self, queue).await
    }
    async fn state(&self, queue: &str, id: &str) -> Result<Option<String>, Error> {
        EmbeddedStore::state(self, queue, id).await
    }
    async fn jobs(
        &self,
        queue: &str,
        state: &str,
        offset: u64,
        limit: u64,
    ) -> Result<JobPage, Error> {
        EmbeddedStore::jobs(self, queue, state, offset, limit).await
    }
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        EmbeddedStore::job(self, queue, id).await
    }
    async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        EmbeddedStore::discover_queues(self).await
    }
    async fn retry_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        EmbeddedStore::retry_job(self, queue, id).await
    }
    async fn retry_all_failed(
        &self,
        queue: &str,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, Error> {
        EmbeddedStore::retry_all_failed(self, queue, progress).await
    }
    async fn remove_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        EmbeddedStore::remove_job(self, queue, id).await
    }
    async fn promote_job(&self, queue: &str, id: &str) -> Result<(), JobOpError> {
        EmbeddedStore::promote_job(self, queue, id).await
    }
    async fn pause(&self, queue: &str) -> Result<(), Error> {
        EmbeddedStore::pause(self, queue).await
    }
    async fn resume(&self, queue: &str) -> Result<(), Error> {
        EmbeddedStore::resume(self, queue).await
    }
    async fn clean(&self, queue: &str, state: &str, older_than: Duration) -> Result<u64, Error> {
        EmbeddedStore::clean(self, queue, state, older_than).await
    }
    async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error> {
        EmbeddedStore::request_cancel(self, queue, id).await
    }
    async fn listen_cancels(&self, out: mpsc::Sender<(String, String)>, stop: CancellationToken) {
        EmbeddedStore::listen_cancels(self, out, stop).await
    }
    async fn events_after(
        &self,
        queue: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<QueueEvent>, Error> {
        EmbeddedStore::events_after(self, queue, after, count).await
    }
    async fn event_reader(
        &self,
        queues: &[String],
        cursors: BTreeMap<String, String>,
    ) -> Result<Box<dyn EventSource>, Error> {
        Ok(Box::new(
            EmbeddedStore::event_reader(self, queues, cursors).await?,
        ))
    }
}

#[async_trait]
impl ConsumerHandle for EmbeddedConsumer {
    async fn close(self: Box<Self>, _queue: &str, wait: Duration) {
        EmbeddedConsumer::close(*self, wait).await
    }
}

#[async_trait]
impl JobHandle for JobLogRef {
    async fn log(&self, _queue: &str, line: &str) -> Result<(), Error> {
        JobLogRef::log(self, line).await
    }
    async fn progress(&self, _queue: &str, value: serde_json::Value) -> Result<(), Error> {
        JobLogRef::progress(self, &value).await
    }
    async fn children_values(
        &self,
        _queue: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        // The embedded store has no flows.
        Ok(serde_json::Map::new())
    }
}

#[async_trait]
impl EventSource for EmbeddedEventReader {
    fn start_cursors(&self) -> BTreeMap<String, String> {
        EmbeddedEventReader::start_cursors(self)
    }
    async fn next_batch(&mut self, block: Duration) -> Result<Vec<QueueEvent>, Error> {
        EmbeddedEventReader::next_batch(self, block).await
    }
}
