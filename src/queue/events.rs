//! Job events of the queues, for Server-Sent Events and resume: each store keeps an ordered
//! log per queue (Redis: BullMQ's `events` stream) and reads it from per-queue cursors.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use super::error::Error;

/// The queues an event reader follows, each with the event id to read after (`None`: only
/// events from now on). One map, so no cursor can name a queue that is not followed.
pub type EventStarts = BTreeMap<String, Option<String>>;

/// A catch-up read of one queue's log: up to `count` events after event id `after`, without
/// waiting. What a resuming SSE client asks for, one page at a time, as one value.
#[derive(Debug, Clone, Copy)]
pub struct CatchUp<'a> {
    /// The last event id the client saw.
    pub after: &'a str,
    /// The most events returned.
    pub count: usize,
}

/// One event of one queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueEvent {
    /// The queue.
    pub queue: String,
    /// Its stream id (`<ms>-<seq>`), usable to resume.
    pub stream_id: String,
    /// `added`, `active`, `completed`, `failed`, …
    pub event: String,
    /// The other fields (`jobId`, `returnvalue`, `failedReason`, `prev`, …).
    pub fields: BTreeMap<String, String>,
}

/// A store's reader of several queues' events, held by [`EventReader`] (the store contract,
/// `contract.rs`, builds on this file, never the other way).
#[async_trait]
pub trait EventSource: Send {
    /// Queue → the position reading started after.
    fn start_cursors(&self) -> BTreeMap<String, String>;
    /// Waits up to `block` for events; returns those that arrived (possibly none).
    async fn next_batch(&mut self, block: Duration) -> Result<Vec<QueueEvent>, Error>;
}

/// A reader of several queues' events, resuming from per-queue cursors.
pub struct EventReader(pub(crate) Box<dyn EventSource>);

impl EventReader {
    /// Queue → the position reading started after (before any batch was read).
    pub fn start_cursors(&self) -> BTreeMap<String, String> {
        self.0.start_cursors()
    }

    /// Waits up to `block` for events; returns those that arrived (possibly none).
    pub async fn next_batch(&mut self, block: Duration) -> Result<Vec<QueueEvent>, Error> {
        self.0.next_batch(block).await
    }
}
