//! Job events of the queues, for Server-Sent Events and resume: each store keeps an ordered
//! log per queue (Redis: BullMQ's `events` stream) and reads it from per-queue cursors.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::Error;

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

/// A reader of several queues' events, resuming from per-queue cursors.
pub enum EventReader {
    /// Redis streams (`XREAD BLOCK`).
    Redis(super::redis::events::RedisEventReader),
    /// The embedded store's event table.
    Embedded(super::embedded::EmbeddedEventReader),
}

impl EventReader {
    /// Queue → the position reading started after (before any batch was read).
    pub fn start_cursors(&self) -> BTreeMap<String, String> {
        match self {
            EventReader::Redis(r) => r.start_cursors(),
            EventReader::Embedded(r) => r.start_cursors(),
        }
    }

    /// Waits up to `block` for events; returns those that arrived (possibly none).
    pub async fn next_batch(&mut self, block: Duration) -> Result<Vec<QueueEvent>, Error> {
        match self {
            EventReader::Redis(r) => r.next_batch(block).await,
            EventReader::Embedded(r) => r.next_batch(block).await,
        }
    }
}
