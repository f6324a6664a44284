//! Routing cancel requests (from any daemon: `overlap = "replace"`, the API, `worker cancel`,
//! the dashboard) to the pool running the job; the daemon that stops it acknowledges, naming
//! itself, so the requester can tell a job cronq runs from one a foreign worker holds.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::dispatch::Dispatch;
use crate::metrics::queue_ops::CancelHow;
use crate::metrics::Metrics;
use crate::queue::Store;

/// Listens for cancel requests until `stop` fires, and cancels the job in the pool of its
/// queue (`pools`: queue name → that pool's dispatch) when this daemon runs it; then
/// acknowledges as `holder` (this daemon's WORKER_ID) and counts it in `metrics`.
pub async fn run(
    store: Store,
    pools: HashMap<String, Arc<Dispatch>>,
    holder: String,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    // Sender: the store's listener below (it ends when `stop` fires, closing the channel);
    // receiver: this loop.
    let (tx, mut rx) = mpsc::channel(64);
    let listen = tokio::spawn({
        let (store, stop) = (store.clone(), stop.clone());
        async move { store.listen_cancels(tx, stop).await }
    });
    while let Some(req) = rx.recv().await {
        let reason = req.reason();
        if !pools
            .get(&req.queue)
            .is_some_and(|d| d.cancel(&req.id, &reason))
        {
            continue;
        }
        tracing::info!(queue = %req.queue, job_id = %req.id.escape_debug(), by = %req.by.escape_debug(), "job cancelled on request");
        metrics.ops.cancelled(&req.queue, CancelHow::Stopped);
        // A lost acknowledgement only makes the requester report the job as out of reach
        // while it stops all the same: logged, not retried.
        if let Err(e) = store.ack_cancel(&req, &holder).await {
            tracing::warn!(queue = %req.queue, job_id = %req.id.escape_debug(), error = %e, "cancel not acknowledged to its requester");
        }
    }
    let _ = listen.await;
}
