//! One pub/sub subscription per Bull queue, shared by everything in this daemon that wants the
//! queue's events: the SSE event source ([`super::events`]) and the consumer's delay timer.
//!
//! Bull's events are pub/sub, not a log, so this module makes the log: each message becomes a
//! [`QueueEvent`] with an id `<ms>-<seq>` (the time it arrived, never going backwards, and a
//! counter within the millisecond) kept in a ring bounded in events and bytes, so an SSE client that reconnects
//! with `Last-Event-ID` resumes without loss as long as its cursor is still in the ring. What
//! was published before the subscription started, or while it was disconnected, is gone: pub/sub
//! keeps nothing.
//!
//! Who holds what:
//! - [`BullStore`] keeps one [`Bus`] per queue in a map, for the daemon's lifetime (a ring
//!   that came and went with SSE clients would forget exactly what a reconnecting client
//!   needs). Event sources and consumers hold `Arc<Bus>` clones.
//! - The subscriber task is the only writer of the ring and the only sender on both channels;
//!   it holds the `Arc<Shared>` and ends when `Bus` is dropped (its `Drop` cancels `stop`).
//! - `pushed` (watch): readers wait on it for new events. `delayed` (broadcast): the consumer's
//!   delay timer receives each announced due time, and `0` ("look now") after every
//!   (re)subscription, since announcements made while disconnected were lost.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::BullStore;
use crate::queue::consumer::now_ms;
use crate::queue::events::QueueEvent;
use crate::queue::resubscribe::{resubscribing, Channels, Link};

/// Events kept per queue for resuming SSE clients.
const RING: usize = 10_000;

/// Bytes of event text kept per queue at most: a producer that publishes huge return values
/// shortens the ring instead of growing the daemon (the newest event is always kept).
const RING_BYTES: usize = 16 << 20;

/// Due-time announcements buffered for a slow delay timer (it re-reads Redis when it lags).
const DELAYED_BUFFER: usize = 64;

/// One queue's subscription, ring and channels.
pub(super) struct Bus {
    pub(super) shared: Arc<Shared>,
    /// Cancelled on drop: the subscriber task watches it.
    stop: CancellationToken,
}

/// What the subscriber task and the readers share.
pub(super) struct Shared {
    pub(super) queue: String,
    ring: Mutex<Ring>,
    /// How many events were ever pushed; readers wait for it to change.
    pub(super) pushed: watch::Sender<u64>,
    /// Announced due times (ms) of delayed jobs; `0` = "look for due jobs now".
    pub(super) delayed: broadcast::Sender<u64>,
    /// Whether the subscription is in place now.
    subscribed: watch::Sender<bool>,
}

#[derive(Default)]
struct Ring {
    events: VecDeque<QueueEvent>,
    /// Text bytes of `events` ([`size`]).
    bytes: usize,
    last_ms: u64,
    seq: u64,
}

/// The text bytes an event holds.
fn size(e: &QueueEvent) -> usize {
    e.stream_id.len()
        + e.event.len()
        + e.fields
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl BullStore {
    /// The bus of `queue`, subscribing on first use. `None` without a standalone Redis client
    /// (Redis Cluster): there is no connection to subscribe on.
    pub(super) fn bus(&self, queue: &str) -> Option<Arc<Bus>> {
        let mut buses = lock(&self.buses);
        if let Some(b) = buses.get(queue) {
            return Some(b.clone());
        }
        let client = self.link.subscriber()?;
        let shared = Arc::new(Shared {
            queue: queue.to_string(),
            ring: Mutex::new(Ring::default()),
            pushed: watch::channel(0).0,
            delayed: broadcast::channel(DELAYED_BUFFER).0,
            subscribed: watch::channel(false).0,
        });
        let stop = CancellationToken::new();
        let base = self.keys(queue).base().to_string();
        tokio::spawn(subscribe(client, base, shared.clone(), stop.clone()));
        let bus = Arc::new(Bus { shared, stop });
        buses.insert(queue.to_string(), bus.clone());
        Some(bus)
    }
}

impl Shared {
    /// Waits up to `wait` for the subscription to be in place; whether it is.
    pub(super) async fn subscribed(&self, wait: Duration) -> bool {
        let mut rx = self.subscribed.subscribe();
        let got = tokio::time::timeout(wait, rx.wait_for(|s| *s)).await;
        matches!(got, Ok(Ok(_)))
    }

    /// Up to `count` events after `after` (an id `<ms>-<seq>`, or anything older than the ring).
    pub(super) fn after(&self, after: (u64, u64), count: usize) -> Vec<QueueEvent> {
        let ring = lock(&self.ring);
        // Ids increase along the ring: skip from the back to the first one after `after`.
        let newer = ring
            .events
            .iter()
            .rev()
            .take_while(|e| order(&e.stream_id) > after)
            .count();
        ring.events
            .iter()
            .skip(ring.events.len() - newer)
            .take(count)
            .cloned()
            .collect()
    }

    /// The id of the newest event, `0-0` when none arrived yet.
    pub(super) fn last_id(&self) -> String {
        lock(&self.ring)
            .events
            .back()
            .map(|e| e.stream_id.clone())
            .unwrap_or_else(|| "0-0".into())
    }

    /// Gives `event` (its name and fields) the next id and keeps it.
    fn push(&self, event: String, fields: std::collections::BTreeMap<String, String>) {
        let mut ring = lock(&self.ring);
        // Never backwards, even if the clock is: ids must only grow for `Last-Event-ID`.
        let now = now_ms();
        if now > ring.last_ms {
            ring.last_ms = now;
            ring.seq = 0;
        } else {
            ring.seq += 1;
        }
        let stream_id = format!("{}-{}", ring.last_ms, ring.seq);
        let ev = QueueEvent {
            queue: self.queue.clone(),
            stream_id,
            event,
            fields,
        };
        ring.bytes += size(&ev);
        ring.events.push_back(ev);
        while ring.events.len() > RING || (ring.bytes > RING_BYTES && ring.events.len() > 1) {
            if let Some(old) = ring.events.pop_front() {
                ring.bytes -= size(&old);
            }
        }
        drop(ring);
        self.pushed.send_modify(|n| *n += 1);
    }
}

/// `<ms>-<seq>` (or `<n>`) as a pair to compare; anything unreadable sorts first.
pub(super) fn order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

/// Escapes the glob characters of a literal for `PSUBSCRIBE` (a queue may be named `a*`).
fn glob_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The subscriber task: (re)subscribes to the queue's channels and turns each message into an
/// event, until `stop` fires.
async fn subscribe(
    client: redis::Client,
    base: String,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let plain: Vec<String> = [
        "progress",
        "completed",
        "failed",
        "delayed",
        "paused",
        "resumed",
    ]
    .iter()
    .map(|s| format!("{base}{s}"))
    .collect();
    // Bull suffixes these with `@<token of the publishing queue object>`.
    let patterns: Vec<String> = ["waiting@", "active@", "stalled@", "duplicated@"]
        .iter()
        .map(|s| format!("{}*", glob_literal(&format!("{base}{s}"))))
        .collect();
    let channels = Channels {
        plain: &plain,
        patterns: &patterns,
    };
    let on_link = |link: Link<'_>| match link {
        Link::Up => {
            shared.subscribed.send_replace(true);
            tracing::debug!(queue = %shared.queue, "subscribed to the Bull queue's events");
            // Announcements made while we were not listening are lost: look now.
            let _ = shared.delayed.send(0);
        }
        Link::Lost => {
            shared.subscribed.send_replace(false);
            tracing::debug!(queue = %shared.queue, "the Bull queue's event subscription was lost; resubscribing (events meanwhile are not replayed)");
        }
        Link::Unavailable(e) => {
            tracing::debug!(queue = %shared.queue, error = %e, "Bull event subscription unavailable; retrying")
        }
    };
    let on_message = |msg: redis::Msg| {
        let channel = msg.get_channel_name().to_string();
        if let (Ok(payload), Some(name)) =
            (msg.get_payload::<String>(), channel.strip_prefix(&base))
        {
            if name == "delayed" {
                if let Some(due) = super::events::due_ms(&payload) {
                    let _ = shared.delayed.send(due);
                }
            }
            if let Some((event, fields)) = super::events::to_event(name, &payload) {
                shared.push(event, fields);
            }
        }
        std::future::ready(true)
    };
    resubscribing(&client, channels, &stop, on_link, on_message).await;
}

/// A poisoned lock only means another thread panicked mid-update of plain data; keep serving.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared {
            queue: "q".into(),
            ring: Mutex::new(Ring::default()),
            pushed: watch::channel(0).0,
            delayed: broadcast::channel(1).0,
            subscribed: watch::channel(false).0,
        }
    }

    #[test]
    fn ids_only_grow_and_after_returns_exactly_the_newer_events() {
        let s = shared();
        for i in 0..5 {
            s.push(
                "waiting".into(),
                [("jobId".to_string(), i.to_string())].into(),
            );
        }
        let all = s.after((0, 0), 100);
        assert_eq!(all.len(), 5);
        for w in all.windows(2) {
            assert!(order(&w[1].stream_id) > order(&w[0].stream_id));
        }
        let rest = s.after(order(&all[1].stream_id), 100);
        assert_eq!(rest.len(), 3);
        assert_eq!(rest[0].fields["jobId"], "2");
        assert_eq!(s.after(order(&all[1].stream_id), 2).len(), 2);
        assert!(s.after(order(&s.last_id()), 100).is_empty());
        assert_eq!(*s.pushed.borrow(), 5);
    }

    #[test]
    fn the_ring_keeps_the_newest_events() {
        let s = shared();
        for i in 0..RING + 3 {
            s.push(
                "waiting".into(),
                [("jobId".to_string(), i.to_string())].into(),
            );
        }
        let all = s.after((0, 0), usize::MAX);
        assert_eq!(all.len(), RING);
        assert_eq!(all[0].fields["jobId"], "3");
    }

    #[test]
    fn huge_events_shorten_the_ring_but_the_newest_is_kept() {
        let s = shared();
        let big = "x".repeat(RING_BYTES / 3);
        for i in 0..5 {
            s.push(
                "completed".into(),
                [("returnvalue".to_string(), format!("{i}{big}"))].into(),
            );
        }
        let kept = s.after((0, 0), usize::MAX);
        assert_eq!(kept.len(), 2);
        assert!(kept[1].fields["returnvalue"].starts_with('4'));
        let alone = "y".repeat(RING_BYTES + 1);
        s.push(
            "completed".into(),
            [("returnvalue".to_string(), alone)].into(),
        );
        assert_eq!(s.after((0, 0), usize::MAX).len(), 1);
    }

    #[test]
    fn glob_characters_of_a_queue_name_are_escaped() {
        assert_eq!(glob_literal("bull:a*[b]?:"), "bull:a\\*\\[b\\]\\?:");
    }
}
