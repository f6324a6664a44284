//! Local runs during a store outage (`[cron] when_store_down = "run"`, the default): a command
//! line's tick whose add fails runs in this daemon at once instead of being missed, so a
//! monitoring `curl` or a backup line keeps running while Redis is down, as under Supercronic.
//! The scheduler only decides; what runs, and how shutdown waits for it, is the worker's
//! ([`LocalRuns`], implemented by `worker::local`). Rules, written down:
//! - Only command lines: an `enqueue` line's target is the store, so it keeps the missed rule.
//! - A tick runs locally only after its add failed, and its add is not retried afterwards, so
//!   a tick runs locally or from the queue, never both (unless Redis took the add and died
//!   before answering; the reply is lost and the add is not retried, see README).
//! - The entry's `overlap` policy holds over local runs too: under `forbid` a tick is skipped
//!   while the entry's local run goes on, also once the store is back.
//! - Each daemon decides alone (the store that would coordinate them is down), so replicas
//!   sharing a crontab each run the line during an outage, as replicas of Supercronic would.
//!   With `"run_if_alone"` a daemon runs an entry locally only if no other live daemon
//!   vouched for it at the last contact (`worker/claims.rs`); otherwise the tick is missed.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};

use super::super::marks::MarkKind;
use super::super::plan::{Action, PlannedEntry};
use super::FireContext;
use crate::config::cron::WhenStoreDown;
use crate::config::Overlap;
use crate::queue::Retention;

/// Runs crontab command entries in this daemon, without the store. Held by the scheduler
/// (`FireContext`); the worker's side owns the runs and shutdown waits for them.
pub trait LocalRuns: Send + Sync {
    /// Whether a local run of `entry_id` is going on now.
    fn running(&self, entry_id: &str) -> bool;
    /// Whether another live daemon vouched for `entry_id` at the last contact with the store.
    fn others_alive(&self, entry_id: &str) -> bool;
    /// Starts `tick`'s command; `false` when this daemon has no command for the entry (or is
    /// shutting down).
    fn start(&self, tick: LocalTick<'_>) -> bool;
}

/// One tick to run in this daemon: what the add that failed would have put in the store.
pub struct LocalTick<'a> {
    /// The entry, whose command it runs.
    pub entry_id: &'a str,
    /// The tick's deterministic job id (the same run id the queue would have had).
    pub job_id: &'a str,
    /// Its job data.
    pub data: serde_json::Value,
    /// Cancel the entry's local run still going first (`overlap = replace`).
    pub replace: bool,
    /// The retention of its completed and failed runs, applied when the run is recorded in
    /// the store later.
    pub keep: (Retention, Retention),
}

impl FireContext {
    /// `true` (and the tick counted skipped) when `e`'s local run still goes on under
    /// `overlap = "forbid"`: a run started during an outage counts for the policy like a
    /// queued one, also for the first ticks after the store is back.
    pub(super) fn local_forbids(&self, e: &PlannedEntry, at: DateTime<Utc>) -> bool {
        let busy = self.local.as_ref().is_some_and(|l| l.running(&e.id));
        // The buffering modes skip too while the store is down: a held tick waits on a run
        // in the store, and there is none to wait on.
        let waits = matches!(
            e.policy.overlap,
            Overlap::Forbid | Overlap::BufferOne | Overlap::BufferAll
        );
        if !busy || !waits {
            return false;
        }
        self.stats.no_job(&e.id, at, MarkKind::Skipped);
        tracing::warn!(entry = e.label.as_str(), entry_id = %e.id, scheduled = %at.to_rfc3339(),
            "tick skipped: previous run (run locally while the store was down) not finished (overlap = forbid)");
        true
    }

    /// After `e`'s add for tick `at` failed with `error`: runs it locally when the settings
    /// allow; `true` if it started (the caller then stops retrying the add).
    pub(super) fn run_locally(
        &self,
        e: &PlannedEntry,
        at: DateTime<Utc>,
        job_id: &str,
        error: &str,
    ) -> bool {
        let Some(local) = &self.local else {
            return false;
        };
        if !matches!(e.action, Action::Command { .. }) {
            return false;
        }
        match self.config.cron.when_store_down {
            WhenStoreDown::Run => {}
            WhenStoreDown::Skip => return false,
            // Another daemon held the entry at the last contact: it may well run the line
            // (or be the one that still reaches Redis), so this one leaves the tick missed.
            WhenStoreDown::RunIfAlone if local.others_alive(&e.id) => return false,
            WhenStoreDown::RunIfAlone => {}
        }
        let data = serde_json::json!({
            "entry": e.id,
            "source": e.place,
            "scheduled": at.to_rfc3339(),
            "local": true,
        });
        // The retention its queued runs would get (bounded by default), for when it is
        // recorded in the store once the store answers again.
        let keep = e
            .runs
            .as_ref()
            .map_or((Retention::KeepAll, Retention::KeepAll), |r| {
                (
                    r.remove_on_complete.unwrap_or(Retention::KeepAll),
                    r.remove_on_fail.unwrap_or(Retention::KeepAll),
                )
            });
        let tick = LocalTick {
            entry_id: &e.id,
            job_id,
            data,
            replace: e.policy.overlap == Overlap::Replace,
            keep,
        };
        if !local.start(tick) {
            return false;
        }
        self.stats.local.fetch_add(1, Ordering::Relaxed);
        // One warning when the outage starts; each run is logged at info by the worker.
        if !self.running_locally.swap(true, Ordering::Relaxed) {
            tracing::warn!(entry = e.label.as_str(), entry_id = %e.id, job_id, error, scheduled = %at.to_rfc3339(),
                "store unreachable: crontab commands run in this daemon until it answers again ([cron] when_store_down = \"run\" or \"run_if_alone\"; set \"skip\" to count these ticks missed instead)");
        }
        true
    }
}
