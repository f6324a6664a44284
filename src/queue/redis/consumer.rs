//! Consuming a queue on Redis, and when that costs anything (issue 26). A queue with work holds
//! an engine worker (`engine.rs`: two connections, lock renewal, BullMQ's own finishing
//! scripts); a queue idle for [`ConsumerOptions::idle_release`] lets it go and waits in the
//! store's one [`IdleWaiter`] (one connection, one `BZPOPMIN` over every idle queue's marker),
//! which wakes it when a producer's marker or a delayed job's time arrives.
//!
//! Each consumer is one lifecycle task, holding either its engine worker or its place in the
//! waiter; [`RedisConsumer::close`] asks it to stop. What is unchanged by design:
//! - a queue with jobs ready at start starts its engine worker at once, as before; one with
//!   none starts idle. Either way this WORKER_ID's cut-off jobs are recovered at start, and
//!   each engine worker records its uuid (`identity.rs`), so a crash while it runs is
//!   recovered at once after the restart;
//! - stalled checks (`stalled.rs`) are registered for the consumer's whole life, idle or not:
//!   they cost one `EXISTS` for all queues and move stalled jobs back with a marker, which wakes
//!   the queue; lock renewal belongs to the engine worker, which a queue with a running job has;
//! - drain at SIGTERM closes the engine worker exactly as before; an idle queue has nothing to
//!   drain;
//! - `/health` and `worker status` read the same [`LoopBeat`]: the waiter turns it at each block.
//!
//! On a Redis Cluster the markers of many queues live in different slots, so one `BZPOPMIN`
//! cannot cover them: there every queue keeps its engine worker, as before.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use tokio_util::sync::CancellationToken;

use super::engine::{recover, EngineWorker, Start};
use super::groups::GroupRun;
use super::idle_waiter::{IdleWaiter, Watch};
use super::keys::QueueKeys;
use super::RedisStore;
use crate::backoff::Doubling;
use crate::queue::consumer::{Consumer, ConsumerHandle, ConsumerOptions, LoopBeat, Processor};
use crate::queue::contract::Consume;
use crate::queue::error::Error;

/// The Redis side of a [`Consumer`].
pub(crate) struct RedisConsumer {
    /// Tells the lifecycle task to stop, with the drain wait; the task holds the receiver.
    stop: oneshot::Sender<Duration>,
    /// The lifecycle task; ends after closing the engine worker or leaving the waiter.
    task: JoinHandle<()>,
    /// This queue's place in the store's stalled checks and quarantine sweeps (`stalled.rs`);
    /// dropped first thing in `close` (each check is one atomic script on the server).
    stalled: super::stalled::Registration,
    /// Ends the group sweep task (`groups.rs`) of a grouped queue when the consumer goes.
    _sweep: Option<tokio_util::sync::DropGuard>,
}

#[async_trait]
impl ConsumerHandle for RedisConsumer {
    /// Stops fetching, waits up to `wait` for running jobs, then stops the loop (see
    /// [`EngineWorker::close`]); an idle queue only leaves the waiter.
    async fn close(self: Box<Self>, queue: &str, wait: Duration) {
        drop(self.stalled);
        if self.stop.send(wait).is_err() {
            return;
        }
        // The engine's close is bounded by `wait` plus well under a second.
        let bound = wait + Duration::from_secs(2);
        if tokio::time::timeout(bound, self.task).await.is_err() {
            tracing::warn!(queue = %queue, "closing the consumer timed out");
        }
    }
}

#[async_trait]
impl Consume for RedisStore {
    /// Starts consuming `queue` with `processor`.
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        let beat = Arc::new(LoopBeat::default());
        beat.turned();
        let groups = opts.groups.clone();
        let life = Life {
            store: self.clone(),
            queue: queue.to_string(),
            opts,
            processor,
            beat: beat.clone(),
            groups: groups.map(GroupRun::new),
        };
        // A queue with nothing ready starts idle: 50 configured queues never allocate 50
        // engine workers (their heap stays with the allocator after they go). A look that
        // fails (Redis away, a queue key of the wrong type) starts the engine worker as before:
        // its start fails and the pool retries, or its fetch names the broken key.
        let idle = match self.idle_waiter() {
            Some(_) => matches!(life.look().await, Ok(Look::Empty { .. })),
            None => false,
        };
        let engine = if idle {
            recover(self, queue, None, life.opts.max_stalled_count).await;
            None
        } else {
            Some(life.engine(Start::First).await?)
        };
        let opts = &life.opts;
        let stalled = self.watch_stalled(
            queue,
            super::stalled::CheckOpts {
                interval: opts.stalled_interval,
                max_stalled: opts.max_stalled_count,
            },
        );
        // Parked jobs of groups with room go back at start, then periodically (groups.rs).
        let sweep = life.groups.clone().map(|run| {
            let stop = CancellationToken::new();
            self.sweep_groups(queue, run, life.opts.stalled_interval, stop.clone());
            stop.drop_guard()
        });
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(life.run(engine, stop_rx));
        Ok(Consumer {
            queue: queue.to_string(),
            beat,
            inner: Box::new(RedisConsumer {
                stop,
                task,
                stalled,
                _sweep: sweep,
            }),
        })
    }
}

impl RedisStore {
    /// The store's idle waiter, started at the first idle queue; `None` on a Cluster.
    fn idle_waiter(&self) -> Option<&IdleWaiter> {
        if self.inner.conn.is_cluster() {
            return None;
        }
        Some(
            self.inner
                .idle
                .get_or_init(|| IdleWaiter::start(self.inner.conn.clone(), self.prefix())),
        )
    }
}

/// What a queue's lifecycle task needs.
struct Life {
    store: RedisStore,
    queue: String,
    opts: ConsumerOptions,
    processor: Arc<dyn Processor>,
    beat: Arc<LoopBeat>,
    /// The queue's fair groups, shared with each engine worker's runs and the sweep task.
    groups: Option<Arc<GroupRun>>,
}

/// What the queue holds between jobs.
enum Holding {
    Engine(EngineWorker),
    Idle,
}

impl Life {
    /// Engine worker while there is work, the waiter while there is none, until `stop`.
    async fn run(self, engine: Option<EngineWorker>, mut stop: oneshot::Receiver<Duration>) {
        let queue = self.queue.as_str();
        let mut holding = engine.map_or(Holding::Idle, Holding::Engine);
        loop {
            holding = match holding {
                Holding::Engine(engine) => {
                    // Only a non-cluster store can let go: the waiter needs one `BZPOPMIN`.
                    let can_idle = self.store.idle_waiter().is_some();
                    // `None`: idle long enough; `Some(wait)`: close (a dropped consumer: at once).
                    let closing = tokio::select! {
                        wait = &mut stop => Some(wait.unwrap_or_default()),
                        _ = engine.idle_for(self.opts.idle_release), if can_idle => None,
                    };
                    if let Some(wait) = closing {
                        engine.close(&self.store, queue, wait).await;
                        return;
                    }
                    engine.release(&self.store, queue).await;
                    tracing::debug!(queue, "idle queue let its worker go");
                    Holding::Idle
                }
                Holding::Idle => {
                    let (wake, woken) = oneshot::channel();
                    // Looked at after the worker is gone: a marker its cut-short block took,
                    // or a job added as it closed, is found here.
                    match self.look().await {
                        Ok(Look::Ready) => drop(wake),
                        Ok(Look::Empty { due_ms }) => {
                            // Idle is entered only where a waiter exists (not on a Cluster).
                            let Some(waiter) = self.store.idle_waiter() else {
                                return;
                            };
                            let keys = QueueKeys::new(self.store.prefix(), queue);
                            let watch = Watch {
                                marker: keys.marker(),
                                ready_keys: [keys.wait(), keys.prioritized(), keys.meta()],
                                beat: self.beat.clone(),
                                due_ms,
                                wake,
                            };
                            waiter.watch(watch).await;
                            tokio::select! {
                                _ = &mut stop => return,
                                _ = woken => {}
                            }
                        }
                        Err(e) => {
                            // Redis is failing: start the engine (it retries, and reports the
                            // outage through the beat as before).
                            tracing::debug!(queue, error = %e, "could not look at the idle queue");
                        }
                    }
                    match self.start(&mut stop).await {
                        Some(engine) => Holding::Engine(engine),
                        None => return,
                    }
                }
            };
        }
    }

    /// Starts the engine worker once.
    async fn engine(&self, start: Start) -> Result<EngineWorker, Error> {
        EngineWorker::start(
            &self.store,
            &self.queue,
            &self.opts,
            self.processor.clone(),
            self.beat.clone(),
            start,
            self.groups.clone(),
        )
        .await
    }

    /// Starts the engine worker, retrying with backoff; `None` when `stop` came first.
    async fn start(&self, stop: &mut oneshot::Receiver<Duration>) -> Option<EngineWorker> {
        let mut delay = Doubling::new(Duration::from_millis(200), Duration::from_secs(5));
        loop {
            match self.engine(Start::Wake).await {
                Ok(engine) => return Some(engine),
                Err(e) => {
                    if self.beat.errored() {
                        tracing::warn!(queue = %self.queue, error = %e,
                            "cannot start the queue's worker; retrying");
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay.next_delay()) => {}
                _ = &mut *stop => return None,
            }
        }
    }

    /// Whether the queue has jobs ready (not paused), else its earliest delayed job's due
    /// time. One round trip of four reads.
    async fn look(&self) -> Result<Look, Error> {
        let keys = QueueKeys::new(self.store.prefix(), &self.queue);
        let mut pipe = redis::pipe();
        pipe.cmd("HEXISTS")
            .arg(keys.meta())
            .arg("paused")
            .cmd("LLEN")
            .arg(keys.wait())
            .cmd("ZCARD")
            .arg(keys.prioritized())
            .cmd("ZRANGE")
            .arg(keys.delayed())
            .arg(0)
            .arg(0)
            .arg("WITHSCORES");
        let (paused, wait, prioritized, delayed): (bool, u64, u64, Vec<String>) = self
            .store
            .inner
            .conn
            .pipe(&pipe)
            .await
            .map_err(|e| Error::engine(&self.queue, e))?;
        if !paused && wait + prioritized > 0 {
            return Ok(Look::Ready);
        }
        // BullMQ scores a delayed job `due_ms * 4096 + seq` (bullmq-layout.md §5).
        // (Reply: member, score.) A score that does not parse (a foreign writer) is due now:
        // the engine's fetch then looks and decides.
        let due_ms = delayed
            .get(1)
            .map(|score| (score.parse::<f64>().unwrap_or(0.0) / 4096.0) as u64);
        Ok(Look::Empty { due_ms })
    }
}

/// What [`Life::look`] found.
enum Look {
    Ready,
    Empty { due_ms: Option<u64> },
}
