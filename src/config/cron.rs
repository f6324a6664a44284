//! `[cron]`, validated: how crontab command lines (and command `[[schedule]]` tables) run. They
//! replace Supercronic, so their defaults are Supercronic's, not a BullMQ worker's: one attempt
//! per tick, every entry at its time whatever `[worker] concurrency` says, and a bounded
//! history (Supercronic keeps none). `enqueue` lines are jobs of their target queue and follow
//! that queue's settings instead.

use std::num::NonZeroUsize;

use super::cron_policy::PolicySettings;
use crate::queue::{Backoff, HandlerDefaults, Retention};

/// The queue crontab command lines use unless `[cron] queue` names another.
pub const DEFAULT_CRON_QUEUE: &str = "cron";

/// Runs of crontab commands at once, unless `[cron] concurrency` says otherwise: far above
/// any crontab's entries due at one instant, so none waits for another's slot; an idle slot
/// costs nothing.
pub const DEFAULT_CRON_CONCURRENCY: usize = 256;

/// Completed runs kept per command entry by default (the queue keeps this many times the
/// number of command entries, BullMQ's count being per queue).
pub const KEEP_COMPLETED_PER_ENTRY: usize = 100;

/// How long failed runs are kept by default.
pub const KEEP_FAILED_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `[cron]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CronConfig {
    /// The queue their runs go through (`[cron] queue`, default [`DEFAULT_CRON_QUEUE`]), so
    /// services sharing one Redis can also be kept apart by name.
    pub queue: String,
    /// Runs at once in this daemon (`[cron] concurrency`, else `[queues.<queue>] concurrency`,
    /// else [`DEFAULT_CRON_CONCURRENCY`]).
    pub concurrency: NonZeroUsize,
    /// The job options of a tick's run as `[cron]` (else `[defaults]`) says them: total
    /// attempts (default 1: run once, never re-run) and the backoff between them; completed
    /// and failed runs to keep, where `None` is this room's bounded history
    /// ([`Self::keep_completed`], [`Self::keep_failed`]) rather than BullMQ's keep-all.
    pub runs: HandlerDefaults,
    /// What a command line's tick does when the store cannot take its run
    /// (`[cron] when_store_down`, default [`WhenStoreDown::Run`]).
    pub when_store_down: WhenStoreDown,
    /// Policy defaults of every entry (`[cron] overlap`, `jitter`, …): what a crontab line
    /// runs by, and what a `[[schedule]]` table does not say itself.
    pub policy: PolicySettings,
    /// `[cron] stale_fails_health`: a stale entry (past `alert_after` without a success)
    /// turns `/health` 503; off by default (it is named in the body either way).
    pub stale_fails_health: bool,
    /// `[cron.entries."KEY"]`: one crontab line's own policies, KEY being `crontab:LINE` or
    /// the entry id; with the place of the table header for errors.
    pub entries: Vec<EntryTable>,
}

/// One `[cron.entries."KEY"]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryTable {
    /// `crontab:LINE` (any file name before the colon; the line number counts) or an entry id.
    pub key: String,
    /// `FILE:LINE: [cron.entries."KEY"]`.
    pub place: String,
    /// What it says.
    pub policy: PolicySettings,
}

impl EntryTable {
    /// Whether this table is about the crontab line `line` whose entry id is `id`.
    pub fn matches(&self, line: usize, id: &str) -> bool {
        if self.key == id {
            return true;
        }
        self.key
            .rsplit_once(':')
            .and_then(|(_, n)| n.parse::<usize>().ok())
            .is_some_and(|n| n == line)
    }
}

/// `[cron] when_store_down`: what a crontab command line's tick does when its add fails (the
/// store is unreachable). `enqueue` lines cannot run without the store whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenStoreDown {
    /// Run the command in this daemon at once, as Supercronic would (it needs no store): a
    /// monitoring or backup line keeps running through a Redis outage. The default, because a
    /// line that silently stops is worse than one that runs once per live replica.
    #[default]
    Run,
    /// Count the tick missed, as before (for lines that must never run on two replicas).
    Skip,
    /// Run locally only if no other live daemon vouched for the entry at the last contact
    /// with the store (a lone daemon behaves as `Run`); otherwise count the tick missed, so
    /// replicas sharing a crontab do not each run it during an outage.
    RunIfAlone,
}

impl Default for CronConfig {
    fn default() -> Self {
        CronConfig {
            queue: DEFAULT_CRON_QUEUE.into(),
            concurrency: NonZeroUsize::new(DEFAULT_CRON_CONCURRENCY).unwrap_or(NonZeroUsize::MIN),
            runs: HandlerDefaults {
                attempts: 1,
                backoff: Backoff::Exponential(std::time::Duration::from_secs(5)),
                remove_on_complete: None,
                remove_on_fail: None,
            },
            when_store_down: WhenStoreDown::Run,
            policy: PolicySettings::default(),
            entries: Vec::new(),
            stale_fails_health: false,
        }
    }
}

impl CronConfig {
    /// Completed runs kept when a plan has `commands` command entries.
    pub fn keep_completed(&self, commands: usize) -> Retention {
        self.runs.remove_on_complete.unwrap_or(Retention::Keep {
            count: Some(KEEP_COMPLETED_PER_ENTRY * commands.max(1)),
            age: None,
        })
    }

    /// Failed runs kept.
    pub fn keep_failed(&self) -> Retention {
        self.runs.remove_on_fail.unwrap_or(Retention::Keep {
            count: None,
            age: Some(KEEP_FAILED_FOR),
        })
    }
}
