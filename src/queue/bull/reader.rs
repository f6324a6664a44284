//! Reading Bull queues' events: the store's [`Events`] role and the [`EventSource`] over each
//! queue's [`super::bus`] ring. Bull's events are pub/sub, so only what this daemon's
//! subscription kept can be read back (its ring), from in-process ids.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::bus::{lock, order, Bus};
use super::BullStore;
use crate::queue::contract::Events;
use crate::queue::error::Error;
use crate::queue::events::{CatchUp, EventSource, EventStarts, QueueEvent};

/// Events returned by one `next_batch` at most.
const BATCH: usize = 200;

/// How long an event reader waits for its queue's subscription to be in place.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(5);

#[async_trait]
impl Events for BullStore {
    async fn events_after(&self, queue: &str, page: CatchUp<'_>) -> Result<Vec<QueueEvent>, Error> {
        // Bull's events are pub/sub: only what this daemon's subscription kept can be read back.
        Ok(lock(&self.buses)
            .get(queue)
            .map(|bus| bus.shared.after(order(page.after), page.count))
            .unwrap_or_default())
    }
    async fn event_reader(&self, starts: EventStarts) -> Result<Box<dyn EventSource>, Error> {
        let mut buses = Vec::with_capacity(starts.len());
        for queue in starts.keys() {
            let bus = self.bus(queue).ok_or_else(|| {
                Error::engine(
                    queue,
                    "the events of a Bull queue need a subscription, and Redis Cluster connections offer none here",
                )
            })?;
            // Subscribed before the client is told it is live: nothing it triggers next is lost.
            if !bus.shared.subscribed(SUBSCRIBE_WAIT).await {
                return Err(Error::engine(
                    queue,
                    format!(
                        "could not subscribe to the Bull queue's event channels within {}s",
                        SUBSCRIBE_WAIT.as_secs()
                    ),
                ));
            }
            buses.push(bus);
        }
        Ok(Box::new(BullEventSource::new(buses, &starts)))
    }
}

/// Reads several Bull queues' rings from per-queue cursors.
pub(super) struct BullEventSource {
    /// Queue → its bus, a receiver of its push counter, and the last id returned.
    queues: Vec<(Arc<Bus>, watch::Receiver<u64>, String)>,
    start: BTreeMap<String, String>,
}

impl BullEventSource {
    /// A reader of `buses` after their cursors in `starts` (the newest event where a queue
    /// has none).
    pub(super) fn new(buses: Vec<Arc<Bus>>, starts: &EventStarts) -> Self {
        let queues: Vec<_> = buses
            .into_iter()
            .map(|bus| {
                let rx = bus.shared.pushed.subscribe();
                let cursor = starts
                    .get(&bus.shared.queue)
                    .cloned()
                    .flatten()
                    .filter(|c| c != "$")
                    .unwrap_or_else(|| bus.shared.last_id());
                (bus, rx, cursor)
            })
            .collect();
        let start = queues
            .iter()
            .map(|(b, _, c)| (b.shared.queue.clone(), c.clone()))
            .collect();
        BullEventSource { queues, start }
    }

    fn drain(&mut self) -> Vec<QueueEvent> {
        let mut out = Vec::new();
        for (bus, rx, cursor) in &mut self.queues {
            // Seen before reading: a push after this is noticed by the next wait.
            rx.borrow_and_update();
            let events = bus.shared.after(order(cursor), BATCH);
            if let Some(last) = events.last() {
                *cursor = last.stream_id.clone();
            }
            out.extend(events);
        }
        out
    }
}

#[async_trait]
impl EventSource for BullEventSource {
    fn start_cursors(&self) -> BTreeMap<String, String> {
        self.start.clone()
    }

    async fn next_batch(&mut self, block: Duration) -> Result<Vec<QueueEvent>, Error> {
        let out = self.drain();
        if !out.is_empty() || self.queues.is_empty() {
            if self.queues.is_empty() {
                tokio::time::sleep(block).await;
            }
            return Ok(out);
        }
        let changed = futures::future::select_all(
            self.queues
                .iter_mut()
                .map(|(_, rx, _)| Box::pin(rx.changed())),
        );
        // A closed sender means the bus is gone (the store is closing): nothing more comes.
        let _ = tokio::time::timeout(block, changed).await;
        Ok(self.drain())
    }
}
