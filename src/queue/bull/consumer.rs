//! Consuming a Bull 3/4 queue: the Bull side of the shared fetch loop
//! (`queue/fetch_loop.rs`: slots, job tasks, pauses, `close`), a delay timer that moves due
//! delayed jobs to `wait` ([`super::delay`]), and the shared stalled check; each job's lock is
//! renewed while the processor runs, then its [`Outcome`] applied.
//!
//! Noticing work without polling: when nothing is ready the loop blocks on `wait` itself (a
//! `BLMOVE` of the list onto itself, see [`Waiter`]), so an idle Bull queue sends Redis one
//! blocking command per `BLOCK_MAX` and nothing else but the stalled check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::context::Loop;
use super::finish::{finish, BullJob};
use super::opts::{self, RunOpts};
use super::{scripts, BullStore};
use crate::queue::consumer::{
    now_ms, parse_data, ActiveJob, Attempts, Consumer, ConsumerOptions, LoopBeat, Processor,
};
use crate::queue::contract::Consume;
use crate::queue::error::Error;
use crate::queue::fetch_loop::{self, Batch, Fetcher, Pauses};
use crate::queue::job::Outcome;

const IDLE_MIN: Duration = Duration::from_millis(20);
const IDLE_MAX: Duration = Duration::from_millis(200);
/// The longest blocking wait for work (shorter with a short `lock_duration`).
const BLOCK_MAX: Duration = Duration::from_secs(15);

#[async_trait]
impl Consume for BullStore {
    /// Starts consuming a Bull queue.
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        let concurrency = opts.concurrency;
        let ctx = Arc::new(Loop {
            store: self.clone(),
            queue: queue.to_string(),
            keys: self.keys(queue),
            opts,
        });
        let fetcher = Arc::new(BullFetcher {
            ctx: ctx.clone(),
            waiter: tokio::sync::Mutex::new(Waiter::default()),
            started: AtomicBool::new(false),
        });
        let handle = fetch_loop::start(fetcher, queue, concurrency, processor);
        // Its own task: the fetch loop waits for a free slot, and the check must go on while
        // every slot runs a long job. Ends with the loop's stop token (cancelled by `close`).
        tokio::spawn(stalled_loop(ctx.clone(), handle.stop()));
        // Moves due delayed jobs to `wait`, woken by Bull's `delayed` announcements. Ends with
        // the loop's stop token too.
        tokio::spawn(super::delay::delay_loop(ctx, handle.stop()));
        Ok(handle.into_consumer(queue))
    }
}

/// The Bull layout's side of the shared fetch loop: take.lua claims one job per turn, the
/// blocking [`Waiter`] waits for `wait` to hold an id, extend.lua keeps the lock.
struct BullFetcher {
    ctx: Arc<Loop>,
    /// Locked only by the fetch loop (one caller: never contended).
    waiter: tokio::sync::Mutex<Waiter>,
    /// Whether the first turn made the blocking connection.
    started: AtomicBool,
}

/// A job take.lua gave this worker.
struct Taken {
    id: String,
    hash: HashMap<String, String>,
    run_opts: RunOpts,
    made: u32,
}

#[async_trait]
impl Fetcher for BullFetcher {
    type Job = Taken;

    // After a wake that found nothing to take (another worker was quicker, or the queue is
    // paused with ids left in `wait`), pause before blocking again so such states never spin.
    const PAUSES: Pauses = Pauses::new(IDLE_MIN, IDLE_MAX).pausing_when_empty();
    const LEFT_RUNNING: &'static str = "their locks expire and the stalled check puts them back";

    async fn housekeep(&self) {
        // At start, so that a queue busy from its first moment is listed by `getWorkers()`.
        if !self.started.swap(true, Ordering::Relaxed) {
            self.waiter.lock().await.connect(&self.ctx).await;
        }
    }

    async fn claim(&self, _n: usize) -> Result<Batch<Taken>, Error> {
        let jobs = take(&self.ctx).await?.into_iter().collect();
        Ok(Batch {
            jobs,
            look_again: None,
        })
    }

    async fn idle(&self) {
        self.waiter.lock().await.wait(&self.ctx).await
    }

    async fn begin(&self, job: &Taken) -> ActiveJob {
        let ctx = &self.ctx;
        // As Bull's worker: the next iteration of a repeatable job is added when one is taken.
        super::repeat::schedule_next(ctx, &job.id, &job.hash).await;
        let data = match job.hash.get("data") {
            Some(text) => parse_data(text),
            None => Ok(serde_json::Value::Object(Default::default())),
        };
        let attempts = Attempts {
            made: job.made,
            max: job.run_opts.attempts,
            // When it could first run: Bull's `timestamp` (added) plus its `delay`.
            ready_ms: ["timestamp", "delay"]
                .iter()
                .filter_map(|f| job.hash.get(*f).and_then(|v| v.parse::<i64>().ok()))
                .sum(),
        };
        let log = Box::new(BullJob {
            store: ctx.store.clone(),
            keys: ctx.keys.clone(),
            id: job.id.clone(),
        });
        // Bull's default job name.
        let name = job.hash.get("name").map_or("__default__", String::as_str);
        let opts = job
            .hash
            .get("opts")
            .map(|raw| crate::queue::job_opts::decode(raw))
            .unwrap_or_default();
        ActiveJob::new(&ctx.queue, &job.id, name, data, opts, attempts, log)
    }

    async fn hold(&self, job: &Taken) {
        renew_lock(&self.ctx, &job.id).await
    }

    async fn finish(&self, job: Taken, outcome: Outcome, _beat: &LoopBeat) {
        let ctx = &self.ctx;
        let stack: Vec<String> = job
            .hash
            .get("stacktrace")
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        if let Err(e) = finish(ctx, &job.id, outcome, job.made, &job.run_opts, stack).await {
            tracing::error!(queue = %ctx.queue, job_id = %job.id, error = %e,
                "writing the job's outcome failed; the stalled check will put it back");
        }
    }
}

/// Blocks until `wait` holds an id, without taking it: `BLMOVE wait wait RIGHT RIGHT` moves
/// the last id onto itself, so the list is unchanged (priority order kept) and a cancelled
/// wait changes nothing in Redis. Bull's producers push to `wait` (and `resume` renames
/// `paused` to it), so every way a job becomes ready ends the block; due delayed jobs are
/// moved there by the delay timer ([`super::delay`]).
#[derive(Default)]
struct Waiter {
    /// A connection of its own: the block holds it. `None` until made, or after it failed.
    conn: Option<redis::aio::MultiplexedConnection>,
    /// Redis before 6.2 has no `BLMOVE`: the loop polls (its idle pause) instead.
    polling: bool,
}

impl Waiter {
    /// Makes the blocking connection if there is none, named as a Bull worker's is. Called at
    /// start too, so that a queue busy from its first moment is listed by `getWorkers()`.
    async fn connect(&mut self, ctx: &Loop) {
        if self.conn.is_some() || self.polling {
            return;
        }
        match ctx.store.link.dedicated().await {
            Ok(mut c) => {
                super::workers::name_as_worker(&mut c, ctx.store.link.prefix(), &ctx.queue).await;
                self.conn = Some(c);
            }
            // Redis Cluster (or a refused connection): look again after the idle pause, as
            // the loop did before it had a blocking wait.
            Err(e) => {
                tracing::debug!(queue = %ctx.queue, error = %e, "no blocking connection for the Bull queue; polling")
            }
        }
    }

    async fn wait(&mut self, ctx: &Loop) {
        if self.polling {
            return;
        }
        self.connect(ctx).await;
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        // Short enough that the loop turns well within the stuck-queue check (`lock_duration`).
        let block = (ctx.opts.lock_duration / 2).clamp(Duration::from_secs(1), BLOCK_MAX);
        let wait = ctx.keys.key("wait");
        let r: redis::RedisResult<Option<String>> = redis::cmd("BLMOVE")
            .arg(&wait)
            .arg(&wait)
            .arg("RIGHT")
            .arg("RIGHT")
            .arg(block.as_secs_f64())
            .query_async(conn)
            .await;
        match r {
            Ok(_) => {}
            Err(e)
                if e.to_string()
                    .to_ascii_lowercase()
                    .contains("unknown command") =>
            {
                tracing::warn!(queue = %ctx.queue,
                    "this Redis has no BLMOVE (added in Redis 6.2): the Bull queue polls for jobs every 200 ms instead; upgrade Redis to stop the polling");
                self.polling = true;
                self.conn = None;
            }
            Err(e) => {
                tracing::debug!(queue = %ctx.queue, error = %e, "the blocking wait failed; reconnecting");
                self.conn = None;
            }
        }
    }
}

/// Runs the shared stalled check every `stalled_interval` (the first at once, as Bull does).
async fn stalled_loop(ctx: Arc<Loop>, stop: CancellationToken) {
    loop {
        check_stalled(&ctx).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(ctx.opts.stalled_interval) => {}
        }
    }
}

async fn check_stalled(ctx: &Loop) {
    let k = &ctx.keys;
    let r: Result<(Vec<String>, Vec<String>), _> = scripts::STALLED
        .key(k.key("stalled"))
        .key(k.key("wait"))
        .key(k.key("active"))
        .key(k.key("failed"))
        .key(k.key("stalled-check"))
        .key(k.key("meta-paused"))
        .key(k.key("paused"))
        .arg(ctx.opts.max_stalled_count)
        .arg(k.base())
        .arg(now_ms())
        .arg(ctx.opts.stalled_interval.as_millis() as u64)
        .arg(&ctx.store.token)
        .invoke_async(&mut ctx.store.conn())
        .await;
    match r {
        Ok((failed, requeued)) => {
            for id in requeued {
                tracing::warn!(queue = %ctx.queue, job_id = %id, "stalled job (lock expired) moved back to wait");
            }
            for id in failed {
                tracing::warn!(queue = %ctx.queue, job_id = %id, "job stalled more than max_stalled_count times; failed");
            }
        }
        Err(e) => tracing::warn!(queue = %ctx.queue, error = %e, "stalled check failed"),
    }
}

/// take.lua's reply: id, job hash, ids failed for want of a hash, duplicate copies dropped.
type Fetched = (String, HashMap<String, String>, Vec<String>, Vec<String>);

async fn take(ctx: &Loop) -> Result<Option<Taken>, Error> {
    let k = &ctx.keys;
    let (id, hash, failed, duplicates): Fetched = scripts::TAKE
        .key(k.key("wait"))
        .key(k.key("active"))
        .key(k.key("priority"))
        .key(format!("{}@{}", k.key("active"), ctx.store.token))
        .key(k.key("meta-paused"))
        .key(k.key("failed"))
        .arg(k.base())
        .arg(&ctx.store.token)
        .arg(ctx.opts.lock_duration.as_millis() as u64)
        .arg(now_ms())
        .invoke_async(&mut ctx.store.conn())
        .await
        .map_err(|e| Error::engine(&ctx.queue, e))?;
    for gone in failed {
        tracing::warn!(queue = %ctx.queue, job_id = %crate::telemetry::escape_control(&gone),
            "an id in wait had no job hash; failed it (see its failedReason) instead of running nothing");
    }
    for twin in duplicates {
        tracing::warn!(queue = %ctx.queue, job_id = %crate::telemetry::escape_control(&twin),
            "the job's id was in wait more than once and the job is already running (its lock is held); \
             this copy is dropped, not run");
    }
    if id.is_empty() {
        return Ok(None);
    }
    let run_opts = opts::parse(hash.get("opts").map(String::as_str));
    let made: u32 = hash
        .get("attemptsMade")
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    Ok(Some(Taken {
        id,
        hash,
        run_opts,
        made,
    }))
}

/// Renews the job's lock every half `lock_duration`; loops until dropped (the shared loop
/// drops it when the processor returns, before the outcome is written).
async fn renew_lock(ctx: &Loop, id: &str) {
    let every = ctx.opts.lock_duration / 2;
    loop {
        tokio::time::sleep(every).await;
        let r: Result<i64, _> = scripts::EXTEND
            .key(format!("{}:lock", ctx.keys.key(id)))
            .key(ctx.keys.key("stalled"))
            .arg(&ctx.store.token)
            .arg(ctx.opts.lock_duration.as_millis() as u64)
            .arg(id)
            .invoke_async(&mut ctx.store.conn())
            .await;
        match r {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(queue = %ctx.queue, job_id = %id, "job lock lost (expired or taken over)");
            }
            Err(e) => {
                tracing::warn!(queue = %ctx.queue, job_id = %id, error = %e, "renewing the job lock failed")
            }
        }
    }
}
