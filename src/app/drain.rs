//! The drain phase. Shutdown order (ARCHITECTURE.md, "Shutdown order (SIGTERM)"):
//! 1. `stop` fires (first SIGTERM/SIGINT/SIGQUIT, or a recycle limit): the scheduler stops,
//!    `/health` reports `draining`, systemd hears STOPPING.
//! 2. The pools stop fetching; running jobs go on, their locks still renewed.
//! 3. At `SHUTDOWN_TIMEOUT` (or at once on a second signal) `cut_off` fires: still-running
//!    handlers are terminated and their jobs moved back to `wait`.
//! 4. The store closes as its last handle drops; then the HTTP servers stop; exit 0.
//!
//! The drain owns the deadline: [`Deadline`] is armed here, once, when `stop` fires, whoever
//! fired it (`shutdown::watch` and `recycle::watch` only signal). Everything after it is
//! measured from that one instant: `cut_off` at `SHUTDOWN_TIMEOUT`, and the whole drain bounded
//! by the kill grace and [`STORE_GRACE`] past it, whatever the store does: a frozen Redis held
//! the exit 7.6 s past that (outcome writes retried), past Kubernetes' grace period, which then
//! SIGKILLs.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::notify::Notifier;
use crate::config::Config;
use crate::queue::Store;
use crate::status::Status;
use crate::worker::handler::KILL_GRACE;
use crate::worker::WorkerPool;

/// How long past the handlers' kill grace the last writes to the store (hand-backs, outcomes)
/// may take before the daemon exits without them: a job whose write did not land is still
/// `active` with a lock that expires, and stalled recovery returns it (at least once).
const STORE_GRACE: Duration = Duration::from_secs(1);

/// How long the HTTP servers get to finish in-flight requests once the rest has stopped.
const HTTP_GRACE: Duration = Duration::from_secs(1);

/// A started daemon.
pub(super) struct Running {
    pub(super) status: Arc<Status>,
    pub(super) notifier: Notifier,
    pub(super) config: Arc<Config>,
    /// Phases 1-2; fired by `shutdown::watch` or `recycle`.
    pub(super) stop: CancellationToken,
    /// Phase 3; fired by the [`Deadline`] armed in `drain`, or by `shutdown::watch` on a
    /// second signal.
    pub(super) cut_off: CancellationToken,
    /// Fired here, last: the HTTP servers and SSE streams end.
    pub(super) closing: CancellationToken,
    /// The HTTP servers, the main one first.
    pub(super) http: Vec<JoinHandle<()>>,
    /// The store's side; `None` when `stop` fired before the store answered.
    pub(super) work: Option<Work>,
    /// The embedded file's daemon lock, taken at start; held (with the consumers' clones)
    /// until the daemon has drained and this is dropped.
    pub(super) embedded_lock: Option<crate::queue::embedded::DaemonLock>,
    /// The programs' supervisor (`crate::programs`): it stops every program when `stop`
    /// fires, and ends when they all have.
    pub(super) programs: Option<JoinHandle<()>>,
    /// The programs' handle the API, `/health` and `/metrics` read (an empty one until the
    /// supervisor starts); kept here rather than in `Status`, which sits below `programs`.
    pub(super) programs_handle: crate::programs::Programs,
}

/// What runs on a connected store.
pub(super) struct Work {
    /// Kept until the pools have drained.
    pub(super) store: Store,
    /// The supervised scheduler; ends when `stop` fires.
    pub(super) sched: JoinHandle<()>,
    pub(super) pools: Vec<WorkerPool>,
    /// Every consumed queue's routes, handed to the reload component at start.
    pub(super) routes: crate::worker::routes::Consumed,
    /// Crontab commands run here while the store was down; waited for like the pools' runs.
    pub(super) local: Option<Arc<crate::worker::local::LocalRunner>>,
}

/// The one shutdown clock, armed when `stop` fires: `cut_off` fires `SHUTDOWN_TIMEOUT` after
/// `stop` (the cut-off instant).
struct Deadline {
    /// When the drain gives up on the store: the handlers' kill grace (a terminated handler
    /// gets it before KILL) and [`STORE_GRACE`] for the last writes, past the cut-off.
    exit_by: Instant,
}

impl Deadline {
    fn arm(timeout: Duration, cut_off: CancellationToken) -> Deadline {
        let cut_at = Instant::now() + timeout;
        // Ends with the drain's task or at `cut_at`; a second signal may have fired `cut_off`
        // first (its holder is `shutdown::watch`), then there is nothing left to do.
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep_until(cut_at) => {
                    if !cut_off.is_cancelled() {
                        tracing::warn!(
                            "shutdown deadline reached: terminating running jobs and requeueing them"
                        );
                        cut_off.cancel();
                    }
                }
                _ = cut_off.cancelled() => {}
            }
        });
        Deadline {
            exit_by: cut_at + KILL_GRACE + STORE_GRACE,
        }
    }
}

impl Running {
    /// Waits for `stop`, then shuts down in the order above; the exit code.
    pub(super) async fn drain(self) -> ExitCode {
        self.stop.cancelled().await;
        let deadline = Deadline::arm(self.config.shutdown_timeout, self.cut_off.clone());
        tracing::info!(
            timeout_s = self.config.shutdown_timeout.as_secs_f64(),
            "draining: running jobs may finish until the shutdown deadline"
        );
        // 1.
        self.status.set_draining();
        self.notifier.stopping();
        // Programs are not drained like jobs: their supervisor already sent each its
        // stopsignal when `stop` fired (KILL after stopwaitsecs, at most SHUTDOWN_TIMEOUT);
        // waited for in parallel with the queues, within the same bound.
        let programs = async {
            if let Some(p) = self.programs {
                if tokio::time::timeout_at(deadline.exit_by, p).await.is_err() {
                    tracing::warn!("programs did not all stop by the drain deadline");
                }
            }
        };
        let queues = async {
            if let Some(work) = self.work {
                let drained = tokio::time::timeout_at(deadline.exit_by, async {
                    let _ = work.sched.await;
                    // 2-3: each pool waits for its running jobs, which `cut_off` ends at
                    // the cut-off; what the pools may still take after that is the same bound as the
                    // whole drain's, so there is no second sum to keep in step.
                    let wait = deadline.exit_by.saturating_duration_since(Instant::now());
                    let local = async {
                        if let Some(l) = &work.local {
                            // `cut_off` ends them at the deadline, as it ends the pools' runs.
                            let _ = tokio::time::timeout(wait, l.drain()).await;
                        }
                    };
                    let pools =
                        futures::future::join_all(work.pools.into_iter().map(|p| p.drain(wait)));
                    tokio::join!(pools, local);
                })
                .await;
                if drained.is_err() {
                    tracing::warn!(
                        "the store did not take the last writes by the drain deadline; exiting \
                     anyway: jobs whose hand-back did not land return through stalled recovery \
                     once their lock expires"
                    );
                }
                // 4.
                drop(work.store);
            }
        };
        tokio::join!(programs, queues);
        // Persistent handler processes outlive their jobs: no job runs on them any more. Within
        // the drain's bound: past it they die with the daemon (parent-death signal, `pdeath`).
        let stop = crate::worker::handler::process::stop_all();
        let _ = tokio::time::timeout_at(deadline.exit_by, stop).await;
        self.closing.cancel();
        let _ = tokio::time::timeout(HTTP_GRACE, futures::future::join_all(self.http)).await;
        tracing::info!("cronq worker stopped");
        ExitCode::SUCCESS
    }
}
