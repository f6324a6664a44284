//! The embedded store: one SQLite file (`CRONQ_DATA`), for running with no Redis at all.
//! Same semantics as the Redis store (states, priority, delay, attempts and backoff, results,
//! logs, retention, pause, events), for one daemon (the file is locked).
//!
//! NOTE: being implemented; until then opening it fails with a clear message.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::queue::{
    Consumer, ConsumerOptions, Error, JobCounts, JobInfo, JobOpError, JobPage, JobSpec, Processor,
    QueueEvent,
};

/// The embedded store.
pub struct EmbeddedStore {
    path: String,
}

fn todo(what: &str) -> Error {
    Error::Settings(format!(
        "the embedded store cannot {what} yet: set REDIS_URL"
    ))
}

impl EmbeddedStore {
    /// Opens (creating) the file.
    pub async fn open(path: &Path) -> Result<EmbeddedStore, Error> {
        let _ = EmbeddedStore {
            path: path.display().to_string(),
        };
        Err(todo("open a file"))
    }

    /// The file path.
    pub fn redacted_url(&self) -> String {
        self.path.clone()
    }

    /// No prefix: one file holds one deployment.
    pub fn prefix(&self) -> &str {
        "embedded"
    }

    /// A trivial query's round trip.
    pub async fn ping(&self) -> Result<Duration, Error> {
        Err(todo("ping"))
    }

    /// Adds a job.
    pub async fn add(&self, _queue: &str, _spec: JobSpec) -> Result<String, Error> {
        Err(todo("add"))
    }

    /// Consumes a queue.
    pub async fn consume(
        &self,
        _queue: &str,
        _opts: ConsumerOptions,
        _processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        Err(todo("consume"))
    }

    /// Counts per state.
    pub async fn counts(&self, _queue: &str) -> Result<JobCounts, Error> {
        Err(todo("count"))
    }

    /// Whether paused.
    pub async fn is_paused(&self, _queue: &str) -> Result<bool, Error> {
        Err(todo("pause"))
    }

    /// A job's state.
    pub async fn state(&self, _queue: &str, _id: &str) -> Result<Option<String>, Error> {
        Err(todo("read"))
    }

    /// A page of jobs.
    pub async fn jobs(
        &self,
        _queue: &str,
        _state: &str,
        _offset: u64,
        _limit: u64,
    ) -> Result<JobPage, Error> {
        Err(todo("list"))
    }

    /// One job.
    pub async fn job(&self, _queue: &str, _id: &str) -> Result<Option<JobInfo>, Error> {
        Err(todo("read"))
    }

    /// Queues with data.
    pub async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        Err(todo("list"))
    }

    /// Failed → waiting.
    pub async fn retry_job(&self, _queue: &str, _id: &str) -> Result<(), JobOpError> {
        Err(todo("retry").into())
    }

    /// Every failed job → waiting.
    pub async fn retry_all_failed(
        &self,
        _queue: &str,
        _progress: impl FnMut(u64, u64),
    ) -> Result<u64, Error> {
        Err(todo("retry"))
    }

    /// Removes a job.
    pub async fn remove_job(&self, _queue: &str, _id: &str) -> Result<(), JobOpError> {
        Err(todo("remove").into())
    }

    /// Delayed → waiting.
    pub async fn promote_job(&self, _queue: &str, _id: &str) -> Result<(), JobOpError> {
        Err(todo("promote").into())
    }

    /// Pauses a queue.
    pub async fn pause(&self, _queue: &str) -> Result<(), Error> {
        Err(todo("pause"))
    }

    /// Resumes a queue.
    pub async fn resume(&self, _queue: &str) -> Result<(), Error> {
        Err(todo("resume"))
    }

    /// Removes old finished jobs.
    pub async fn clean(
        &self,
        _queue: &str,
        _state: &str,
        _older_than: Duration,
    ) -> Result<u64, Error> {
        Err(todo("clean"))
    }

    /// An event reader.
    pub async fn event_reader(
        &self,
        _queues: &[String],
        _cursors: BTreeMap<String, String>,
    ) -> Result<EmbeddedEventReader, Error> {
        Err(todo("read events"))
    }
}

/// Log lines of a running embedded job.
pub struct JobLogRef;

impl JobLogRef {
    /// Appends a line.
    pub async fn log(&self, _line: &str) -> Result<(), Error> {
        Err(todo("log"))
    }
}

/// The embedded fetch loop's handle.
pub struct EmbeddedConsumer;

impl EmbeddedConsumer {
    /// Stops fetching, waits up to `wait` for running jobs.
    pub async fn close(self, _wait: Duration) {}
}

/// Reads the embedded event table.
pub struct EmbeddedEventReader;

impl EmbeddedEventReader {
    /// Where reading started.
    pub fn start_cursors(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// The next events.
    pub async fn next_batch(&mut self, _block: Duration) -> Result<Vec<QueueEvent>, Error> {
        Err(todo("read events"))
    }
}
