//! One queue's worker pool: a consumer (the engine's fetch loop, bounded by the queue's
//! concurrency) driving a [`Dispatch`]. Started by [`super::start`], drained by `app`.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use super::dispatch::Dispatch;
use crate::queue::{Consumer, ConsumerOptions, Error, LoopBeat, Store};
use crate::status::QueueProbe;

/// A running pool.
pub struct WorkerPool {
    /// Shared with the consumer (which calls it per job) and with the cancel router (`worker::cancels`).
    dispatch: Arc<Dispatch>,
    consumer: Consumer,
    concurrency: usize,
    running: Arc<AtomicUsize>,
}

impl WorkerPool {
    /// Starts consuming `queue` through `dispatch`.
    pub async fn start(
        store: &Store,
        queue: &str,
        opts: ConsumerOptions,
        dispatch: Dispatch,
    ) -> Result<WorkerPool, Error> {
        let running = dispatch.running();
        let concurrency = opts.concurrency;
        let dispatch = Arc::new(dispatch);
        let consumer = store
            .consume(queue, opts, super::traced::traced(dispatch.clone()))
            .await?;
        Ok(WorkerPool {
            dispatch,
            consumer,
            concurrency,
            running,
        })
    }

    /// The pool's processor, for routing cancel requests to it.
    pub fn dispatch(&self) -> Arc<Dispatch> {
        self.dispatch.clone()
    }

    /// What `/health` needs to know about this pool.
    pub fn probe(&self) -> QueueProbe {
        QueueProbe {
            concurrency: self.concurrency,
            running: self.running.clone(),
            beat: self.beat(),
        }
    }

    fn beat(&self) -> Arc<LoopBeat> {
        self.consumer.beat()
    }

    /// The queue consumed.
    pub fn queue(&self) -> &str {
        self.consumer.queue()
    }

    /// Stops fetching now; waits up to `wait` for running jobs (released at the deadline).
    pub async fn drain(self, wait: Duration) {
        let queue = self.queue().to_string();
        self.consumer.close(wait).await;
        tracing::info!(queue = %queue, "worker pool stopped");
    }
}
