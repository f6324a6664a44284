//! The Bull 3/4 store: queues that `bull` / `@nestjs/bull` producers and workers use, in Bull's
//! own Redis layout, through our own Lua scripts (one per transition, in `lua/`).
//!
//! Bull's layout, as cronq uses it (learned from Bull 4's source; `B = "<prefix>:<queue>:"`):
//! - `B+wait` and `B+paused` LISTs of ready ids, popped from the right; pausing renames `wait`
//!   to `paused` and sets `B+meta-paused`. `B+priority` ZSET (score = priority) mirrors the
//!   ready jobs that have one; they sit in the list at their priority's place.
//! - `B+active` LIST; a running job's lock is `B+<id>:lock` holding the worker's token.
//! - `B+delayed` ZSET, score = due ms · 4096 + a 12-bit counter.
//! - `B+completed` / `B+failed` ZSETs scored by `finishedOn`.
//! - `B+stalled` SET and `B+stalled-check` key for the shared stalled check.
//! - the job HASH `B+<id>` (`name`, `data`, `opts` JSON, `timestamp`, `delay`, `priority`,
//!   `processedOn`, `finishedOn`, `attemptsMade`, `returnvalue`, `failedReason`, `stacktrace`,
//!   `progress`) and `B+<id>:logs` LIST.
//! - events are pub/sub: `B+completed`/`B+failed` carry `{"jobId","val"}`, `B+progress`
//!   `{"jobId","progress"}`, `B+active@<token>` / `B+waiting@<token>` / `B+stalled@<token>`
//!   the id, `B+delayed` the next due ms, `B+paused`/`B+resumed` the word.
//! - per-minute metrics `B+metrics:completed|failed` and `:data`, the same series as BullMQ's.
//!
//! Events: one pub/sub subscription per queue ([`bus`]) feeds cronq's SSE stream (mapped to
//! BullMQ's event shapes in [`events`], with in-process ids and a bounded ring for resume;
//! nothing published before it subscribed or while it was disconnected can be replayed) and
//! the consumer's delay timer ([`delay`]), so an idle queue is not polled.
//!
//! Design: the layout is chosen per queue (`[queues.NAME] layout = "bull"`), so
//! [`crate::queue::Store`] keeps this store beside the BullMQ one over the same Redis
//! connection and picks by queue name; no queue is ever read in both layouts.

mod admin;
mod backend;
mod bus;
mod consumer;
mod delay;
mod events;
mod finish;
mod info;
mod metrics;
mod mismatch;
mod opts;
mod repeat;
mod scripts;
mod workers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) use mismatch::mismatch_message;

use crate::queue::redis::RedisStore;
use crate::queue::Error;

/// How a queue's keys are laid out in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// BullMQ (the default): the engine's layout.
    #[default]
    BullMq,
    /// Bull 3/4 (`bull`, `@nestjs/bull`).
    Bull,
}

impl Layout {
    /// Parses the `layout` setting.
    pub fn parse(text: &str) -> Result<Layout, String> {
        match text {
            "bullmq" => Ok(Layout::BullMq),
            "bull" => Ok(Layout::Bull),
            other => Err(format!(
                "layout {other:?} is unknown: use \"bullmq\" (BullMQ producers, the default) or \"bull\" (Bull 3/4 and @nestjs/bull producers)"
            )),
        }
    }
}

/// The Bull 3/4 store over a Redis store's connection. Cheap to clone.
#[derive(Clone)]
pub struct BullStore {
    redis: RedisStore,
    /// This process's lock token and event suffix (Bull gives each queue object a uuid).
    token: String,
    /// Queue → its event subscription and ring ([`bus`]), kept while the store lives.
    buses: Arc<Mutex<HashMap<String, Arc<bus::Bus>>>>,
}

impl BullStore {
    /// The Bull store over `redis`'s connection.
    pub fn new(redis: RedisStore) -> BullStore {
        let token = format!("cronq-{:016x}", rand::random::<u64>());
        BullStore {
            redis,
            token,
            buses: Arc::default(),
        }
    }

    fn keys(&self, queue: &str) -> Keys {
        Keys {
            base: format!("{}:{queue}:", self.redis.prefix()),
        }
    }

    fn conn(&self) -> bullmq::redis_connection::AnyConnection {
        self.redis.inner.conn.connection()
    }

    /// Runs one command.
    async fn cmd<T: redis::FromRedisValue>(
        &self,
        queue: &str,
        cmd: &mut redis::Cmd,
    ) -> Result<T, Error> {
        cmd.query_async(&mut self.conn())
            .await
            .map_err(|e| Error::engine(queue, e))
    }
}

/// Key names of one Bull queue.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    base: String,
}

impl Keys {
    pub(crate) fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.base)
    }
    pub(crate) fn base(&self) -> &str {
        &self.base
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::Layout;

    #[test]
    fn layout_names_parse_and_unknown_ones_say_the_choices() {
        assert_eq!(Layout::parse("bull"), Ok(Layout::Bull));
        assert_eq!(Layout::parse("bullmq"), Ok(Layout::BullMq));
        assert!(Layout::parse("bull3").unwrap_err().contains("\"bull\""));
    }
}
