//! Routing cancel requests (from any daemon: `overlap = "replace"`) to the pool running the job.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::dispatch::Dispatch;
use crate::queue::Store;

/// Listens for cancel requests until `stop` fires, and cancels the job in the pool of its
/// queue (`pools`: queue name → that pool's dispatch) when this daemon runs it.
pub async fn run(store: Store, pools: HashMap<String, Arc<Dispatch>>, stop: CancellationToken) {
    // Sender: the store's listener below (it ends when `stop` fires, closing the channel);
    // receiver: this loop.
    let (tx, mut rx) = mpsc::channel(64);
    let listen = tokio::spawn({
        let (store, stop) = (store.clone(), stop.clone());
        async move { store.listen_cancels(tx, stop).await }
    });
    while let Some((queue, id)) = rx.recv().await {
        if pools.get(&queue).is_some_and(|d| d.cancel(&id)) {
            tracing::info!(queue = %queue, job_id = %id, "job cancelled on request");
        }
    }
    let _ = listen.await;
}
