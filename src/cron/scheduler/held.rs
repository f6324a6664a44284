//! The scheduler's side of held ticks ([`super::buffer`]): holding a tick under
//! `buffer_one`/`buffer_all` (or skipping it when the buffer is full), holding the missed
//! ticks `catch_up_mode = "all"` runs one after another, and the poll that adds the oldest
//! held tick of each entry once the run it waits for has finished.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::task::TaskTracker;

use super::super::marks::MarkKind;
use super::super::plan::{Plan, PlannedEntry};
use super::buffer::Hold;
use super::{adds, job_spec, overlap, FireContext, LATE_LIMIT};
use crate::config::Overlap;

impl FireContext {
    /// Holds tick `at` of `e` behind run `behind` (the entry's unfinished run), or skips it
    /// when the entry's buffer is full.
    pub(super) fn hold(&self, e: &PlannedEntry, at: DateTime<Utc>, behind: &str) {
        let cap = match e.policy.overlap {
            Overlap::BufferAll => e.policy.buffer_max,
            _ => 1,
        };
        let mode = e.policy.overlap.as_str();
        match self.stats.buffers.hold(&e.id, behind, at, cap) {
            Hold::Held(n) => {
                tracing::info!(entry = e.label.as_str(), entry_id = %e.id, previous = %behind, scheduled = %at.to_rfc3339(), held = n,
                    "tick held until the previous run finishes (overlap = {mode})");
            }
            Hold::Full => {
                self.count_skip(e, at);
                tracing::warn!(entry = e.label.as_str(), entry_id = %e.id, previous = %behind, scheduled = %at.to_rfc3339(), held = cap,
                    "tick skipped: previous run not finished and {cap} tick(s) already held (overlap = {mode})");
            }
        }
    }

    /// `catch_up_mode = "all"`: the missed `ticks` (oldest first) run one after another, the
    /// first once the entry's latest known run (if any is still going) has finished.
    pub(super) fn hold_missed(&self, e: &PlannedEntry, ticks: &[DateTime<Utc>]) {
        let behind = self.lock_last().get(&e.id).cloned().unwrap_or_default();
        for t in ticks {
            // The cap is the list's own length: `catch_up_max` already bounded it.
            let _ = self
                .stats
                .buffers
                .hold(&e.id, &behind, *t, ticks.len().max(1));
        }
        if let (Some(first), Some(last)) = (ticks.first(), ticks.last()) {
            tracing::info!(entry = e.label.as_str(), entry_id = %e.id, ticks = ticks.len(), first = %first.to_rfc3339(), last = %last.to_rfc3339(),
                "catching up ticks missed while down, one after another (catch_up_mode = all)");
        }
    }

    /// Counts and marks a tick skipped by the overlap policy.
    pub(super) fn count_skip(&self, e: &PlannedEntry, at: DateTime<Utc>) {
        self.stats.no_job(&e.id, at, MarkKind::Skipped);
        *self
            .stats
            .skipped_by_entry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(e.id.clone())
            .or_default() += 1;
    }

    /// Adds held tick `at` of `e` if run `behind` has finished; tells the buffer either way.
    async fn release(&self, e: &PlannedEntry, behind: String, at: DateTime<Utc>) {
        let Some(_permit) = self.permit().await else {
            self.stats.buffers.not_added(&e.id);
            return;
        };
        let (queue, _) = e.job_target();
        let check = overlap::unfinished(&self.store, queue, [behind]);
        if let Ok(Some(_)) = tokio::time::timeout(adds::PROBE, check).await {
            self.stats.buffers.not_added(&e.id);
            return;
        }
        let spec = job_spec(&self.config, e, at);
        // The held tick is added now, so it is no later than any fresh one; the bound only
        // keeps one slow add from holding the poll.
        let deadline = Utc::now() + chrono::Duration::from_std(LATE_LIMIT).unwrap_or_default();
        match self.add_before(queue, &spec, deadline).await {
            Ok(id) => {
                self.stats.buffers.added(&e.id, at, &id);
                self.note_added(e, queue, &id);
                tracing::info!(entry = e.label.as_str(), entry_id = %e.id, queue, job_id = %id, scheduled = %at.to_rfc3339(),
                    "held cron tick enqueued (the previous run finished)");
            }
            Err(err) => {
                self.stats.buffers.not_added(&e.id);
                tracing::debug!(entry = e.label.as_str(), entry_id = %e.id, queue, error = %err, "held tick not added yet; retrying at the next poll");
            }
        }
    }
}

/// One poll of the held ticks: the oldest of each entry is added from the scheduler's task
/// tracker if the run it waits for has finished. Ticks of entries gone from `plan` (a
/// reload) are dropped.
pub(super) fn poll_held(ctx: &Arc<FireContext>, adds: &TaskTracker, plan: &Arc<Plan>) {
    ctx.stats
        .buffers
        .retain(|id| plan.entries.iter().any(|e| e.id == id));
    for (entry, behind, at) in ctx.stats.buffers.take_due() {
        let Some(i) = plan.entries.iter().position(|e| e.id == entry) else {
            ctx.stats.buffers.not_added(&entry);
            continue;
        };
        let (ctx, plan) = (ctx.clone(), plan.clone());
        adds.spawn(async move { ctx.release(&plan.entries[i], behind, at).await });
    }
}
