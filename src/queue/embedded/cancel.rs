//! Cancel requests of the embedded store. One daemon consumes a file, so a request is an
//! in-process broadcast: the sender is `request_cancel` (the API, in the daemon that holds
//! the store), the receivers are each `listen_cancels` (the daemon's cancel router), and the
//! acknowledgement a one-shot channel found by the request's ticket. A request made by
//! another process (a tool) reaches nobody, as a request for a job nobody runs: `worker
//! cancel` says to use the daemon's API instead.

use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::EmbeddedStore;
use crate::queue::cancel_request::CancelRequest;
use crate::queue::contract::Cancels;
use crate::queue::error::Error;
use async_trait::async_trait;

/// Requests held for a listener that lags behind; older ones are dropped (a cancel is
/// best-effort: the job may finish meanwhile).
pub(super) const BACKLOG: usize = 64;

impl EmbeddedStore {
    fn acks(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, oneshot::Sender<String>>> {
        self.inner.acks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Removes a request's acknowledgement slot however the wait ends.
struct Slot<'a>(&'a EmbeddedStore, &'a str);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.acks().remove(self.1);
    }
}

#[async_trait]
impl Cancels for EmbeddedStore {
    /// Asks the daemon that runs the job in this process to cancel it.
    async fn request_cancel(
        &self,
        req: &CancelRequest,
        wait: Option<Duration>,
    ) -> Result<Option<String>, Error> {
        let Some(wait) = wait else {
            // No receiver (no daemon listening in this process) is not an error.
            let _ = self.inner.cancels.send(req.clone());
            return Ok(None);
        };
        let (tx, rx) = oneshot::channel();
        self.acks().insert(req.ticket.clone(), tx);
        let _slot = Slot(self, &req.ticket);
        let _ = self.inner.cancels.send(req.clone());
        Ok(tokio::time::timeout(wait, rx)
            .await
            .ok()
            .and_then(|r| r.ok()))
    }

    /// Delivers cancel requests to `out` until `stop` fires or `out` closes.
    async fn listen_cancels(&self, out: mpsc::Sender<CancelRequest>, stop: CancellationToken) {
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

    async fn ack_cancel(&self, req: &CancelRequest, holder: &str) -> Result<(), Error> {
        if let Some(tx) = self.acks().remove(&req.ticket) {
            let _ = tx.send(holder.to_string());
        }
        Ok(())
    }
}
