//! The store's one stalled-check task (see `stalled.rs`): when each queue is due, the gate that
//! keeps an idle store at one command per interval, and what runs where the gate finds work.

use std::time::Duration;

use tokio::time::Instant;

use super::{CheckOpts, RedisStore};
use crate::queue::redis::keys::QueueKeys;

/// Checks the registered queues until none is left. Spawned by `watch_stalled`; ends itself.
pub(super) async fn run(store: RedisStore) {
    let checker = &store.inner.stalled;
    let mut next_tick: Option<Instant> = None;
    loop {
        let (due, wake_at) = {
            let mut reg = checker.lock();
            if reg.queues.is_empty() {
                reg.running = false;
                return;
            }
            let now = Instant::now();
            // One tick for every queue (so one gate covers them all), as often as the most
            // frequent of them asks. A queue joining gets its first check at once, alone.
            let period = reg
                .queues
                .values()
                .map(|e| e.opts.interval)
                .min()
                .unwrap_or(Duration::from_secs(30))
                .max(Duration::from_millis(100));
            let ticked = next_tick.is_none_or(|t| now >= t);
            if ticked {
                next_tick = Some(now + period);
            }
            let mut due = Vec::new();
            for (queue, e) in reg.queues.iter_mut() {
                // Half a period of slack: queues registered a few ms apart stay on one tick.
                let is_due = match e.last {
                    None => true,
                    Some(last) => ticked && last + e.opts.interval <= now + period / 2,
                };
                if is_due {
                    e.last = Some(now);
                    due.push((queue.clone(), e.opts));
                }
            }
            (due, next_tick.unwrap_or(now + period))
        };
        if !due.is_empty() {
            check(&store, &due).await;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake_at) => {}
            // A queue joined (check it now) or left (perhaps the last: end).
            _ = checker.changed.notified() => {}
        }
    }
}

/// The queues of `due` that may have work: `(queue, opts, stalled work, sweep work)`.
type Work = (String, CheckOpts, bool, bool);

/// Checks `due`: the gate, then per queue only what it found.
async fn check(store: &RedisStore, due: &[(String, CheckOpts)]) {
    for (queue, opts, stalled, sweep) in gate(store, due).await {
        if sweep {
            // Delayed ids due before the check after next, so a non-hash one is caught before
            // the engine's promotion meets it (see `quarantine.rs`). Redis unreachable: the
            // fetch loop reports it; next tick tries again.
            let _ = store
                .quarantine(&queue, None, Some(opts.interval * 2))
                .await;
        }
        if stalled {
            if let Err(e) = store.check_stalled(&queue, opts).await {
                tracing::debug!(queue = %queue, error = %e, "stalled check failed; next tick retries");
            }
        }
    }
}

/// Which of `due` have anything in `active` or `stalled` (the stalled check's work) or in
/// `active` or `delayed` (the quarantine sweep's). Idle, this is ONE `EXISTS` over all their
/// keys, on a Cluster too: there the prefix must carry a `{hash tag}` (`config::redis_topology`
/// refuses one without), so every queue's keys hash to the prefix's one slot. Only when it
/// counts something is each queue asked (two `EXISTS` in one round trip). A Redis error counts
/// as work: the scripts then run, and fail, as before.
async fn gate(store: &RedisStore, due: &[(String, CheckOpts)]) -> Vec<Work> {
    let conn = &store.inner.conn;
    let keys: Vec<QueueKeys> = due
        .iter()
        .map(|(q, _)| QueueKeys::new(store.prefix(), q))
        .collect();
    let mut all = redis::cmd("EXISTS");
    for k in &keys {
        all.arg(k.active()).arg(k.key("stalled")).arg(k.delayed());
    }
    if matches!(conn.cmd::<i64>(&mut all).await, Ok(0)) {
        return Vec::new();
    }
    let mut work = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let mut pipe = redis::pipe();
        pipe.cmd("EXISTS").arg(k.active()).arg(k.key("stalled"));
        pipe.cmd("EXISTS").arg(k.active()).arg(k.delayed());
        let (stalled, sweep) = match conn.pipe::<(i64, i64)>(&pipe).await {
            Ok((s, d)) => (s > 0, d > 0),
            Err(_) => (true, true),
        };
        if stalled || sweep {
            work.push((due[i].0.clone(), due[i].1, stalled, sweep));
        }
    }
    work
}
