//! One blocking wait for every idle queue of a store (issue 26): an idle queue holds no engine
//! worker and no connection of its own. Before, each configured queue kept an engine `Worker`
//! (two connections, ~0.4 MB) parked on its marker: 50 idle queues were 103 connections.
//!
//! The waiter owns one dedicated connection and sends `BZPOPMIN m1 m2 … poke timeout` over
//! the markers of the queues it watches (`<prefix>:<queue>:marker`, what BullMQ producers
//! `ZADD`) plus a private poke key that ends the block when the watch set changes. A popped
//! marker whose score is 0 or past wakes that queue's consumer (`consumer.rs`), which starts
//! an engine worker whose first fetch (`moveToActive`, non-blocking) re-checks the queue: the
//! marker it took from a Node worker sharing the queue is made good by a fetch, so no job is
//! left waiting. A marker scored in the future (`"1"`: the earliest delayed job's due ms) is
//! kept here and the block is shortened to end at it; the queue is woken then, and the
//! engine's fetch promotes the due job. A paused queue's marker is deleted by pause and
//! re-added by resume, so it stays asleep while paused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bullmq::redis_connection::RedisConnection;
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};

use super::wakeup::IDLE_BLOCK;
use crate::queue::consumer::{now_ms, LoopBeat};

/// Pause before the next block after a failed one (Redis lost); the managed connection
/// reconnects meanwhile.
const RETRY: Duration = Duration::from_millis(500);

/// How long past its own timeout a block may go unanswered before the connection is taken for
/// dead (a silently dropped socket) and replaced.
const GRACE: Duration = Duration::from_secs(5);

/// What `BZPOPMIN` answers: the key, the member and its score; `None` at the timeout.
type Popped = Option<(String, String, f64)>;

/// One idle queue handed to the waiter.
pub(crate) struct Watch {
    /// The queue's marker key.
    pub(crate) marker: String,
    /// The queue's `wait`, `prioritized` and `meta` keys, for the sweep after a quiet block.
    pub(crate) ready_keys: [String; 3],
    /// The queue's liveness, turned at each block the waiter completes, failed when it fails.
    pub(crate) beat: Arc<LoopBeat>,
    /// The earliest delayed job's due time (Unix ms), if the consumer saw one.
    pub(crate) due_ms: Option<u64>,
    /// Fired when the queue has work; the consumer's lifecycle task holds the receiver and
    /// drops it when it closes (the waiter then forgets the queue).
    pub(crate) wake: oneshot::Sender<()>,
}

/// The store's handle on its waiter task. The task ends when the handle (the store) is gone.
pub(crate) struct IdleWaiter {
    /// To the waiter task, which holds the receiver.
    tx: mpsc::UnboundedSender<Watch>,
    /// Set by the task while a block may be in flight: a new watch then pokes it.
    blocking: Arc<AtomicBool>,
    poke: String,
    /// The store's shared connection, for the poke.
    conn: RedisConnection,
}

impl IdleWaiter {
    /// Starts the waiter task; its connection is opened at its first watch.
    pub(crate) fn start(conn: RedisConnection, prefix: &str) -> IdleWaiter {
        let (tx, rx) = mpsc::unbounded_channel();
        let blocking = Arc::new(AtomicBool::new(false));
        // Unique per process and store: two daemons never poke each other. Not a queue's key
        // (no `:meta`), so tools listing queues do not see it; it is empty but for a moment.
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let poke = format!("{prefix}:cronq-idle:{}:{started}", std::process::id());
        tokio::spawn(run(conn.clone(), rx, blocking.clone(), poke.clone()));
        IdleWaiter {
            tx,
            blocking,
            poke,
            conn,
        }
    }

    /// Adds a queue to the wait; `watch.wake` fires when it has work.
    pub(crate) async fn watch(&self, watch: Watch) {
        if self.tx.send(watch).is_err() {
            return;
        }
        self.poke().await;
    }

    /// Ends the current block so the task sees a change of the watch set.
    pub(crate) async fn poke(&self) {
        if self.blocking.load(Ordering::SeqCst) {
            let res: Result<i64, _> = self
                .conn
                .cmd(redis::cmd("ZADD").arg(&self.poke).arg(0).arg("poke"))
                .await;
            if let Err(e) = res {
                tracing::debug!(error = %e, "could not poke the idle waiter");
            }
        }
    }
}

/// The waiter task: blocks on every watched marker at once.
async fn run(
    conn: RedisConnection,
    mut rx: mpsc::UnboundedReceiver<Watch>,
    blocking: Arc<AtomicBool>,
    poke: String,
) {
    let mut watched: HashMap<String, Watch> = HashMap::new();
    let mut link: Option<ConnectionManager> = None;
    let mut failing = false;
    loop {
        // Set before the channel is drained: a watch sent after the drain pokes the block.
        blocking.store(true, Ordering::SeqCst);
        loop {
            match rx.try_recv() {
                Ok(w) => add(&mut watched, w),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        // A consumer that closed (shutdown) dropped its receiver: stop taking its markers.
        watched.retain(|_, w| !w.wake.is_closed());
        let now = now_ms();
        let due: Vec<String> = watched
            .iter()
            .filter(|(_, w)| w.due_ms.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            wake(&mut watched, &key);
        }
        if watched.is_empty() {
            // Nothing to watch: no block, no connection use; wait for a queue to go idle.
            blocking.store(false, Ordering::SeqCst);
            match rx.recv().await {
                Some(w) => add(&mut watched, w),
                None => return,
            }
            continue;
        }
        // Ends at the earliest known delayed job, else after the idle block (see `wakeup.rs`
        // for why 4 min: proxies drop silent connections after 5).
        let block_ms = watched
            .values()
            .filter_map(|w| w.due_ms)
            .min()
            .map(|d| {
                d.saturating_sub(now)
                    .clamp(1, IDLE_BLOCK.as_millis() as u64)
            })
            .unwrap_or(IDLE_BLOCK.as_millis() as u64);
        let conn_now = match &link {
            Some(c) => c.clone(),
            None => match conn.managed_dedicated_connection().await {
                Ok(c) => {
                    link = Some(c.clone());
                    c
                }
                Err(e) => {
                    failed(&watched, &mut failing, &e.to_string());
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            },
        };
        let mut cmd = redis::cmd("BZPOPMIN");
        for key in watched.keys() {
            cmd.arg(key);
        }
        cmd.arg(&poke).arg(block_ms as f64 / 1000.0);
        let mut c = conn_now;
        let block = Duration::from_millis(block_ms) + GRACE;
        let popped: Result<redis::RedisResult<Popped>, _> =
            tokio::time::timeout(block, cmd.query_async(&mut c)).await;
        blocking.store(false, Ordering::SeqCst);
        match popped {
            Ok(Ok(popped)) => {
                if failing {
                    tracing::info!("the idle queues' wait works again");
                    failing = false;
                }
                for w in watched.values() {
                    w.beat.turned();
                }
                let Some((key, _member, score)) = popped else {
                    if block_ms == IDLE_BLOCK.as_millis() as u64 {
                        sweep(&mut c, &mut watched).await;
                    }
                    continue;
                };
                let due = score.max(0.0) as u64;
                match watched.get_mut(&key) {
                    // Ready jobs (score 0), or a delayed job already due.
                    Some(_) if due <= now_ms() => wake(&mut watched, &key),
                    // A delayed job's marker: kept here, the block now ends at its time.
                    Some(w) => w.due_ms = Some(w.due_ms.map_or(due, |d| d.min(due))),
                    // The poke, or a queue forgotten meanwhile.
                    None => {}
                }
            }
            Ok(Err(e)) => {
                failed(&watched, &mut failing, &e.to_string());
                tokio::time::sleep(RETRY).await;
            }
            Err(_) => {
                // No answer past the block's own end: a dead socket. A new one next turn.
                failed(&watched, &mut failing, "the blocking wait went unanswered");
                link = None;
            }
        }
    }
}

fn add(watched: &mut HashMap<String, Watch>, w: Watch) {
    watched.insert(w.marker.clone(), w);
}

fn wake(watched: &mut HashMap<String, Watch>, key: &str) {
    if let Some(w) = watched.remove(key) {
        // The consumer may have closed meanwhile: nothing to wake then.
        let _ = w.wake.send(());
    }
}

/// Marks every watched queue's beat failed; logs once per outage.
fn failed(watched: &HashMap<String, Watch>, failing: &mut bool, error: &str) {
    for w in watched.values() {
        w.beat.errored();
    }
    if !*failing {
        tracing::warn!(error = %error, "the idle queues' wait failed; retrying");
        *failing = true;
    }
}

/// After a whole quiet block: wakes every watched queue with jobs ready and not paused. A job
/// written without a marker (no BullMQ producer does that; a hand-written `LPUSH` does) is then
/// started within one block (4 min), as the engine's own idle fetch used to; three reads per
/// idle queue per 4 min, one round trip.
async fn sweep(conn: &mut ConnectionManager, watched: &mut HashMap<String, Watch>) {
    let keys: Vec<String> = watched.keys().cloned().collect();
    let mut pipe = redis::pipe();
    for key in &keys {
        let [wait, prioritized, meta] = &watched[key].ready_keys;
        pipe.cmd("LLEN").arg(wait);
        pipe.cmd("ZCARD").arg(prioritized);
        pipe.cmd("HEXISTS").arg(meta).arg("paused");
    }
    let counts: Vec<i64> = match pipe.query_async(conn).await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::debug!(error = %e, "the idle queues' sweep failed");
            return;
        }
    };
    for (key, c) in keys.iter().zip(counts.chunks(3)) {
        if let [wait, prioritized, 0] = c {
            if wait + prioritized > 0 {
                wake(watched, key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::redis::keys::QueueKeys;
    use crate::queue::redis::test_server::{connect, Redis};

    fn watch(prefix: &str, queue: &str) -> (Watch, oneshot::Receiver<()>) {
        let keys = QueueKeys::new(prefix, queue);
        let (wake, woken) = oneshot::channel();
        let w = Watch {
            marker: keys.marker(),
            ready_keys: [keys.wait(), keys.prioritized(), keys.meta()],
            beat: Arc::default(),
            due_ms: None,
            wake,
        };
        (w, woken)
    }

    /// A job pushed without a marker is found by the sweep after a quiet block; an empty
    /// queue and a paused one are left asleep.
    #[tokio::test]
    async fn the_sweep_wakes_only_queues_with_ready_jobs() {
        let server = Redis::start();
        let store = connect(server.1).await;
        let mut c = store
            .inner
            .conn
            .managed_dedicated_connection()
            .await
            .unwrap();
        let p = store.prefix().to_string();
        let (lost, held) = (QueueKeys::new(&p, "lost"), QueueKeys::new(&p, "held"));
        // Written as a foreign producer would: straight into the keys, no marker.
        let writes: [&[&str]; 3] = [
            &["LPUSH", &lost.wait(), "1"],
            &["LPUSH", &held.wait(), "1"],
            &["HSET", &held.meta(), "paused", "1"],
        ];
        for write in writes {
            let mut cmd = redis::cmd(write[0]);
            cmd.arg(&write[1..]);
            let _: i64 = cmd.query_async(&mut c).await.unwrap();
        }
        let mut watched = HashMap::new();
        let (lost, mut lost_woken) = watch(&p, "lost");
        let (held, mut held_woken) = watch(&p, "held");
        let (empty, mut empty_woken) = watch(&p, "empty");
        for w in [lost, held, empty] {
            add(&mut watched, w);
        }
        sweep(&mut c, &mut watched).await;
        assert!(
            lost_woken.try_recv().is_ok(),
            "the queue with a job was not woken"
        );
        assert!(held_woken.try_recv().is_err(), "the paused queue was woken");
        assert!(empty_woken.try_recv().is_err(), "the empty queue was woken");
        assert_eq!(watched.len(), 2);
    }
}
