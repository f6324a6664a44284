//! Reading the queues' event streams (`B+"events"`, BullMQ's `XADD` log: `added`, `active`,
//! `progress`, `completed`, `failed`, `delayed`, …) for Server-Sent Events, on a dedicated
//! connection because `XREAD BLOCK` holds it.
//!
//! On a Cluster the dedicated connection is a cluster connection: `XREAD` goes to the primary
//! that owns its keys. One `XREAD` can name several queues' streams because a Cluster prefix must
//! carry a hash tag (config refuses one without), so every queue's keys share one slot.

use std::collections::BTreeMap;
use std::time::Duration;

use bullmq::redis_connection::AnyConnection;

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::contract::Events;
use crate::queue::events::{CatchUp, EventSource, EventStarts};
use crate::queue::{error::Error, events::QueueEvent};
use async_trait::async_trait;

/// A reader of several queues' streams, resuming from per-queue cursors.
pub(crate) struct RedisEventReader {
    /// Dedicated (its response timeout off for `BLOCK`); a cluster connection on a Cluster.
    conn: AnyConnection,
    keys: Vec<(String, String)>,
    /// Queue → last stream id read.
    cursors: BTreeMap<String, String>,
}

impl RedisEventReader {}

/// One stream entry as an event of `queue`.
fn to_event(queue: &str, entry: redis::streams::StreamId) -> QueueEvent {
    let mut fields: BTreeMap<String, String> = entry
        .map
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                redis::from_redis_value::<String>(v.clone()).unwrap_or_default(),
            )
        })
        .collect();
    let event = fields.remove("event").unwrap_or_default();
    QueueEvent {
        queue: queue.to_string(),
        stream_id: entry.id,
        event,
        fields,
    }
}

#[async_trait]
impl Events for RedisStore {
    /// A reader of the queues of `starts`, each after its cursor (a queue without one starts
    /// with new events only).
    async fn event_reader(&self, starts: EventStarts) -> Result<Box<dyn EventSource>, Error> {
        let conn = self
            .inner
            .conn
            .dedicated_any_connection()
            .await
            .map_err(|e| Error::engine("events", e))?;
        let keys = starts
            .keys()
            .map(|q| (q.clone(), QueueKeys::new(self.prefix(), q).events()))
            .collect();
        let mut reader = RedisEventReader {
            conn,
            keys,
            cursors: BTreeMap::new(),
        };
        // "Only new events" is pinned to the current last id, so that every cursor handed to a
        // client is concrete and resuming from it loses nothing.
        for (queue, key) in reader.keys.clone() {
            let start = match starts.get(&queue).cloned().flatten() {
                Some(c) => c,
                None => {
                    let last: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
                        .arg(&key)
                        .arg("+")
                        .arg("-")
                        .arg("COUNT")
                        .arg(1)
                        .query_async(&mut reader.conn)
                        .await
                        .map_err(|e| Error::engine(&queue, e))?;
                    last.ids
                        .first()
                        .map(|e| e.id.clone())
                        .unwrap_or_else(|| "0-0".into())
                }
            };
            reader.cursors.insert(queue, start);
        }
        Ok(Box::new(reader))
    }

    /// Up to `page.count` events of `queue` after stream id `page.after`, without blocking and
    /// on the shared connection (no dedicated one): the catch-up read of a resuming SSE client.
    async fn events_after(&self, queue: &str, page: CatchUp<'_>) -> Result<Vec<QueueEvent>, Error> {
        let key = QueueKeys::new(self.prefix(), queue).events();
        let reply: Option<redis::streams::StreamReadReply> = self
            .inner
            .conn
            .cmd(
                redis::cmd("XREAD")
                    .arg("COUNT")
                    .arg(page.count)
                    .arg("STREAMS")
                    .arg(&key)
                    .arg(page.after),
            )
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(reply
            .map(|r| r.keys)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|s| s.ids)
            .map(|entry| to_event(queue, entry))
            .collect())
    }
}

#[async_trait]
impl EventSource for RedisEventReader {
    /// Queue → the stream id reading started after (before any batch was read).
    fn start_cursors(&self) -> BTreeMap<String, String> {
        self.cursors.clone()
    }

    /// Waits up to `block` for events; returns those that arrived (possibly none).
    async fn next_batch(&mut self, block: Duration) -> Result<Vec<QueueEvent>, Error> {
        if self.keys.is_empty() {
            tokio::time::sleep(block).await;
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(200)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS");
        for (_, key) in &self.keys {
            cmd.arg(key);
        }
        for (queue, _) in &self.keys {
            cmd.arg(self.cursors.get(queue).map(String::as_str).unwrap_or("$"));
        }
        let reply: Option<redis::streams::StreamReadReply> = cmd
            .query_async(&mut self.conn)
            .await
            .map_err(|e| Error::engine("events", e))?;
        let mut out = Vec::new();
        for stream in reply.map(|r| r.keys).unwrap_or_default() {
            let Some((queue, _)) = self.keys.iter().find(|(_, k)| *k == stream.key) else {
                continue;
            };
            let queue = queue.clone();
            for entry in stream.ids {
                let ev = to_event(&queue, entry);
                self.cursors.insert(queue.clone(), ev.stream_id.clone());
                out.push(ev);
            }
        }
        Ok(out)
    }
}
