//! What one add says to the store, apart from the retry loop in [`super::FireContext`]'s
//! `fire`: the permit that bounds adds in flight, the `replace` overlap policy, and an add that
//! is only issued while it can still land before the entry's next tick.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::OwnedSemaphorePermit;

use super::super::plan::PlannedEntry;
use super::{FireContext, SchedulerStats};
use crate::queue::{JobSpec, JobState};

/// How long the store gets to answer a tick's first question (the overlap check, the PING
/// before the add) before it counts as unreachable.
pub(super) const PROBE: Duration = Duration::from_millis(500);

/// A permit to talk to the store, counted in [`SchedulerStats::in_flight`] while held.
pub(super) struct AddPermit<'a> {
    _permit: OwnedSemaphorePermit,
    stats: &'a SchedulerStats,
}

impl Drop for AddPermit<'_> {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl FireContext {
    /// Waits for a permit to talk to the store; `None` once shutdown fires.
    pub(super) async fn permit(&self) -> Option<AddPermit<'_>> {
        let permit = tokio::select! {
            p = self.permits.clone().acquire_owned() => p.ok()?,
            _ = self.shutdown.cancelled() => return None,
        };
        self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(AddPermit {
            _permit: permit,
            stats: &self.stats,
        })
    }

    /// `overlap = "replace"`: a running previous run is cancelled wherever it runs (its job
    /// fails with "cancelled on request"); one not yet started is removed.
    pub(super) async fn replace(&self, e: &PlannedEntry, queue: &str, prev: &str, state: JobState) {
        let result = if state == JobState::Active {
            self.store.cancel_replaced_run(queue, prev).await
        } else {
            self.store
                .remove_job(queue, prev)
                .await
                .map_err(|err| crate::queue::Error::Engine {
                    queue: queue.into(),
                    message: err.to_string(),
                })
        };
        match result {
            Ok(()) => {
                tracing::info!(entry = e.label.as_str(), entry_id = %e.id, previous = %prev, previous_state = %state, "replacing the previous run (overlap = replace)")
            }
            Err(err) => {
                tracing::warn!(entry = e.label.as_str(), entry_id = %e.id, previous = %prev, error = %err, "could not replace the previous run; adding the new one anyway")
            }
        }
    }

    /// Adds `spec` only if that can happen before `deadline`. A command given to a client that
    /// is reconnecting is sent once it reconnects, even if we stopped waiting, so the add is
    /// issued only after a PING shows Redis answering now: a tick is never added late.
    pub(super) async fn add_before(
        &self,
        queue: &str,
        spec: &JobSpec,
        deadline: DateTime<Utc>,
    ) -> Result<String, String> {
        let left = (deadline - Utc::now()).to_std().unwrap_or_default();
        let probe = left.min(PROBE);
        match tokio::time::timeout(probe, self.store.ping()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("the store does not answer".into()),
        }
        let left = (deadline - Utc::now()).to_std().unwrap_or_default();
        // `timeout` polls its future once even when no time is left, and that first poll
        // already hands the add to the connection: after an outage (the probe answered only
        // once Redis was back, past this tick's deadline) the stale tick would land late.
        if left.is_zero() {
            return Err("the store answered only after the next tick was due".into());
        }
        // One span per add that reaches the store, when traces are on (`telemetry::otel`).
        let id = spec.job_id.as_deref().unwrap_or_default();
        let span = crate::telemetry::otel::enqueue_span(queue, &spec.name, id);
        let added = match tokio::time::timeout(left, self.store.add(queue, spec.clone())).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("no answer before the next tick".into()),
        };
        if let Some(span) = span {
            span.end(added.as_ref().err().map(String::as_str));
        }
        added
    }

    /// After `e`'s tick was added as job `id`: the entry's last run, the success watch and
    /// the count, the same whether the tick was added on time or after being held.
    pub(super) fn note_added(&self, e: &PlannedEntry, queue: &str, id: &str) {
        self.lock_last().insert(e.id.clone(), id.to_string());
        self.stats
            .successes
            .watch(&e.id, queue, id, e.policy.ping.as_deref().map(|p| (p, e)));
        self.stats.fired.fetch_add(1, Ordering::Relaxed);
    }
}
