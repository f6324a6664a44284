//! [`resubscribing`]: a pub/sub subscription kept alive until told to stop, for both listeners
//! the room has (Bull's per-queue events in `bull/bus.rs`, cronq's cancel channel in
//! `redis/cancel.rs`).
//!
//! Why one place: both were the same loop written twice (connect, subscribe, read until the
//! connection drops, wait a doubling delay, again), and a fix to one (say, leaving promptly on
//! stop while a connect hangs) would have missed the other. What each listener does with a
//! message, and what it says when the subscription comes and goes, stays in its own file.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

/// What a listener subscribes to: exact channels and glob patterns.
pub(crate) struct Channels<'a> {
    pub(crate) plain: &'a [String],
    pub(crate) patterns: &'a [String],
}

/// How the subscription stands, told to the listener as it changes.
pub(crate) enum Link<'e> {
    /// Subscribed: messages flow from now on (anything published before is gone).
    Up,
    /// The subscribed connection was lost; a new one follows after the delay.
    Lost,
    /// No connection could be opened; another try follows after the delay.
    Unavailable(&'e redis::RedisError),
}

/// Subscribes `client` to `channels` and hands each message to `on_message` until `stop`
/// fires (the caller's token: whoever owns the listener cancels it) or `on_message` answers
/// `false` (its receiver is gone). A lost or refused subscription is tried again after a
/// doubling delay from 200 ms to 5 s, reset by each success; `on_link` hears each change.
pub(crate) async fn resubscribing<M, F>(
    client: &redis::Client,
    channels: Channels<'_>,
    stop: &CancellationToken,
    mut on_link: impl FnMut(Link<'_>),
    mut on_message: M,
) where
    M: FnMut(redis::Msg) -> F,
    F: Future<Output = bool>,
{
    let mut delay =
        crate::backoff::Doubling::new(Duration::from_millis(200), Duration::from_secs(5));
    while !stop.is_cancelled() {
        let conn = tokio::select! {
            _ = stop.cancelled() => return,
            c = client.get_async_pubsub() => c,
        };
        match conn {
            Ok(mut sub) => {
                let plain =
                    channels.plain.is_empty() || sub.subscribe(channels.plain).await.is_ok();
                let ok = plain
                    && (channels.patterns.is_empty()
                        || sub.psubscribe(channels.patterns).await.is_ok());
                if ok {
                    delay.reset();
                    on_link(Link::Up);
                    let mut messages = sub.on_message();
                    loop {
                        let msg = tokio::select! {
                            _ = stop.cancelled() => return,
                            m = messages.next() => m,
                        };
                        let Some(msg) = msg else { break };
                        if !on_message(msg).await {
                            return;
                        }
                    }
                    on_link(Link::Lost);
                }
            }
            Err(e) => on_link(Link::Unavailable(&e)),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay.next_delay()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    /// Messages reach the listener after `Up`; its `false` ends the loop; a server that is not
    /// there yet is `Unavailable` and tried again, not an end.
    #[tokio::test]
    async fn delivers_until_the_listener_is_done_and_retries_a_missing_server() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let (plain, patterns) = (["t:plain".to_string()], ["t:pat:*".to_string()]);
        let stop = CancellationToken::new();
        let (ups, misses) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let seen = std::sync::Mutex::new(Vec::new());
        let listen = resubscribing(
            &client,
            Channels {
                plain: &plain,
                patterns: &patterns,
            },
            &stop,
            |link| match link {
                Link::Up => _ = ups.fetch_add(1, Ordering::SeqCst),
                Link::Unavailable(_) => _ = misses.fetch_add(1, Ordering::SeqCst),
                Link::Lost => {}
            },
            |msg: redis::Msg| {
                let mut seen = seen.lock().unwrap();
                seen.push(msg.get_payload::<String>().unwrap());
                std::future::ready(seen.len() < 2)
            },
        );
        let publish = async {
            // The listener's first connect fails: no server yet.
            let deadline = Instant::now() + Duration::from_secs(10);
            while misses.load(Ordering::SeqCst) == 0 {
                assert!(Instant::now() < deadline, "no failed connect reported");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let _server = crate::queue::redis::test_server::Redis::start_on(port);
            let mut conn = loop {
                match client.get_multiplexed_async_connection().await {
                    Ok(c) => break c,
                    Err(_) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(20)).await
                    }
                    Err(e) => panic!("redis did not start: {e}"),
                }
            };
            while ups.load(Ordering::SeqCst) == 0 {
                assert!(Instant::now() < deadline, "never subscribed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            for (channel, text) in [("t:plain", "one"), ("t:pat:x", "two"), ("t:plain", "three")] {
                let _: i64 = redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(text)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
            }
            _server
        };
        let (_, _server) = tokio::time::timeout(Duration::from_secs(20), async {
            tokio::join!(listen, publish)
        })
        .await
        .expect("the listener did not end after its second message");
        assert_eq!(*seen.lock().unwrap(), ["one", "two"]);
    }
}
