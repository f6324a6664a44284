//! Shared, read-mostly state of the running daemon, written by `app` and the pools and read by
//! `/health`: whether we are draining, the store once connected, and each pool's probe.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use crate::queue::{JobCounts, LoopBeat, Store};

/// What `/health` knows about one queue's pool.
#[derive(Debug, Clone)]
pub struct QueueProbe {
    /// Jobs it may run at once.
    pub concurrency: usize,
    /// Jobs running now.
    pub running: Arc<AtomicUsize>,
    /// When its fetch loop last turned.
    pub beat: Arc<LoopBeat>,
}

impl QueueProbe {
    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }
}

/// The daemon's status.
pub struct Status {
    started: Instant,
    /// How long a fetch loop may stay silent, with ready jobs and free slots, before the
    /// daemon reports itself unhealthy (the job lock duration).
    pub stuck_after: Duration,
    draining: AtomicBool,
    /// Set once every worker pool has started (health is not `healthy` before).
    ready: AtomicBool,
    /// The store, set once Redis first answered.
    store: OnceLock<Store>,
    /// Where the store is (redacted), for messages before it answers.
    pub redis_url: String,
    /// `redis` or `embedded`.
    pub store_kind: &'static str,
    queues: RwLock<BTreeMap<String, QueueProbe>>,
    /// Internal components restarted after a panic.
    components: RwLock<BTreeMap<String, ComponentHealth>>,
    /// Recent run timings per queue: written by the pools' dispatch, read by the metrics API.
    timings: Arc<crate::queue::Timings>,
    /// The counts `/health` last read per queue, and when: written and read by `/health` only
    /// (a probe reuses them while they are young; see `http::health`).
    health_counts: RwLock<BTreeMap<String, (Instant, JobCounts)>>,
}

/// Restarts of one internal component, shown by `/health`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ComponentHealth {
    /// Times it was restarted after a panic.
    pub restarts: u64,
    /// The last panic message.
    pub last_panic: String,
}

impl Status {
    /// A fresh status.
    pub fn new(stuck_after: Duration, redis_url: String, store_kind: &'static str) -> Arc<Status> {
        Arc::new(Status {
            started: Instant::now(),
            stuck_after,
            draining: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            store: OnceLock::new(),
            redis_url,
            store_kind,
            queues: RwLock::new(BTreeMap::new()),
            components: RwLock::new(BTreeMap::new()),
            timings: Arc::default(),
            health_counts: RwLock::new(BTreeMap::new()),
        })
    }

    /// Recent run timings per queue.
    pub fn timings(&self) -> Arc<crate::queue::Timings> {
        self.timings.clone()
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Marks the daemon as draining (first phase of shutdown).
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether the daemon is draining.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Marks start-up as complete (store connected, pools running).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Whether start-up is complete.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Records the store once connected.
    pub fn set_store(&self, store: Store) {
        let _ = self.store.set(store);
    }

    /// The store, once connected.
    pub fn store(&self) -> Option<&Store> {
        self.store.get()
    }

    /// Registers a pool's probe.
    pub fn add_queue(&self, name: &str, probe: QueueProbe) {
        self.queues
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), probe);
    }

    /// Records a restart of component `name` after a panic.
    pub fn component_restarted(&self, name: &str, panic: &str) {
        let mut c = self.components.write().unwrap_or_else(|p| p.into_inner());
        let entry = c.entry(name.to_string()).or_default();
        entry.restarts += 1;
        entry.last_panic = panic.to_string();
    }

    /// Restarted components.
    pub fn components(&self) -> BTreeMap<String, ComponentHealth> {
        self.components
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The pools' probes, by queue.
    pub fn queues(&self) -> BTreeMap<String, QueueProbe> {
        self.queues
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The counts `/health` read for `queue` and how long ago, if it read any.
    pub fn health_counts(&self, queue: &str) -> Option<(Duration, JobCounts)> {
        self.health_counts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(queue)
            .map(|(at, counts)| (at.elapsed(), *counts))
    }

    /// Keeps the counts `/health` just read for `queue`.
    pub fn set_health_counts(&self, queue: &str, counts: JobCounts) {
        self.health_counts
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(queue.to_string(), (Instant::now(), counts));
    }
}
