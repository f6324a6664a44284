//! Consuming a Bull 3/4 queue: a fetch loop bounded by a semaphore (each job task owns a
//! permit), a delay timer that moves due delayed jobs to `wait` ([`super::delay`]), and the
//! shared stalled check; each job task renews its lock while the processor runs, then applies
//! the [`Outcome`].
//!
//! Noticing work without polling: when nothing is ready the loop blocks on `wait` itself (a
//! `BLMOVE` of the list onto itself, see [`Waiter`]), so an idle Bull queue sends Redis one
//! blocking command per `BLOCK_MAX` and nothing else but the stalled check.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::context::Loop;
use super::finish::{finish, BullJob};
use super::opts;
use super::{now_ms, scripts, BullStore};
use crate::queue::consumer::{
    ActiveJob, Consumer, ConsumerHandle, ConsumerOptions, LoopBeat, Processor,
};
use crate::queue::contract::Consume;
use crate::queue::error::Error;

const IDLE_MIN: Duration = Duration::from_millis(20);
const IDLE_MAX: Duration = Duration::from_millis(200);
/// The longest blocking wait for work (shorter with a short `lock_duration`).
const BLOCK_MAX: Duration = Duration::from_secs(15);

/// The Bull fetch loop's handle, held by [`Consumer`].
pub(super) struct BullConsumer {
    /// Cancelled by `close`: the loop stops taking jobs at once.
    stop: CancellationToken,
    fetch: JoinHandle<()>,
    /// Every job task; `close` waits on it.
    jobs: TaskTracker,
}

#[async_trait]
impl ConsumerHandle for BullConsumer {
    async fn close(self: Box<Self>, queue: &str, wait: Duration) {
        self.stop.cancel();
        let _ = self.fetch.await;
        self.jobs.close();
        if tokio::time::timeout(wait, self.jobs.wait()).await.is_err() {
            tracing::warn!(queue = %queue, running = self.jobs.len(),
                "jobs still running at close; their locks expire and the stalled check puts them back");
        }
    }
}

#[async_trait]
impl Consume for BullStore {
    /// Starts consuming a Bull queue.
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        let beat = Arc::new(LoopBeat::default());
        beat.turned();
        let stop = CancellationToken::new();
        let jobs = TaskTracker::new();
        let ctx = Arc::new(Loop {
            store: self.clone(),
            queue: queue.to_string(),
            keys: self.keys(queue),
            slots: Arc::new(Semaphore::new(opts.concurrency.max(1))),
            opts,
            processor,
            beat: beat.clone(),
            jobs: jobs.clone(),
        });
        // Its own task: the fetch loop waits for a free slot, and the check must go on while
        // every slot runs a long job. Ends with `stop` (held by the BullConsumer).
        tokio::spawn(stalled_loop(ctx.clone(), stop.clone()));
        // Moves due delayed jobs to `wait`, woken by Bull's `delayed` announcements. Ends with
        // `stop` too.
        tokio::spawn(super::delay::delay_loop(ctx.clone(), stop.clone()));
        let fetch = tokio::spawn(fetch_loop(ctx, stop.clone()));
        Ok(Consumer {
            queue: queue.to_string(),
            beat,
            inner: Box::new(BullConsumer { stop, fetch, jobs }),
        })
    }
}

async fn fetch_loop(ctx: Arc<Loop>, stop: CancellationToken) {
    // After a wake that found nothing to take (another worker was quicker, or the queue is
    // paused with ids left in `wait`), pause before blocking again so such states never spin.
    let mut idle = crate::backoff::Doubling::new(IDLE_MIN, IDLE_MAX);
    let mut waiter = Waiter::default();
    waiter.connect(&ctx).await;
    loop {
        let permit = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            p = ctx.slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        match take(&ctx).await {
            Ok(Some((id, hash))) => {
                ctx.beat.turned();
                idle.reset();
                let ctx2 = ctx.clone();
                ctx.jobs.spawn(async move {
                    run(ctx2, id, hash).await;
                    drop(permit);
                });
                continue;
            }
            Ok(None) => ctx.beat.turned(),
            Err(e) => {
                if ctx.beat.errored() {
                    tracing::error!(queue = %ctx.queue, error = %e, "taking a job failed; retrying");
                }
                drop(permit);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(idle.next_delay()) => {}
                }
                continue;
            }
        }
        drop(permit);
        let pause = idle.next_delay();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = waiter.wait(&ctx) => {}
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

type Taken = (String, HashMap<String, String>);
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
    Ok((!id.is_empty()).then_some((id, hash)))
}

/// Runs one taken job to its outcome, renewing its lock meanwhile.
async fn run(ctx: Arc<Loop>, id: String, hash: HashMap<String, String>) {
    // As Bull's worker: the next iteration of a repeatable job is added when one is taken.
    super::repeat::schedule_next(&ctx, &id, &hash).await;
    let run_opts = opts::parse(hash.get("opts").map(String::as_str));
    let made: u32 = hash
        .get("attemptsMade")
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let data = match hash.get("data") {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| format!("job data is not JSON ({e}); the producer must store JSON")),
        None => Ok(serde_json::Value::Object(Default::default())),
    };
    let job = ActiveJob {
        queue: ctx.queue.clone(),
        id: id.clone(),
        // Bull's default job name.
        name: hash
            .get("name")
            .cloned()
            .unwrap_or_else(|| "__default__".into()),
        data,
        attempt: made + 1,
        max_attempts: run_opts.attempts,
        // When it could first run: Bull's `timestamp` (added) plus its `delay`.
        ready_ms: ["timestamp", "delay"]
            .iter()
            .filter_map(|f| hash.get(*f).and_then(|v| v.parse::<i64>().ok()))
            .sum(),
        log: Box::new(BullJob {
            store: ctx.store.clone(),
            keys: ctx.keys.clone(),
            id: id.clone(),
        }),
    };
    // The renewal task: holds the lock until `done` fires after the outcome is known.
    let done = CancellationToken::new();
    let renew = tokio::spawn(renew_lock(ctx.clone(), id.clone(), done.clone()));
    let outcome = ctx.processor.process(job).await;
    done.cancel();
    let _ = renew.await;
    let stack: Vec<String> = hash
        .get("stacktrace")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    if let Err(e) = finish(&ctx, &id, outcome, made, &run_opts, stack).await {
        tracing::error!(queue = %ctx.queue, job_id = %id, error = %e,
            "writing the job's outcome failed; the stalled check will put it back");
    }
}

async fn renew_lock(ctx: Arc<Loop>, id: String, done: CancellationToken) {
    let every = ctx.opts.lock_duration / 2;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let r: Result<i64, _> = scripts::EXTEND
            .key(format!("{}:lock", ctx.keys.key(&id)))
            .key(ctx.keys.key("stalled"))
            .arg(&ctx.store.token)
            .arg(ctx.opts.lock_duration.as_millis() as u64)
            .arg(&id)
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
