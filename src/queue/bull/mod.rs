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
//! Design: the layout is chosen per queue (`[queues.NAME] layout = "bull"`), so the Redis
//! store's routing (`redis/layouts.rs`) keeps this layout beside the BullMQ one over the same
//! Redis connection (handed over as a [`link::Link`]) and picks by queue name; no queue is ever
//! read in both layouts. This store plays the per-queue roles only (produce, consume, inspect,
//! browse, admin, events); what is not about a layout (cancels, claims, discovery) is the
//! Redis store's.

mod admin;
mod bus;
mod consumer;
mod context;
mod delay;
mod events;
mod finish;
mod info;
mod inspect;
pub(crate) mod link;
mod mismatch;
mod opts;
mod producer;
mod reader;
mod repeat;
mod scripts;
mod workers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub(crate) use mismatch::mismatch_message;

use redis::{Pipeline, Script, ScriptInvocation};

use self::link::{Link, Shared};
use crate::queue::error::Error;
use crate::queue::script_keys;

/// The Bull 3/4 store over a Redis store's connection. Cheap to clone.
#[derive(Clone)]
pub struct BullStore {
    /// The Redis it shares with the BullMQ layout, given by `redis/` ([`link`]).
    link: Arc<dyn Link>,
    /// This process's lock token and event suffix (Bull gives each queue object a uuid).
    token: String,
    /// Queue → its event subscription and ring ([`bus`]), kept while the store lives.
    buses: Arc<Mutex<HashMap<String, Arc<bus::Bus>>>>,
}

impl BullStore {
    /// The Bull store over `link`'s connection.
    pub(crate) fn new(link: Arc<dyn Link>) -> BullStore {
        let token = format!("cronq-{:016x}", rand::random::<u64>());
        BullStore {
            link,
            token,
            buses: Arc::default(),
        }
    }

    fn keys(&self, queue: &str) -> Keys {
        Keys {
            base: format!("{}:{queue}:", self.link.prefix()),
        }
    }

    fn conn(&self) -> Shared {
        self.link.shared()
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

    /// Runs one of our scripts, prepared by [`Keys::script`].
    async fn run<T: redis::FromRedisValue>(
        &self,
        queue: &str,
        inv: &ScriptInvocation<'_>,
    ) -> Result<T, Error> {
        script_keys::invoke(inv, &mut self.conn(), queue).await
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
    /// `script` with these keys (suffixes, a job id for its hash) as its KEYS, in the order of
    /// the script's header.
    pub(crate) fn script<'a>(&self, script: &'a Script, suffixes: &[&str]) -> ScriptInvocation<'a> {
        script_keys::invocation(script, &self.base, suffixes)
    }
    /// `command key` added to `pipe` for each of these keys.
    pub(crate) fn each<'p>(
        &self,
        pipe: &'p mut Pipeline,
        command: &str,
        suffixes: &[&str],
    ) -> &'p mut Pipeline {
        script_keys::each(pipe, command, &self.base, suffixes)
    }
}
