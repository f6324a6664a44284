//! One shared event reader per queue, fanning out to every SSE client of that queue, and the cap
//! on SSE clients. Without it each client held its own Redis connection blocked in `XREAD`, so
//! a few hundred browser tabs could exhaust Redis's `maxclients` for producers and replicas.
//!
//! Who holds what:
//! - [`Hub`] (in `AppState`) maps queue → `Weak<Feed>`: it finds a running feed but never keeps
//!   one alive.
//! - Each SSE client holds an `Arc<Feed>` per queue it follows (in its [`Subscription`]) and a
//!   broadcast receiver. A feed starts with its first subscriber; when the last one leaves, the
//!   last `Arc` drops and `Feed::drop` cancels the reader task.
//! - The reader task is the only sender: the broadcast `Sender` lives in the feed's [`Shared`]
//!   state and only the task sends on it. When the task ends (stopped, or the store failed) it
//!   drops the sender, so every receiver sees `Closed` and its SSE stream ends; browsers then
//!   reconnect with `Last-Event-ID` and lose nothing.
//! - The cap is a semaphore of `max_sse_clients` permits; each SSE stream owns one permit for
//!   its whole life and returns it when the client goes away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::{broadcast, watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::http::error::ApiError;
use crate::queue::{EventStarts, QueueEvent, Store};

/// Events a feed buffers for its slowest client. A client further behind is disconnected and
/// resumes from its cursor through the store (catch-up), so a slow browser never holds memory
/// beyond this or stalls the others.
const BUFFER: usize = 1024;

/// How long one blocking read waits before looking at the stop token again.
const BLOCK: Duration = Duration::from_secs(5);

/// Shared readers at most (each holds one Redis connection): a client naming many queues, or
/// many clients naming different ones, cannot turn the cap on clients into thousands of
/// connections.
pub const MAX_READERS: usize = 256;

/// Seconds a refused SSE client is told to wait (`Retry-After`).
const RETRY_AFTER_SECS: u32 = 10;

/// The shared readers and the client cap.
pub struct Hub {
    feeds: Mutex<HashMap<String, Weak<Feed>>>,
    clients: Arc<Semaphore>,
    max_clients: usize,
}

/// A client's place in one queue's feed.
pub struct Subscription {
    /// Keeps the feed (and its reader) running while the client is connected.
    pub feed: Arc<Feed>,
    /// Events read after [`Subscription::cursor`].
    pub events: broadcast::Receiver<Arc<QueueEvent>>,
    /// The last event the feed had read when the client subscribed: everything after it comes
    /// through `events`; anything up to it must be read from the store.
    pub cursor: String,
}

/// One queue's shared reader, as its subscribers hold it.
pub struct Feed {
    shared: Arc<Shared>,
    /// Cancelled when the last subscriber leaves; the reader task watches it.
    stop: CancellationToken,
}

/// What the reader task and the subscribers share.
struct Shared {
    /// `Starting` until the reader has its start position.
    phase: watch::Sender<Phase>,
    state: Mutex<Live>,
}

struct Live {
    /// `None` once the reader has ended.
    tx: Option<broadcast::Sender<Arc<QueueEvent>>>,
    /// The stream id of the last event read (or the stream's end when the reader started).
    cursor: String,
}

#[derive(Clone)]
enum Phase {
    Starting,
    Live,
    Ended(String),
}

impl Hub {
    /// A hub admitting at most `max_clients` SSE clients at once.
    pub fn new(max_clients: usize) -> Hub {
        Hub {
            feeds: Mutex::new(HashMap::new()),
            clients: Arc::new(Semaphore::new(max_clients)),
            max_clients,
        }
    }

    /// A slot for one more SSE client, or 503 with `Retry-After` when all are taken.
    pub fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.clients
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Busy {
                message: format!(
                    "too many live-event (SSE) clients: {} are connected, the limit \
                     ([http] max_sse_clients); retry later or raise the limit",
                    self.max_clients
                ),
                retry_after_secs: RETRY_AFTER_SECS,
            })
    }

    /// SSE clients connected now.
    pub fn clients(&self) -> usize {
        self.max_clients - self.clients.available_permits()
    }

    /// Queues whose shared reader runs now.
    pub fn readers(&self) -> usize {
        lock(&self.feeds)
            .values()
            .filter_map(Weak::upgrade)
            .filter(|f| !f.ended())
            .count()
    }

    /// Joins `queue`'s feed, starting its reader when it has none.
    pub async fn subscribe(&self, store: &Store, queue: &str) -> Result<Subscription, String> {
        let feed = self.feed(store, queue).ok_or_else(|| {
            format!(
                "cannot follow queue {queue}: {MAX_READERS} queues are followed already, the limit"
            )
        })?;
        let mut phase = feed.shared.phase.subscribe();
        let now = phase
            .wait_for(|p| !matches!(p, Phase::Starting))
            .await
            .map(|p| p.clone())
            // The sender lives in `Shared`, which `feed` keeps alive.
            .unwrap_or(Phase::Ended("the event reader is gone".into()));
        if let Phase::Ended(why) = now {
            return Err(format!("cannot follow the events of queue {queue}: {why}"));
        }
        let live = lock(&feed.shared.state);
        let Some(tx) = &live.tx else {
            return Err(format!(
                "the event reader of queue {queue} stopped; reconnect"
            ));
        };
        let events = tx.subscribe();
        let cursor = live.cursor.clone();
        drop(live);
        Ok(Subscription {
            feed,
            events,
            cursor,
        })
    }

    /// The running feed of `queue`, or a new one; `None` at [`MAX_READERS`].
    fn feed(&self, store: &Store, queue: &str) -> Option<Arc<Feed>> {
        let mut feeds = lock(&self.feeds);
        if let Some(f) = feeds.get(queue).and_then(Weak::upgrade) {
            if !f.ended() {
                return Some(f);
            }
        }
        feeds.retain(|q, f| f.strong_count() > 0 && q != queue);
        if feeds.len() >= MAX_READERS {
            return None;
        }
        let feed = Feed::start(store.clone(), queue.to_string());
        feeds.insert(queue.to_string(), Arc::downgrade(&feed));
        Some(feed)
    }
}

impl Feed {
    fn start(store: Store, queue: String) -> Arc<Feed> {
        let shared = Arc::new(Shared {
            phase: watch::channel(Phase::Starting).0,
            state: Mutex::new(Live {
                tx: Some(broadcast::channel(BUFFER).0),
                cursor: String::new(),
            }),
        });
        let stop = CancellationToken::new();
        tokio::spawn(read(store, queue, shared.clone(), stop.clone()));
        Arc::new(Feed { shared, stop })
    }

    fn ended(&self) -> bool {
        matches!(*self.shared.phase.borrow(), Phase::Ended(_))
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Shared {
    /// Closes every subscriber's receiver and marks the feed ended.
    fn end(&self, why: String) {
        lock(&self.state).tx = None;
        self.phase.send_replace(Phase::Ended(why));
    }
}

/// The reader task: reads `queue`'s events from where the stream ends now and broadcasts each
/// one, until `stop` fires or the store fails.
async fn read(store: Store, queue: String, shared: Arc<Shared>, stop: CancellationToken) {
    let opened = tokio::select! {
        _ = stop.cancelled() => return shared.end("stopped".into()),
        r = store.event_reader(EventStarts::from([(queue.clone(), None)])) => r,
    };
    let mut reader = match opened {
        Ok(r) => r,
        Err(e) => return shared.end(e.to_string()),
    };
    lock(&shared.state).cursor = reader
        .start_cursors()
        .remove(&queue)
        .unwrap_or_else(|| "0".into());
    shared.phase.send_replace(Phase::Live);
    tracing::debug!(queue = %queue, "shared event reader started");
    let why = loop {
        let batch = tokio::select! {
            _ = stop.cancelled() => break "stopped".to_string(),
            b = reader.next_batch(BLOCK) => b,
        };
        match batch {
            Ok(events) => {
                let mut live = lock(&shared.state);
                for ev in events {
                    live.cursor = ev.stream_id.clone();
                    if let Some(tx) = &live.tx {
                        // No receiver right now is fine: the next subscriber starts after it.
                        let _ = tx.send(Arc::new(ev));
                    }
                }
            }
            Err(e) => {
                tracing::debug!(queue = %queue, error = %e, "shared event reader failed; its SSE clients reconnect");
                break e.to_string();
            }
        }
    };
    tracing::debug!(queue = %queue, why = %why, "shared event reader stopped");
    shared.end(why);
}

/// A poisoned lock only means another thread panicked mid-update of plain data; keep serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
