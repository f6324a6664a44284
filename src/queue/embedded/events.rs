//! The `events` table (BullMQ's `events` stream): every transition appends a row whose
//! autoincrement id is the resume cursor, and [`EmbeddedEventReader`] polls it per queue.
//! In-process commits wake a waiting reader at once; other processes' (a CLI `enqueue`)
//! through the store's file watch (see `wake`), which notifies the same `committed`, or, when
//! inotify is unavailable, at the next poll. (Unlike the fetch loop's claim, this read takes no write lock, so a commit whose
//! last frame was noticed before it became visible is read at the end of the wait, `block`,
//! at the latest.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::info::three;
use super::{EmbeddedStore, Fault, Inner};
use crate::queue::contract::Events;
use crate::queue::events::{CatchUp, EventSource, EventStarts};
use crate::queue::{error::Error, events::QueueEvent};
use async_trait::async_trait;

/// Longest pause between two looks at the table while waiting for events, without a file watch.
const POLL: Duration = Duration::from_millis(100);

/// Events kept per queue (BullMQ trims its stream to about 10,000 too).
pub(super) const KEEP_PER_QUEUE: i64 = 10_000;

/// Rows read per batch.
const BATCH: i64 = 200;

/// Appends one event of `queue`.
pub(super) fn emit(
    conn: &Connection,
    queue: &str,
    event: &str,
    fields: &[(&str, &str)],
    now: i64,
) -> rusqlite::Result<()> {
    let fields: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    conn.prepare_cached("INSERT INTO events (queue, event, fields, at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(rusqlite::params![
            queue,
            event,
            serde_json::Value::Object(fields).to_string(),
            now
        ])?;
    Ok(())
}

/// Drops all but the newest [`KEEP_PER_QUEUE`] events of `queue`.
pub(super) fn trim(conn: &Connection, queue: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM events WHERE queue = ?1 AND id <=
            (SELECT id FROM events WHERE queue = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(rusqlite::params![queue, KEEP_PER_QUEUE])?;
    Ok(())
}

/// Reads the embedded event table of several queues, resuming from per-queue cursors.
pub struct EmbeddedEventReader {
    inner: Arc<Inner>,
    /// Queue → last event id read.
    cursors: BTreeMap<String, i64>,
    start: BTreeMap<String, String>,
    /// Whether other processes' writes are watched (else: poll every [`POLL`]).
    watched: bool,
}

/// A cursor is an event id; a Redis-style `ms-seq` id keeps its first part.
fn parse_cursor(text: &str) -> i64 {
    text.split('-')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

impl EmbeddedEventReader {
    async fn read_once(&self) -> Result<Vec<QueueEvent>, Error> {
        read_after(&self.inner, self.cursors.clone(), BATCH).await
    }
}

/// Up to `count` events per queue after each queue's cursor, in id order.
async fn read_after(
    inner: &Inner,
    cursors: BTreeMap<String, i64>,
    count: i64,
) -> Result<Vec<QueueEvent>, Error> {
    inner
        .readers
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, event, fields FROM events WHERE queue = ?1 AND id > ?2
                     ORDER BY id LIMIT ?3",
            )?;
            let mut out = Vec::new();
            for (queue, after) in &cursors {
                let rows = stmt.query_map(rusqlite::params![queue, after, count], three)?;
                for row in rows {
                    let (id, event, fields): (i64, String, String) = row?;
                    out.push(QueueEvent {
                        queue: queue.clone(),
                        stream_id: id.to_string(),
                        event,
                        fields: serde_json::from_str(&fields).unwrap_or_default(),
                    });
                }
            }
            out.sort_by_key(|e| e.stream_id.parse::<i64>().unwrap_or(0));
            Ok::<_, Fault>(out)
        })
        .await
        .map_err(|e| e.into_error("events"))
}

#[async_trait]
impl Events for EmbeddedStore {
    /// A reader of the queues of `starts`, each after its cursor (a queue without one starts
    /// with new events only, pinned to the current last id so every cursor handed out is
    /// concrete).
    async fn event_reader(&self, starts: EventStarts) -> Result<Box<dyn EventSource>, Error> {
        let cursors = self
            .read("events", move |c| {
                let mut out = BTreeMap::new();
                for (q, start) in starts {
                    let at = match start {
                        Some(text) => parse_cursor(&text),
                        None => c
                            .prepare_cached(
                                "SELECT COALESCE(MAX(id), 0) FROM events WHERE queue = ?1",
                            )?
                            .query_row([&q], |r| r.get(0))?,
                    };
                    out.insert(q, at);
                }
                Ok(out)
            })
            .await?;
        Ok(Box::new(EmbeddedEventReader {
            inner: self.inner.clone(),
            start: cursors
                .iter()
                .map(|(q, c)| (q.clone(), c.to_string()))
                .collect(),
            cursors,
            watched: self.watch_file(),
        }))
    }

    /// Up to `page.count` events of `queue` after event id `page.after`, without waiting: the
    /// catch-up read of a resuming SSE client.
    async fn events_after(&self, queue: &str, page: CatchUp<'_>) -> Result<Vec<QueueEvent>, Error> {
        let cursors = BTreeMap::from([(queue.to_string(), parse_cursor(page.after))]);
        read_after(&self.inner, cursors, page.count as i64).await
    }
}

#[async_trait]
impl EventSource for EmbeddedEventReader {
    /// Queue → the event id reading started after (before any batch was read).
    fn start_cursors(&self) -> BTreeMap<String, String> {
        self.start.clone()
    }

    /// Waits up to `block` for events; returns those that arrived (possibly none).
    async fn next_batch(&mut self, block: Duration) -> Result<Vec<QueueEvent>, Error> {
        let deadline = tokio::time::Instant::now() + block;
        if self.cursors.is_empty() {
            tokio::time::sleep(block).await;
            return Ok(Vec::new());
        }
        loop {
            let committed = self.inner.committed.clone();
            let woken = committed.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let batch = self.read_once().await?;
            if !batch.is_empty() {
                for ev in &batch {
                    self.cursors
                        .insert(ev.queue.clone(), ev.stream_id.parse().unwrap_or(0));
                }
                return Ok(batch);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let pause = match self.watched {
                true => deadline - now,
                false => POLL.min(deadline - now),
            };
            tokio::select! {
                _ = &mut woken => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
