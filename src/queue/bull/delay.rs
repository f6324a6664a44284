//! The delay timer of a consumed Bull queue: moves delayed jobs to `wait` when they fall due
//! (promote.lua), sleeping until the next due time in between. Bull producers (and cronq's own
//! add and backoff) announce each delayed job's due time on the queue's `delayed` channel; the
//! queue's [`super::bus`] hands those to this timer, which re-arms when one is earlier than
//! what it waits for. So an idle queue with no delayed jobs costs Redis nothing here.
//!
//! Announcements made while the subscription was down are lost, so the bus sends "look now"
//! (`0`) after every (re)subscription, and the timer re-reads Redis when it falls behind the
//! announcements. Without a subscription at all (Redis Cluster) it looks every `POLL`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::context::Loop;
use super::scripts;
use crate::queue::consumer::now_ms;
use crate::queue::error::Error;

/// How often to look for due jobs without a subscription, or after a failed look.
const POLL: Duration = Duration::from_millis(500);

/// Runs until `stop` fires (held by the queue's consumer).
pub(super) async fn delay_loop(ctx: Arc<Loop>, stop: CancellationToken) {
    let bus = ctx.store.bus(&ctx.queue);
    // Subscribed before the first look: an announcement after it is not missed.
    let mut announced = bus.as_ref().map(|b| b.shared.delayed.subscribe());
    // The due time (ms) of the next delayed job; `None` when there is none.
    let mut next_due: Option<u64> = Some(0);
    loop {
        let now = now_ms();
        if next_due.is_some_and(|due| due <= now) {
            next_due = match promote(&ctx, now).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(queue = %ctx.queue, error = %e, "promoting delayed jobs failed; retrying");
                    Some(now + POLL.as_millis() as u64)
                }
            };
            continue;
        }
        let until_due = next_due
            .map(|due| Duration::from_millis(due.saturating_sub(now)))
            .unwrap_or(Duration::MAX);
        let Some(rx) = announced.as_mut() else {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(until_due.min(POLL)) => {}
            }
            next_due = Some(0);
            continue;
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = sleep_up_to(until_due) => {}
            msg = rx.recv() => match msg {
                Ok(due) => next_due = Some(next_due.map_or(due, |n| n.min(due))),
                // Fell behind the announcements: ask Redis instead.
                Err(RecvError::Lagged(_)) => next_due = Some(0),
                // The bus is gone (the store is closing): fall back to looking now and then.
                Err(RecvError::Closed) => announced = None,
            },
        }
    }
}

/// Sleeps `d`, or forever for `Duration::MAX` (no delayed job is known).
async fn sleep_up_to(d: Duration) {
    if d == Duration::MAX {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(d).await;
}

/// Moves the due jobs; returns the due time of the next one.
async fn promote(ctx: &Loop, now: u64) -> Result<Option<u64>, Error> {
    let k = &ctx.keys;
    let keys = ["delayed", "wait", "paused", "meta-paused", "priority"];
    let mut inv = k.script(&scripts::PROMOTE, &keys);
    inv.arg(k.base()).arg(now).arg(&ctx.store.token);
    ctx.store.run(&ctx.queue, &inv).await
}
