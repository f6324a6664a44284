//! Cancel requests of the embedded store. One daemon consumes a file, so a request is an
//! in-process broadcast: the sender is `request_cancel` (the API, in the daemon that holds
//! the store), the receivers are each `listen_cancels` (the daemon's cancel router). A request
//! made by another process (a tool) reaches nobody, as a request for a job nobody runs.

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::EmbeddedStore;
use crate::queue::contract::Cancels;
use crate::queue::error::Error;
use async_trait::async_trait;

/// Requests held for a listener that lags behind; older ones are dropped (a cancel is
/// best-effort: the job may finish meanwhile).
pub(super) const BACKLOG: usize = 64;

impl EmbeddedStore {}

#[async_trait]
impl Cancels for EmbeddedStore {
    /// Asks the daemon that runs job `id` of `queue` in this process to cancel it.
    async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error> {
        // No receiver (no daemon listening in this process) is not an error.
        let _ = self.inner.cancels.send((queue.to_string(), id.to_string()));
        Ok(())
    }

    /// Delivers cancel requests `(queue, id)` to `out` until `stop` fires or `out` closes.
    async fn listen_cancels(&self, out: mpsc::Sender<(String, String)>, stop: CancellationToken) {
        let mut rx = self.inner.cancels.subscribe();
        loop {
            let req = tokio::select! {
                _ = stop.cancelled() => return,
                r = rx.recv() => r,
            };
            match req {
                Ok(r) => {
                    if out.send(r).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
