//! Cancelling a running job in whichever daemon runs it: a request is published on a Redis
//! channel (`<prefix>:cronq:cancel`, payload the JSON of a [`CancelRequest`]) that every
//! daemon listens to; the one running the job stops its handler and acknowledges on the
//! request's own channel (`<prefix>:cronq:cancel:ack:<ticket>`, payload its WORKER_ID), to
//! which the requester subscribed before publishing. BullMQ has no remote cancellation, so
//! these channels are cronq's own; Node workers ignore them.
//!
//! Daemons of the release before used the payload `queue<TAB>id`: still read (a rolling update
//! keeps `overlap = "replace"` working), and theirs ignore ours (JSON holds no raw tab).

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::RedisStore;
use crate::queue::cancel_request::CancelRequest;
use crate::queue::contract::Cancels;
use crate::queue::error::Error;
use crate::queue::resubscribe::{resubscribing, Channels, Link};
use async_trait::async_trait;

impl RedisStore {
    fn cancel_channel(&self) -> String {
        format!("{}:cronq:cancel", self.prefix())
    }

    fn ack_channel(&self, req: &CancelRequest) -> String {
        format!("{}:cronq:cancel:ack:{}", self.prefix(), req.ticket)
    }

    async fn publish(&self, queue: &str, channel: String, payload: String) -> Result<(), Error> {
        let _: i64 = self
            .inner
            .conn
            .cmd(redis::cmd("PUBLISH").arg(channel).arg(payload))
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(())
    }
}

/// A request read from the channel: ours (JSON), or the older `queue<TAB>id` form.
fn parse(payload: &str) -> Option<CancelRequest> {
    if let Ok(req) = serde_json::from_str::<CancelRequest>(payload) {
        return Some(req);
    }
    let (queue, id) = payload.split_once('\t')?;
    Some(CancelRequest::new(queue, id, "a newer run replaced it"))
}

#[async_trait]
impl Cancels for RedisStore {
    /// Publishes `req` to every daemon; with `wait`, first subscribes to its acknowledgement
    /// channel (so an answer cannot arrive before we listen) and waits for one answer.
    async fn request_cancel(
        &self,
        req: &CancelRequest,
        wait: Option<Duration>,
    ) -> Result<Option<String>, Error> {
        let payload = serde_json::to_string(req).unwrap_or_default();
        // A topology without a plain client (none today) publishes without waiting.
        let client = self.inner.conn.try_client().cloned();
        let (Some(wait), Some(client)) = (wait, client) else {
            self.publish(&req.queue, self.cancel_channel(), payload)
                .await?;
            return Ok(None);
        };
        let mut sub = client
            .get_async_pubsub()
            .await
            .map_err(|e| Error::engine(&req.queue, e))?;
        sub.subscribe(self.ack_channel(req))
            .await
            .map_err(|e| Error::engine(&req.queue, e))?;
        self.publish(&req.queue, self.cancel_channel(), payload)
            .await?;
        let mut answers = sub.on_message();
        let answer = tokio::time::timeout(wait, answers.next()).await;
        Ok(match answer {
            Ok(Some(msg)) => Some(msg.get_payload::<String>().unwrap_or_default()),
            _ => None,
        })
    }

    /// Delivers cancel requests to `out` until `stop` fires, resubscribing after a lost
    /// connection.
    async fn listen_cancels(&self, out: mpsc::Sender<CancelRequest>, stop: CancellationToken) {
        let Some(client) = self.inner.conn.try_client().cloned() else {
            return;
        };
        let plain = [self.cancel_channel()];
        let channels = Channels {
            plain: &plain,
            patterns: &[],
        };
        let on_link = |link: Link<'_>| {
            if let Link::Unavailable(e) = link {
                tracing::debug!(error = %e, "cancel channel unavailable; retrying");
            }
        };
        let on_message = |msg: redis::Msg| {
            // Anyone who can publish may write here: an unreadable payload is skipped, and a
            // request only ever stops a job (never starts one).
            let req = msg.get_payload::<String>().ok().and_then(|p| parse(&p));
            let out = out.clone();
            async move {
                match req {
                    Some(req) => out.send(req).await.is_ok(),
                    None => true,
                }
            }
        };
        resubscribing(&client, channels, &stop, on_link, on_message).await;
    }

    async fn ack_cancel(&self, req: &CancelRequest, holder: &str) -> Result<(), Error> {
        self.publish(&req.queue, self.ack_channel(req), holder.to_string())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_payload_forms_and_skips_garbage() {
        let req = CancelRequest::new("q", "7", "by the API of worker w");
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(parse(&json), Some(req));
        let old = parse("q\t7").unwrap();
        assert_eq!((old.queue.as_str(), old.id.as_str()), ("q", "7"));
        assert_eq!(parse("nothing here"), None);
    }
}
