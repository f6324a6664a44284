//! Outcomes the engine failed to write, finished by cronq with the job's lock token.
//!
//! After an engine error (within one lock duration), `finish.rs` proves the lock is ours (and
//! revives a dead connection) just before a job's outcome goes back to the engine; in steady
//! state it is skipped, since it costs a script call per job (issue 18: it halved throughput at
//! concurrency 1). Either way Redis can die between the hand-back and the engine's own
//! `moveToFinished` / retry script. The engine then logs the failure, tells us only
//! `WorkerEvent::Error(text)` (no job id; a failed failure-write is followed by `Failed{id}`),
//! stops renewing the lock, and forgets the job: it stayed `active` until its lock expired and
//! stalled checks ran it a second time.
//!
//! So every outcome handed back is remembered here until the engine reports it written:
//! - `Completed{id}` is sent only after a successful write: the entry goes.
//! - `Failed{id}` is sent whether or not the write worked, but a failed write sends `Error`
//!   first (same task, same channel): with no error seen since the hand-back, the entry goes.
//! - An `Error` makes every entry handed back before it a suspect. The repair task (one per
//!   consumer, woken by the error) gives the engine's events a moment to clear the entries whose
//!   writes did work, then sends one `GET` of each suspect's lock key. A lock still holding our
//!   token means the outcome was not written (every finishing script deletes the lock): cronq
//!   writes it with the engine job's own methods, which run BullMQ's scripts with the token. Those
//!   scripts are atomic and check the token, so a late engine write and ours cannot both land:
//!   the job is finished once. A lock that is gone or not ours: written, or lost to stalled
//!   recovery (another worker owns the job); nothing to do.
//! - While Redis does not answer, suspects are retried with backoff.
//!
//! - Once the suspects are settled, `orphans.rs` returns jobs whose fetch reply was lost (the
//!   same outage, on the other side of a job's life); it needs the ids `run_one` is running,
//!   which this map also keeps.
//!
//! Why this shape: the normal path costs no Redis command (the map is in memory, and commands
//! per job are a measured cost), and the rare path one `GET` per suspect per error burst. The
//! outcome is written with the engine job's public methods because the engine's own finishing
//! code is private; `finish::write` adds a command only where those methods differ from it.
//!
//! Bound: nobody renews the lock once the engine gave up on the job, so an entry older than
//! `lock_duration` can (all but) never be finished with its token; it is dropped (with a
//! warning if it was still unwritten) and stalled recovery owns the job. The map therefore holds at most the jobs finished within
//! one lock duration, and normally only the few whose events are in flight.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bullmq::Job;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::finish::{self, Unwritten};
use super::keys::QueueKeys;
use super::run_claim::Attempt;
use super::RedisStore;
use crate::backoff::Doubling;

/// How long the engine's events get to clear entries whose writes worked before suspects are
/// checked (each check is a Redis command; most suspects are cleared by then).
const SETTLE: Duration = Duration::from_millis(100);

/// The outcomes of one consumer's jobs, from the hand-back to the engine's report.
/// Shared by `run_one` (records), `forward_events` (clears, marks errors) and [`repair`].
pub(crate) struct HandedBack {
    state: Mutex<State>,
    /// Notified by [`HandedBack::errored`] (from `forward_events`); awaited by [`repair`] only.
    /// A notification with nobody waiting is kept, so an error during a repair round is not lost.
    wake: Notify,
    /// Notified when a run leaves `run_one` (every [`Running`] drop); awaited by a second
    /// copy of the same id (`duplicate.rs`), which holds its slot until the first run ends.
    done: Notify,
    lock_duration: Duration,
}

struct State {
    /// Order of hand-backs and errors (one counter, so "before the error" is exact).
    seq: u64,
    /// `seq` when the last engine error arrived: entries at or below it are suspects.
    error_seq: u64,
    /// When the last engine error arrived (see [`HandedBack::troubled`]).
    error_at: Option<Instant>,
    jobs: HashMap<String, Entry>,
    /// Ids inside `run_one` now, with the lock token each was fetched with (see [`Running`]).
    running: HashMap<String, String>,
}

/// A job inside `run_one`: listed in the map until dropped (every return path, panics included).
pub(crate) struct Running<'a> {
    handed: &'a HandedBack,
    id: String,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.handed.lock().running.remove(&self.id);
        // Wakes a second copy of the same id waiting for this run to end (`duplicate.rs`).
        self.handed.done.notify_waiters();
    }
}

#[derive(Clone)]
struct Entry {
    job: Job,
    outcome: Unwritten,
    seq: u64,
    at: Instant,
}

impl HandedBack {
    /// An empty map for a consumer whose jobs hold locks of `lock_duration`.
    pub(crate) fn new(lock_duration: Duration) -> Arc<HandedBack> {
        Arc::new(HandedBack {
            state: Mutex::new(State {
                seq: 0,
                error_seq: 0,
                error_at: None,
                jobs: HashMap::new(),
                running: HashMap::new(),
            }),
            wake: Notify::new(),
            done: Notify::new(),
            lock_duration,
        })
    }

    /// `id`, fetched with `token`, is inside `run_one` until the returned guard drops.
    /// `Err(first token)` when the id is already running here: a second copy of it was
    /// fetched (`duplicate.rs`).
    pub(crate) fn running(&self, id: &str, token: &str) -> Result<Running<'_>, String> {
        let mut state = self.lock();
        if let Some(first) = state.running.get(id) {
            return Err(first.clone());
        }
        state.running.insert(id.to_string(), token.to_string());
        drop(state);
        Ok(Running {
            handed: self,
            id: id.to_string(),
        })
    }

    /// Returns once `id` is no longer inside `run_one`.
    pub(crate) async fn until_done(&self, id: &str) {
        loop {
            let done = self.done.notified();
            tokio::pin!(done);
            // Registered before the check, so a drop between the two is not missed.
            done.as_mut().enable();
            if !self.lock().running.contains_key(id) {
                return;
            }
            done.await;
        }
    }

    /// `job`'s `outcome` goes to the engine now. Jobs without a token (never fetched by a
    /// worker) are not remembered: nothing could be written for them with a token.
    pub(crate) fn record(&self, job: Job, outcome: Unwritten) {
        if job.token().is_none() {
            return;
        }
        let now = Instant::now();
        let mut state = self.lock();
        state.seq += 1;
        let seq = state.seq;
        let lock_duration = self.lock_duration;
        // Normally empty by now; bounded by the lock duration whatever the engine reports.
        state
            .jobs
            .retain(|_, e| now.duration_since(e.at) < lock_duration);
        state.jobs.insert(
            job.id().to_string(),
            Entry {
                job,
                outcome,
                seq,
                at: now,
            },
        );
    }

    /// The engine wrote `id`'s completion.
    pub(crate) fn completed(&self, id: &str) {
        self.lock().jobs.remove(id);
    }

    /// The engine tried to write `id`'s failure or retry: written unless an error came since.
    pub(crate) fn failed(&self, id: &str) {
        let mut state = self.lock();
        let error_seq = state.error_seq;
        if state.jobs.get(id).is_some_and(|e| e.seq > error_seq) {
            state.jobs.remove(id);
        }
    }

    /// The engine reported an error: whatever was handed back before it may be unwritten.
    /// Also wakes the orphan check, which matters even with nothing handed back.
    pub(crate) fn errored(&self) {
        let mut state = self.lock();
        state.error_seq = state.seq;
        state.error_at = Some(Instant::now());
        drop(state);
        self.wake.notify_one();
    }

    /// Whether the engine reported an error within the last lock duration: then `run_one`
    /// checks each job's lock (reviving a dead connection) before handing its outcome back,
    /// so writes after an outage take the engine's exact path rather than this repair.
    pub(crate) fn troubled(&self) -> bool {
        self.lock()
            .error_at
            .is_some_and(|at| at.elapsed() < self.lock_duration)
    }

    /// Suspects still within their lock duration; older ones are dropped here.
    fn suspects(&self, queue: &str) -> Vec<(String, Entry)> {
        let now = Instant::now();
        let mut state = self.lock();
        let error_seq = state.error_seq;
        let lock_duration = self.lock_duration;
        state.jobs.retain(|id, e| {
            let alive = now.duration_since(e.at) < lock_duration;
            if !alive && e.seq <= error_seq {
                tracing::warn!(queue, job_id = %id.escape_debug(),
                    "the job's outcome could not be written within its lock; stalled recovery owns it");
            }
            alive
        });
        state
            .jobs
            .iter()
            .filter(|(_, e)| e.seq <= error_seq)
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect()
    }

    /// Drops `id`'s entry if it is still the one handed back as `seq` (a later run of the same
    /// job keeps its own).
    fn settled(&self, id: &str, seq: u64) {
        let mut state = self.lock();
        if state.jobs.get(id).is_some_and(|e| e.seq == seq) {
            state.jobs.remove(id);
        }
    }

    /// Entries still remembered (tests watch the map drain).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned map is still a valid map.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Finishes the outcomes the engine failed to write, then returns orphaned fetches of engine
/// worker `engine_id` to `wait`, each time an engine error wakes it. Runs until aborted (by
/// `forward_events` when the engine closes).
pub(crate) async fn repair(
    handed: Arc<HandedBack>,
    store: RedisStore,
    queue: String,
    engine_id: String,
) {
    let keys = QueueKeys::new(store.prefix(), &queue);
    loop {
        handed.wake.notified().await;
        let mut delay = Doubling::new(SETTLE, Duration::from_secs(1));
        loop {
            tokio::time::sleep(delay.next_delay()).await;
            let suspects = handed.suspects(&queue);
            let mut unreachable = false;
            for (id, entry) in &suspects {
                match settle(&store, &keys, &queue, id, entry, handed.lock_duration).await {
                    Some(()) => handed.settled(id, entry.seq),
                    None => unreachable = true,
                }
            }
            if !unreachable {
                break;
            }
        }
        // Redis answers (or nothing was pending). An orphan's lock must age past a fresh
        // fetch's first: wait that long, then look once. Redis away again: the next error
        // wakes this loop again.
        tokio::time::sleep(super::orphans::MIN_AGE).await;
        // Held here: inside `run_one`, or handed back with the engine's write pending (its lock
        // also ages; moving it would let the job run twice).
        let running = {
            let state = handed.lock();
            let mut ids: HashSet<String> = state.running.keys().cloned().collect();
            ids.extend(state.jobs.keys().cloned());
            ids
        };
        match super::orphans::release(&store, &queue, &engine_id, &running, handed.lock_duration)
            .await
        {
            Ok(ids) if !ids.is_empty() => tracing::warn!(queue = %queue, jobs = ?ids,
                "jobs fetched just before Redis went away never reached this worker; moved back to wait"),
            Ok(_) => {}
            Err(e) => tracing::debug!(queue = %queue, error = %e, "orphan check failed"),
        }
    }
}

/// One suspect: `Some` when it needs nothing more (written by the engine or by us, or not ours
/// any more), `None` when Redis did not answer (try again).
async fn settle(
    store: &RedisStore,
    keys: &QueueKeys,
    queue: &str,
    id: &str,
    entry: &Entry,
    lock_duration: Duration,
) -> Option<()> {
    let token = entry.job.token()?;
    let mut cmd = redis::cmd("GET");
    cmd.arg(keys.lock(id));
    let get = store.inner.conn.cmd::<Option<Vec<u8>>>(&mut cmd);
    // Bounded: a Redis that hangs answers nothing, not even an error.
    let lock = match tokio::time::timeout(Duration::from_secs(2), get).await {
        Ok(Ok(lock)) => lock,
        Ok(Err(_)) | Err(_) => return None,
    };
    if lock.as_deref() != Some(token.as_bytes()) {
        // A duplicate copy fetched while this run went unclaimed overwrote the lock and marked
        // itself (run_claim.rs): the lock is taken back, and the outcome written below.
        let made = entry.job.attempts_made() as u64;
        let attempt = Attempt {
            queue,
            id,
            token,
            made,
        };
        let owned = store.own_run(&attempt, lock_duration);
        if !tokio::time::timeout(Duration::from_secs(2), owned)
            .await
            .ok()?
            .ok()?
        {
            // Written, taken by another worker — or the finish died half-way and left the job
            // in no state: `rescue.rs` tells these apart and keeps the job.
            return store.rescue(queue, id, entry.outcome.what()).await.ok();
        }
    }
    match finish::write(store, queue, &entry.job, &entry.outcome).await {
        Ok(()) => {
            tracing::info!(queue, job_id = %id.escape_debug(),
                "the engine could not write the job's outcome; written with the job's lock");
            Some(())
        }
        // The scripts refuse a lock that is no longer ours or a job no longer active: the
        // engine's late write landed, or another worker owns the job now.
        Err(bullmq::Error::Script { .. }) | Err(bullmq::Error::JobLocked(_)) => Some(()),
        Err(e) => {
            tracing::debug!(queue, job_id = %id.escape_debug(), error = %e,
                "writing the job's outcome failed; retrying");
            None
        }
    }
}

#[cfg(test)]
mod tests;
