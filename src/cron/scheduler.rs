//! The scheduler: sleeps until the next fire instant of any entry, then adds one job per due
//! entry with the deterministic id `cron-<entry-id>-<unix-seconds>`, so any number of replicas
//! add each tick once. Policies, written down:
//! - **Overlap** (`forbid`, the default): a tick whose previous run of the same entry is still
//!   waiting, delayed or active is skipped with a warning. `allow` adds it anyway. `replace`
//!   cancels the previous run wherever it runs (a cancel request on Redis pub/sub; the run
//!   fails with "cancelled on request") or removes it if it has not started, then adds the tick.
//! - **Missed ticks**: a tick noticed more than [`LATE_LIMIT`] after its instant (the host was
//!   suspended, the clock jumped) is skipped with a warning, unless the entry has a `catch_up`
//!   window that covers it; only the latest missed tick is ever run.
//! - **Downtime**: at start, an entry with `catch_up` runs its latest tick of the window once.
//! - **Redis errors**: an add that fails is retried with backoff until the entry's next tick,
//!   then counted as missed. Every failure is logged and counted, never dropped silently. A
//!   command line's tick whose add fails runs in this daemon instead (`local.rs`,
//!   `[cron] when_store_down`).
//! - **Many entries**: the due entries of one tick are added by one task, at most
//!   [`MAX_ADDS_IN_FLIGHT`] at a time over all ticks, so 10,000 entries due at once neither
//!   spawn 10,000 tasks (each with a copy of its entry) nor queue 30,000 commands ahead of the
//!   `/health` probe. Equal schedules compute their next instant once per tick.
//!
//! Beside this file: `ticks` (which ticks of an entry fall in a window), `adds` (the permit
//! bounding adds in flight, the `replace` policy, an add bounded by the next tick),
//! `report` (the schedule rows and "run now" of the API, CLI and dashboard), `local` (command
//! ticks run in this daemon while the store is down) and `spec` (the job a tick adds).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::marks::MarkKind;
use super::plan::Plan;
use crate::config::cron_policy::CatchUpMode;
use crate::config::Config;
use crate::queue::{cron_job_id, Store};
pub(crate) use ticks::{latest_tick_between, previous_tick, ticks_between};

mod adds;
pub mod buffer;
mod fire;
mod held;
mod local;
pub use local::{LocalRuns, LocalTick};
mod spec;
pub mod success;
pub use spec::{jitter_delay, job_spec};
pub mod overlap;
pub mod report;
mod ticks;

/// Lateness beyond which a tick counts as missed rather than merely late.
pub const LATE_LIMIT: Duration = Duration::from_secs(60);

/// The most adds talking to the store at once. Enough to add 10,000 ticks within a few
/// seconds on a local Redis; few enough that a `/health` PING or an API read waits behind at
/// most this many adds (each a PING, a state read and the add).
pub const MAX_ADDS_IN_FLIGHT: usize = 16;

/// Counters, read by metrics and the API.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    /// Jobs added.
    pub fired: AtomicU64,
    /// Ticks skipped by the overlap policy.
    pub skipped: AtomicU64,
    /// Ticks missed (late, or never added because Redis failed).
    pub missed: AtomicU64,
    /// Ticks run in this daemon because the store could not take them (`local.rs`).
    pub local: AtomicU64,
    /// Gauge: ticks due and not yet added, skipped or missed.
    pub pending: AtomicU64,
    /// Gauge: adds talking to the store now (at most [`MAX_ADDS_IN_FLIGHT`]).
    pub in_flight: AtomicU64,
    /// Recent skipped and missed ticks per entry, for the timeline.
    pub marks: super::marks::TickMarks,
    /// Each entry's latest manual run ("run now"), for the overlap policy and the rows.
    pub manual: overlap::ManualRuns,
    /// Ticks skipped by overlap, per entry id: Supercronic's `deadline_exceeded` in /metrics.
    pub skipped_by_entry: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    /// Ticks held behind a running run (`buffer_one`/`buffer_all`, catch-up `all`).
    pub buffers: buffer::Buffers,
    /// Entries paused by an operator, as last read from the store.
    pub pauses: super::pauses::Pauses,
    /// Each entry's last success, for staleness (`alert_after`).
    pub successes: success::Successes,
}

impl SchedulerStats {
    /// A tick of `entry` due `at` that left no job, for `kind`: counted in its total (a pause
    /// has none) and marked on the timeline, so the two never disagree.
    pub(crate) fn no_job(&self, entry: &str, at: DateTime<Utc>, kind: MarkKind) {
        match kind {
            MarkKind::Skipped => self.skipped.fetch_add(1, Ordering::Relaxed),
            MarkKind::Missed => self.missed.fetch_add(1, Ordering::Relaxed),
            MarkKind::Paused => 0,
        };
        self.marks.note(entry, at.timestamp_millis(), kind);
    }
}

/// Runs the plan until `shutdown` fires. `plan` is swapped by `app` on reload; the new plan
/// takes effect at once, running jobs are not waited for.
pub async fn run(
    store: Store,
    config: Arc<Config>,
    mut plan: watch::Receiver<Arc<Plan>>,
    stats: Arc<SchedulerStats>,
    local: Option<Arc<dyn LocalRuns>>,
    shutdown: CancellationToken,
) {
    // Adds in flight; each retries on its own so a slow Redis never delays other entries.
    let adds = TaskTracker::new();
    let ctx = Arc::new(FireContext {
        store,
        config,
        stats,
        shutdown: shutdown.clone(),
        last_job: Mutex::new(HashMap::new()),
        missing: std::sync::atomic::AtomicBool::new(false),
        running_locally: std::sync::atomic::AtomicBool::new(false),
        local,
        permits: Arc::new(Semaphore::new(MAX_ADDS_IN_FLIGHT)),
    });
    let mut current = plan.borrow_and_update().clone();
    let mut state = EntryStates::new(&ctx, &current, Utc::now());
    fire_reboots_and_catch_ups(&ctx, &adds, &current);
    // Polls held ticks (see `buffer.rs`) only while some are held. An interval, not a sleep
    // in the select: a per-second tick would restart a sleep before it ever ended.
    let mut held_poll = tokio::time::interval(buffer::BUFFER_POLL);
    held_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Looks at the runs added (see `success.rs`); one poll at a time, from the tracker.
    let mut success_poll = tokio::time::interval(success::WATCH_POLL);
    success_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let polling = Arc::new(std::sync::atomic::AtomicBool::new(false));
    loop {
        let now = Utc::now();
        let wait = state
            .earliest()
            .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = plan.changed() => {
                if changed.is_err() { break; }
                current = plan.borrow_and_update().clone();
                state = EntryStates::new(&ctx, &current, Utc::now());
                tracing::info!(entries = current.entries.len(), "schedule reloaded");
            }
            _ = tokio::time::sleep(wait) => fire_due(&ctx, &adds, &current, &mut state, Utc::now()),
            _ = held_poll.tick(), if !ctx.stats.buffers.is_empty() => held::poll_held(&ctx, &adds, &current),
            _ = success_poll.tick() => {
                if !polling.swap(true, Ordering::AcqRel) {
                    let (ctx, polling) = (ctx.clone(), polling.clone());
                    adds.spawn(async move {
                        ctx.stats.successes.poll(&ctx.store).await;
                        polling.store(false, Ordering::Release);
                    });
                }
            }
        }
    }
    adds.close();
    adds.wait().await;
}

/// Per entry of the current plan: its next instant.
struct EntryStates {
    next: Vec<Option<DateTime<Utc>>>,
}

impl EntryStates {
    /// Also seeds the overlap memory with each entry's previous tick, so that a run started
    /// before this daemon (re)started, here or on a replica, is still respected.
    fn new(ctx: &FireContext, plan: &Plan, now: DateTime<Utc>) -> Self {
        // Equal schedules in one zone share both instants (see `TickMemo`).
        let mut memo = HashMap::new();
        let mut next = Vec::with_capacity(plan.entries.len());
        let mut last = ctx.lock_last();
        let public_url = ctx.config.public_url.as_deref();
        ctx.stats.successes.notifier.set_targets(plan, public_url);
        super::sentry_checkin::warn_without_client(plan);
        for e in &plan.entries {
            let (prev, n) = *memo
                .entry((e.schedule.as_str(), e.tz))
                .or_insert_with(|| (previous_tick(e, now), e.schedule.next_after(now, e.tz)));
            ctx.stats.successes.seen(&e.id, now.timestamp());
            if let Some(t) = prev {
                let id = last
                    .entry(e.id.clone())
                    .or_insert_with(|| cron_job_id(&e.id, t.timestamp()));
                // Its latest tick's run, if still kept, tells its last success at start.
                ctx.stats.successes.watch(&e.id, e.job_target().0, id, None);
            }
            next.push(n);
        }
        EntryStates { next }
    }

    fn earliest(&self) -> Option<DateTime<Utc>> {
        self.next.iter().flatten().min().copied()
    }
}

fn fire_reboots_and_catch_ups(ctx: &Arc<FireContext>, adds: &TaskTracker, plan: &Arc<Plan>) {
    let now = Utc::now();
    let mut batch = Vec::new();
    for (i, e) in plan.entries.iter().enumerate() {
        if e.schedule.is_reboot() {
            batch.push((i, now));
        } else if let Some(window) = e.policy.catch_up {
            let from = now - chrono::Duration::from_std(window).unwrap_or_default();
            if e.policy.catch_up_mode == CatchUpMode::All {
                ctx.hold_missed(e, &ticks_between(e, from, now, e.policy.catch_up_max));
            } else if let Some(t) = latest_tick_between(e, from, now) {
                tracing::info!(entry = e.label.as_str(), entry_id = %e.id, scheduled = %t.to_rfc3339(), "catching up a tick missed while down");
                batch.push((i, t));
            }
        }
    }
    spawn_batch(ctx, adds, plan, batch);
}

/// Per tick: the (latest due, next) instants of each distinct (schedule, zone, due) seen, so
/// 10,000 `* * * * *` entries cost two `next_after` calls, not 20,000.
type TickMemo<'p> = HashMap<(&'p str, Tz, DateTime<Utc>), (DateTime<Utc>, Option<DateTime<Utc>>)>;

fn fire_due(
    ctx: &Arc<FireContext>,
    adds: &TaskTracker,
    plan: &Arc<Plan>,
    state: &mut EntryStates,
    now: DateTime<Utc>,
) {
    let mut batch = Vec::new();
    let mut memo = TickMemo::new();
    for (i, e) in plan.entries.iter().enumerate() {
        let Some(due) = state.next[i] else { continue };
        if due > now {
            continue;
        }
        // Latest due tick; everything before it was missed (suspend, clock jump).
        let (latest, next) = *memo
            .entry((e.schedule.as_str(), e.tz, due))
            .or_insert_with(|| {
                (
                    latest_tick_between(e, due, now).unwrap_or(due),
                    e.schedule.next_after(now, e.tz),
                )
            });
        state.next[i] = next;
        let lateness = (now - latest).to_std().unwrap_or_default();
        let allowed = e.policy.catch_up.unwrap_or(Duration::ZERO).max(LATE_LIMIT);
        if latest != due {
            ctx.stats.no_job(&e.id, due, MarkKind::Missed);
            tracing::warn!(entry = e.label.as_str(), entry_id = %e.id, first_missed = %due.to_rfc3339(), "ticks missed (host suspended or clock jumped)");
            if let (Some(window), CatchUpMode::All) = (e.policy.catch_up, e.policy.catch_up_mode) {
                // Each missed tick within the window runs, one after another.
                let from = due.max(now - chrono::Duration::from_std(window).unwrap_or_default());
                ctx.hold_missed(e, &ticks_between(e, from, now, e.policy.catch_up_max));
                continue;
            }
        }
        if lateness > allowed {
            ctx.stats.no_job(&e.id, latest, MarkKind::Missed);
            tracing::warn!(entry = e.label.as_str(), entry_id = %e.id, scheduled = %latest.to_rfc3339(), late_s = lateness.as_secs(), "tick missed: too late to run");
            continue;
        }
        batch.push((i, latest));
    }
    spawn_batch(ctx, adds, plan, batch);
}

/// Adds one tick's due entries (index into `plan`, instant) from one task, at most
/// [`MAX_ADDS_IN_FLIGHT`] at a time; each add also holds a permit of the scheduler-wide
/// semaphore, so overlapping batches share the bound. The batch is 16 bytes per entry; the
/// entries themselves are borrowed from the shared plan, never copied.
fn spawn_batch(
    ctx: &Arc<FireContext>,
    adds: &TaskTracker,
    plan: &Arc<Plan>,
    batch: Vec<(usize, DateTime<Utc>)>,
) {
    if batch.is_empty() {
        return;
    }
    ctx.stats
        .pending
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    let ctx = ctx.clone();
    let plan = plan.clone();
    adds.spawn(async move {
        // One read of the store's pauses per batch: every replica sees a pause made through
        // any of them by its next tick.
        ctx.stats.pauses.refresh(&ctx.store).await;
        let batch: Vec<_> = batch
            .into_iter()
            .filter(|(i, at)| !ctx.paused(&plan.entries[*i], *at))
            .collect();
        futures::stream::iter(batch)
            .for_each_concurrent(MAX_ADDS_IN_FLIGHT, |(i, at)| {
                let (ctx, plan) = (&ctx, &plan);
                async move {
                    ctx.fire(&plan.entries[i], at).await;
                    ctx.stats.pending.fetch_sub(1, Ordering::Relaxed);
                }
            })
            .await;
    });
}

struct FireContext {
    store: Store,
    config: Arc<Config>,
    stats: Arc<SchedulerStats>,
    shutdown: CancellationToken,
    /// Entry id → id of its latest added run, for the overlap policy. Updated only when an add
    /// succeeds, so a skipped tick keeps pointing at the run that is still going.
    last_job: Mutex<HashMap<String, String>>,
    /// Set while enqueues fail, so an outage logs one line, not one per tick.
    missing: std::sync::atomic::AtomicBool,
    /// Set while ticks run locally (the store is down), for one warning per outage.
    running_locally: std::sync::atomic::AtomicBool,
    /// Runs command ticks in this daemon when the store is down (`local.rs`); `None` without
    /// a crontab pool (tests, a daemon with no command lines).
    local: Option<Arc<dyn LocalRuns>>,
    /// [`MAX_ADDS_IN_FLIGHT`] permits; each `fire` holds one while it talks to the store and
    /// gives it back while it sleeps between retries. Never closed: `None` from
    /// [`FireContext::permit`] means shutdown.
    permits: Arc<Semaphore>,
}
