//! Cancelling a running job in whichever daemon runs it: a request is published on a Redis
//! channel (`<prefix>:cronq:cancel`, payload `queue<TAB>job-id`) that every daemon listens to;
//! the one running the job stops its handler. BullMQ has no remote cancellation, so this
//! channel is cronq's own; Node workers ignore it.

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::RedisStore;
use crate::queue::contract::Cancels;
use crate::queue::error::Error;
use async_trait::async_trait;

impl RedisStore {
    fn cancel_channel(&self) -> String {
        format!("{}:cronq:cancel", self.prefix())
    }
}

#[async_trait]
impl Cancels for RedisStore {
    /// Asks every daemon to cancel job `id` of `queue` if it is running it.
    async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error> {
        let _: i64 = self
            .inner
            .conn
            .cmd(
                redis::cmd("PUBLISH")
                    .arg(self.cancel_channel())
                    .arg(format!("{queue}\t{id}")),
            )
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(())
    }

    /// Delivers cancel requests `(queue, id)` to `out` until `stop` fires, resubscribing after
    /// a lost connection.
    async fn listen_cancels(&self, out: mpsc::Sender<(String, String)>, stop: CancellationToken) {
        let Some(client) = self.inner.conn.try_client().cloned() else {
            return;
        };
        let channel = self.cancel_channel();
        let mut delay = crate::backoff::Doubling::new(
            std::time::Duration::from_millis(200),
            std::time::Duration::from_secs(5),
        );
        while !stop.is_cancelled() {
            match client.get_async_pubsub().await {
                Ok(mut sub) => {
                    if sub.subscribe(&channel).await.is_ok() {
                        delay.reset();
                        let mut messages = sub.on_message();
                        loop {
                            let msg = tokio::select! {
                                _ = stop.cancelled() => return,
                                m = messages.next() => m,
                            };
                            let Some(msg) = msg else { break };
                            let Ok(payload) = msg.get_payload::<String>() else {
                                continue;
                            };
                            if let Some((q, id)) = payload.split_once('\t') {
                                if out.send((q.to_string(), id.to_string())).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cancel channel unavailable; retrying"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(delay.next_delay()) => {}
            }
        }
    }
}
