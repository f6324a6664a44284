//! Recycling: when a `--max-jobs`, `--max-runtime` or `--max-memory` limit is reached, the
//! daemon fires `stop`, as SIGTERM does; the drain (`super::drain`) arms its deadline as for a
//! signal, and the daemon exits 0, so an orchestrator
//! starts it fresh — the usual cure for slow leaks in handlers' dependencies.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Limits;
use crate::metrics::{rss_bytes, Metrics};
use crate::status::Status;

/// Watches the limits until one is reached (then fires `stop`, which starts the drain) or
/// `stop` fires.
pub(super) async fn watch(
    limits: Limits,
    metrics: Arc<Metrics>,
    status: Arc<Status>,
    stop: CancellationToken,
) {
    if limits == Limits::default() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Some(reason) = reached(&limits, &metrics, &status) {
            tracing::info!(%reason, "recycle limit reached: draining, then exiting 0 for a fresh start");
            stop.cancel();
            return;
        }
    }
}

fn reached(limits: &Limits, metrics: &Metrics, status: &Status) -> Option<String> {
    if let Some(n) = limits.max_jobs {
        let done = metrics.finished();
        if done >= n {
            return Some(format!("max-jobs {n} ({done} jobs run)"));
        }
    }
    if let Some(t) = limits.max_runtime {
        if status.uptime() >= t {
            return Some(format!("max-runtime {}", humantime::format_duration(t)));
        }
    }
    if let Some(mb) = limits.max_memory_mb {
        let rss = rss_bytes().unwrap_or(0) / (1024 * 1024);
        if rss >= mb {
            return Some(format!("max-memory {mb} MiB (resident {rss} MiB)"));
        }
    }
    None
}
