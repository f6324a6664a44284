//! One SSE client: the events it still has to catch up on (read from the store, for a client
//! resuming with `Last-Event-ID`), then the live events of its queues' shared feeds, each sent
//! once, in stream order per queue.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::response::sse::Event;
use futures::stream::{self, BoxStream, SelectAll, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::hub::{Feed, Hub};
use crate::http::error::ApiError;
use crate::queue::{CatchUp, QueueEvent, Store};

/// Events read from the store per catch-up page.
const PAGE: usize = 200;

/// Catch-up still to read for one queue: the events after `after` up to `upto` (what the
/// shared feed had read when the client joined; later ones come live).
struct Range {
    queue: String,
    after: String,
    upto: String,
}

/// The state of one SSE client.
pub(super) struct Client {
    store: Store,
    catch_up: VecDeque<Range>,
    pending: VecDeque<Arc<QueueEvent>>,
    live: SelectAll<BoxStream<'static, Result<Arc<QueueEvent>, RecvError>>>,
    /// Queue → the last event sent (or passed over by the job filter): the resume cursor.
    emitted: BTreeMap<String, String>,
    job: Option<String>,
    closing: CancellationToken,
    /// Keep the queues' feeds running while this client is connected.
    _feeds: Vec<Arc<Feed>>,
    /// This client's slot under `[http] max_sse_clients`, returned when it is dropped.
    _permit: OwnedSemaphorePermit,
}

impl Client {
    /// Joins the feed of each of `queues`, resuming after `cursors` where given.
    pub(super) async fn connect(
        hub: &Hub,
        store: Store,
        queues: &[String],
        cursors: BTreeMap<String, String>,
        job: Option<String>,
        closing: CancellationToken,
        permit: OwnedSemaphorePermit,
    ) -> Result<Client, ApiError> {
        let mut client = Client {
            store,
            catch_up: VecDeque::new(),
            pending: VecDeque::new(),
            live: SelectAll::new(),
            emitted: BTreeMap::new(),
            job,
            closing,
            _feeds: Vec::new(),
            _permit: permit,
        };
        // Joined together: the first client of many queues waits for one reader start, not
        // for each in turn.
        let subs =
            futures::future::try_join_all(queues.iter().map(|q| hub.subscribe(&client.store, q)))
                .await
                .map_err(ApiError::Unavailable)?;
        for (queue, sub) in queues.iter().zip(subs) {
            let start = match cursors.get(queue).filter(|c| *c != "$") {
                Some(c) => {
                    if is_after(&sub.cursor, c) {
                        client.catch_up.push_back(Range {
                            queue: queue.clone(),
                            after: c.clone(),
                            upto: sub.cursor.clone(),
                        });
                    }
                    c.clone()
                }
                None => sub.cursor.clone(),
            };
            client.emitted.insert(queue.clone(), start);
            let events = stream::unfold(sub.events, |mut rx| async move {
                let next = rx.recv().await;
                Some((next, rx))
            });
            client.live.push(events.boxed());
            client._feeds.push(sub.feed);
        }
        Ok(client)
    }

    /// The next event to send, or `None` to end the stream (shutdown, a store error, or this
    /// client fell too far behind: it reconnects with its cursor and catches up from the store).
    pub(super) async fn next(&mut self) -> Option<Event> {
        loop {
            while let Some(ev) = self.pending.pop_front() {
                if let Some(sse) = self.emit(&ev) {
                    return Some(sse);
                }
            }
            if let Some(range) = self.catch_up.front_mut() {
                let ask = CatchUp {
                    after: &range.after,
                    count: PAGE,
                };
                let page = tokio::select! {
                    _ = self.closing.cancelled() => return None,
                    p = self.store.events_after(&range.queue, ask) => p,
                };
                let page = match page {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::debug!(error = %e, "event catch-up read failed; ending the SSE stream (the client reconnects with Last-Event-ID)");
                        return None;
                    }
                };
                let mut done = page.len() < PAGE;
                for ev in page {
                    if is_after(&ev.stream_id, &range.upto) {
                        done = true;
                        break;
                    }
                    range.after = ev.stream_id.clone();
                    self.pending.push_back(Arc::new(ev));
                }
                if done {
                    self.catch_up.pop_front();
                }
                continue;
            }
            let next = tokio::select! {
                _ = self.closing.cancelled() => return None,
                n = self.live.next() => n,
            };
            match next {
                Some(Ok(ev)) => self.pending.push_back(ev),
                Some(Err(RecvError::Lagged(n))) => {
                    tracing::debug!(
                        missed = n,
                        "an SSE client fell behind; ending its stream so it resumes from its cursor"
                    );
                    return None;
                }
                Some(Err(RecvError::Closed)) | None => return None,
            }
        }
    }

    /// The SSE event for `ev`, unless it was already sent or the job filter passes it over.
    fn emit(&mut self, ev: &QueueEvent) -> Option<Event> {
        let last = self.emitted.get(&ev.queue)?;
        if !is_after(&ev.stream_id, last) {
            return None;
        }
        self.emitted.insert(ev.queue.clone(), ev.stream_id.clone());
        if self
            .job
            .as_ref()
            .is_some_and(|j| ev.fields.get("jobId") != Some(j))
        {
            return None;
        }
        Some(super::to_sse(ev, &self.emitted))
    }
}

/// Whether stream id `a` comes after `b`. Redis ids are `ms-seq`; the embedded store's are one
/// number (read as `n-0`).
pub(super) fn is_after(a: &str, b: &str) -> bool {
    order(a) > order(b)
}

fn order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::is_after;

    #[test]
    fn stream_ids_compare_as_numbers() {
        assert!(is_after("10-0", "9-5"));
        assert!(is_after("9-10", "9-9"));
        assert!(!is_after("9-9", "9-9"));
        assert!(is_after("12", "3"));
        assert!(is_after("1700-1", "0-0"));
    }
}
