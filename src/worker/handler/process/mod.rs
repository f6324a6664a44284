//! Persistent handlers (`process = { … }`, `node = { … }`): long-lived processes that take
//! jobs one at a time over the line protocol (`protocol.rs`, docs/process-protocol.md), so a
//! program with an expensive start (a Nest application context, a PHP framework) pays it once
//! per process instead of once per job.
//!
//! How many run: the queue's concurrency bounds the jobs running at once, as for every
//! handler; `instances` bounds this handler's processes. Processes start on demand, so without
//! `instances` there are at most as many as the queue's concurrency (one per running job, as
//! BullMQ's sandboxed processors have one child per concurrent job); with `instances` below
//! the concurrency, jobs wait for a free process, and the wait counts toward their timeout.
//!
//! A process that crashes, hangs past the job's timeout (or the drain's cut-off), breaks the
//! protocol, or passes `max_jobs`/`max_memory` is dropped, which ends its process group; the
//! next job starts a fresh one. Its job fails by the usual rules: a crash or timeout is
//! retryable, an `unrecoverable` error or a broken protocol line is not.

mod child;
mod memory;
pub mod node;
pub mod protocol;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::sync::Semaphore;

use super::{JobError, PrintingRun, RunResult, KILL_GRACE};
use crate::config::{EnvPolicy, ProcessProgram, ProcessSpec};
use child::{After, Proc};

/// Process groups of every persistent handler process alive, for [`stop_all`]. Process-wide
/// like PIDs; each [`Proc`] adds its own at start and removes it once its group is gone.
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn live() -> MutexGuard<'static, BTreeSet<i32>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The pool of one persistent handler.
#[derive(Debug)]
pub struct Pool {
    spec: ProcessSpec,
    policy: EnvPolicy,
    label: Arc<str>,
    /// Processes waiting for a job; a run takes one out and puts it back when it may stay.
    idle: Mutex<Vec<Proc>>,
    /// `instances`: a run holds one permit while it owns a process (taken or started).
    slots: Option<Semaphore>,
}

impl Pool {
    /// A pool for `spec`; no process starts before the first job.
    pub fn new(spec: ProcessSpec, policy: EnvPolicy) -> Pool {
        let label: Arc<str> = Arc::from(spec.label.as_str());
        Pool {
            slots: spec.instances.map(|n| Semaphore::new(n.get())),
            spec,
            policy,
            label,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `run`'s job on an idle process, or a new one.
    pub async fn run(&self, run: PrintingRun<'_>) -> RunResult {
        let cancel = run.cancel;
        let _slot = match &self.slots {
            Some(s) => tokio::select! {
                p = s.acquire() => Some(p.map_err(|_| JobError::Retryable("handler closed".into()))?),
                _ = cancel.cancelled() => return Err(JobError::Cancelled),
            },
            None => None,
        };
        let taken = self.idle().pop();
        let mut proc = match taken {
            Some(p) => p,
            None => self.start()?,
        };
        let (result, after) = proc.run(run).await;
        if after == After::Keep && self.may_stay(&proc) {
            self.idle().push(proc);
        } else {
            tracing::debug!(handler = %self.label, jobs = proc.jobs, "replacing a handler process");
            drop(proc);
        }
        result
    }

    fn start(&self) -> Result<Proc, JobError> {
        match &self.spec.program {
            ProcessProgram::Shell { command } => Proc::start(
                "/bin/sh",
                &["-c".into(), command.clone()],
                &self.policy,
                self.label.clone(),
            ),
            ProcessProgram::Node { node, file } => {
                let bootstrap = node::bootstrap()
                    .map_err(|e| JobError::Retryable(format!("{}: {e}", self.label)))?;
                let args = [bootstrap.display().to_string(), file.display().to_string()];
                Proc::start(
                    &node.display().to_string(),
                    &args,
                    &self.policy,
                    self.label.clone(),
                )
            }
        }
    }

    /// Under `max_jobs` and `max_memory` (its whole group's RSS, read after the job).
    fn may_stay(&self, proc: &Proc) -> bool {
        if self.spec.max_jobs.is_some_and(|max| proc.jobs >= max) {
            return false;
        }
        match (self.spec.max_memory_mib, proc.pgid()) {
            (Some(max), Some(g)) => match memory::group_rss_kib(g) {
                Some(kib) if kib > max * 1024 => {
                    tracing::info!(handler = %self.label, rss_mib = kib / 1024, max_memory_mib = max,
                        "handler process over max_memory; replacing it");
                    false
                }
                _ => true,
            },
            _ => true,
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Proc>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The end of a drain: every persistent handler process gets TERM, and KILL if its group is
/// still there after [`KILL_GRACE`]. Called by `app` once the pools have drained, so no job is
/// running on them any more (those the cut-off stopped were ended with their job).
pub async fn stop_all() {
    let groups: Vec<i32> = live().iter().copied().collect();
    if groups.is_empty() {
        return;
    }
    for g in &groups {
        let _ = killpg(Pid::from_raw(*g), Signal::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + KILL_GRACE;
    while tokio::time::Instant::now() < deadline && groups.iter().any(|g| memory::group_alive(*g)) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for g in groups {
        if memory::group_alive(g) {
            let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
        }
    }
}
