//! One tick of one entry: the pause and overlap policies, then the add, retried with backoff
//! until the entry's next tick (see the policies in [`super`]'s docs).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::super::marks::MarkKind;
use super::super::plan::PlannedEntry;
use super::{adds, job_spec, overlap, FireContext};
use crate::config::Overlap;
use crate::queue::cron_job_id;

impl FireContext {
    /// `true` (the tick marked on the timeline, its pending count given back) when `e` is
    /// paused.
    pub(super) fn paused(&self, e: &PlannedEntry, at: DateTime<Utc>) -> bool {
        let Some(p) = self.stats.pauses.get(&e.id) else {
            return false;
        };
        self.stats.pending.fetch_sub(1, Ordering::Relaxed);
        self.stats.no_job(&e.id, at, MarkKind::Paused);
        tracing::info!(entry = e.label.as_str(), entry_id = %e.id, scheduled = %at.to_rfc3339(),
            note = p.note.as_deref().unwrap_or(""), "tick skipped: entry paused");
        true
    }

    pub(super) fn lock_last(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.last_job.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) async fn fire(&self, e: &PlannedEntry, at: DateTime<Utc>) {
        let Some(mut permit) = self.permit().await else {
            return;
        };
        let (queue, _) = e.job_target();
        if self.local_forbids(e, at) {
            return;
        }
        let this_id = cron_job_id(&e.id, at.timestamp());
        let previous = self
            .lock_last()
            .get(&e.id)
            .cloned()
            .filter(|p| *p != this_id);
        // The latest tick's run, and the latest manual run: both count for the policy.
        let manual = self.stats.manual.latest(&e.id).map(|(_, id)| id);
        let candidates = previous.into_iter().chain(manual);
        // Bounded like the add's probe: a store that does not answer must not hold the tick
        // back from running locally (an unknown state counts as finished, see `overlap.rs`).
        let check = overlap::unfinished(&self.store, queue, candidates);
        let unfinished = tokio::time::timeout(adds::PROBE, check)
            .await
            .ok()
            .flatten();
        // Ticks already held: a new one joins them (it must not overtake them), or under
        // `forbid` is skipped, as it would be behind the run they wait for.
        let held = self.stats.buffers.holds(&e.id);
        let unfinished = match (unfinished, held) {
            (Some(run), _) => Some(run),
            (None, true) if !matches!(e.policy.overlap, Overlap::Allow | Overlap::Replace) => {
                Some(overlap::Unfinished {
                    id: self.lock_last().get(&e.id).cloned().unwrap_or_default(),
                    state: crate::queue::JobState::Waiting,
                    retrying: None,
                })
            }
            (None, _) => None,
        };
        if let Some(run) = unfinished {
            let (prev, state) = (run.id.clone(), run.state);
            match e.policy.overlap {
                Overlap::Allow => {}
                Overlap::Forbid => {
                    self.count_skip(e, at);
                    let why = match (run.retrying, held) {
                        (_, true) => "tick skipped: missed ticks are still being caught up (overlap = forbid)",
                        // A retry pending is not a run going on: say so (see `overlap.rs`).
                        (Some(_), _) => "tick skipped: previous run waits to retry after a failure (overlap = forbid)",
                        (None, _) => "tick skipped: previous run not finished (overlap = forbid)",
                    };
                    tracing::warn!(entry = e.label.as_str(), entry_id = %e.id, previous = %prev, previous_state = %state,
                        failed_attempts = run.retrying, scheduled = %at.to_rfc3339(), "{why}");
                    return;
                }
                Overlap::BufferOne | Overlap::BufferAll => {
                    self.hold(e, at, &prev);
                    return;
                }
                Overlap::Replace => self.replace(e, queue, &prev, state).await,
            }
        }
        let spec = job_spec(&self.config, e, at);
        let deadline = e
            .schedule
            .next_after(at, e.tz)
            .unwrap_or(at + chrono::Duration::hours(1));
        let mut backoff =
            crate::backoff::Doubling::new(Duration::from_millis(250), Duration::from_secs(5));
        loop {
            // The add is bounded by the next tick: one that only goes through after it would
            // run the tick late, against the policy (missed, not delayed).
            let added = self.add_before(queue, &spec, deadline).await;
            match added {
                Ok(id) => {
                    self.note_added(e, queue, &id);
                    let was_local = self.running_locally.swap(false, Ordering::Relaxed);
                    if self.missing.swap(false, Ordering::Relaxed) || was_local {
                        tracing::info!(entry = e.label.as_str(), entry_id = %e.id, "cron enqueues succeed again");
                    }
                    tracing::info!(entry = e.label.as_str(), entry_id = %e.id, queue, job_id = %id, scheduled = %at.to_rfc3339(), "cron tick enqueued");
                    return;
                }
                // The store is unreachable: the command runs here, and the add stops (a tick
                // runs once: locally or from the queue).
                Err(err) if self.run_locally(e, at, &this_id, &err) => return,
                Err(err)
                    if Utc::now()
                        + chrono::Duration::from_std(backoff.peek()).unwrap_or_default()
                        < deadline =>
                {
                    tracing::debug!(entry = e.label.as_str(), entry_id = %e.id, queue, error = %err, "cron enqueue failed; retrying");
                }
                Err(err) => {
                    self.stats.no_job(&e.id, at, MarkKind::Missed);
                    // One error line when ticks start being missed, not one per tick.
                    if !self.missing.swap(true, Ordering::Relaxed) {
                        tracing::error!(entry = e.label.as_str(), entry_id = %e.id, queue, error = %err, scheduled = %at.to_rfc3339(),
                            "cron tick missed: could not enqueue before the next tick (further misses are counted in cronq_cron_missed_total)");
                    }
                    return;
                }
            }
            // The permit goes back while sleeping: a retrying entry must not hold up the others.
            drop(permit);
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = self.shutdown.cancelled() => return,
            }
            permit = match self.permit().await {
                Some(p) => p,
                None => return,
            };
        }
    }
}
