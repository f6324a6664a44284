//! One engine job through cronq's [`Processor`], mapped back onto the engine's vocabulary: the
//! guard before it runs, the outcome after, and the writes the engine does not do (stacktrace,
//! stored retry options, the hand-back map). Split out of `consumer.rs`, which now only decides
//! when a queue holds an engine worker at all (issue 26).

use std::sync::Arc;
use std::time::Duration;

use bullmq::Job;

use super::finish::Unwritten;
use super::groups::{Admission, GroupRun};
use super::guard::{self, Verdict};
use super::handback::HandedBack;
use super::run_claim::Attempt;
use super::RedisStore;
use crate::queue::consumer::{ActiveJob, Attempts, Processor};
use crate::queue::job::Outcome;

/// A running engine job, as the consumer's [`crate::queue::consumer::JobHandle`] (`running.rs`).
pub(crate) struct EngineJob(pub(crate) Job);

/// What [`run_one`] needs besides the job, borrowed from the consumer's closure.
pub(crate) struct RunCtx<'a> {
    pub(crate) store: &'a RedisStore,
    pub(crate) queue: &'a str,
    pub(crate) lock_duration: Duration,
    pub(crate) handed: &'a HandedBack,
    /// The queue's fair groups (`groups.rs`); `None`: no group work at all.
    pub(crate) groups: Option<&'a Arc<GroupRun>>,
}

/// One job through the processor, mapped back onto the engine's vocabulary.
pub(crate) async fn run_one(
    ctx: RunCtx<'_>,
    engine: Job,
    processor: &dyn Processor,
) -> Result<serde_json::Value, bullmq::Error> {
    let RunCtx {
        store,
        queue,
        lock_duration,
        handed,
        groups,
    } = ctx;
    // Not an orphan while here (orphans.rs); a second copy of a running id is not run.
    let _running = match handed.running(engine.id(), engine.token().unwrap_or_default()) {
        Ok(running) => running,
        Err(first) => {
            let (id, token) = (engine.id(), engine.token().unwrap_or_default());
            let ms = lock_duration.as_millis() as u64;
            let copy = store.drop_duplicate(queue, id, token, &first, ms).await;
            handed.until_done(id).await;
            if !copy {
                // The first run let the job go (its group parked it, and it was put back) before
                // it left `run_one`, and this fetch holds the only copy. It goes back to wait to
                // be fetched afresh: the engine keys lock renewals by id, and the first run's
                // end dropped this one's with its own. Before, it was dropped as a copy: the
                // job was in no list at all, lost.
                if let Err(error) = back_to_wait(&engine).await {
                    tracing::warn!(queue, job_id = %id.escape_debug(), error = %error,
                        "could not move the refetched job back to wait; stalled recovery will");
                }
            }
            // `Delayed`: moved already, the engine touches it no further.
            return Err(bullmq::Error::Delayed);
        }
    };
    // Across daemons, a second copy of this attempt is dropped too (run_claim.rs). An
    // attempt's first fetch cannot be that copy: it starts at once and claims only if it runs
    // long (`own_late`, polled beside the run); any other fetch waits for its claim.
    let (id, token) = (engine.id(), engine.token().unwrap_or_default());
    let first = super::run_claim::first_fetch(&engine);
    let made = engine.attempts_made() as u64;
    let attempt = Attempt {
        queue,
        id,
        token,
        made,
    };
    let claim = async {
        match first {
            true => Ok(None),
            false => store.claim_run(&attempt, lock_duration).await.map(Some),
        }
    };
    // The stored options, only for a handler that reads them or a queue with groups (a job's
    // group may be its `opts.group.id`); read alongside the claim, pipelined: no round trip
    // of their own.
    let opts = async {
        match groups.is_some() || processor.wants_opts(engine.name()) {
            true => store.stored_opts(queue, &engine).await,
            false => Default::default(),
        }
    };
    let (claimed, opts) = tokio::join!(claim, opts);
    let _claim = match claimed {
        Ok(None) => None,
        Ok(Some(Some(claim))) => Some(claim),
        Ok(Some(None)) => return Err(bullmq::Error::Delayed),
        Err(e) => {
            tracing::debug!(queue, job_id = %id.escape_debug(), error = %e, "run not claimed");
            None
        }
    };
    let outcome = match guard::before_run(store, queue, &engine).await {
        // `Delayed` tells the engine the job was moved already: it touches it no further.
        Verdict::Skip => return Err(bullmq::Error::Delayed),
        Verdict::Fail(reason) => {
            tracing::warn!(queue, job_id = %engine.id().escape_debug(), reason = %reason,
                "job failed without running");
            Outcome::Fail(reason)
        }
        Verdict::Run(data) => {
            // A grouped job runs only with room in its group; else it is parked (groups.rs).
            let slot = match groups.and_then(|run| {
                let group = run.policy.group_of(&opts, data.as_ref().ok())?;
                Some((run, group))
            }) {
                None => None,
                Some((run, group)) => {
                    let claim = attempt.value();
                    match store
                        .admit(queue, run, &group, id, (token, &claim), lock_duration)
                        .await
                    {
                        Admission::Run(slot) => Some((run, slot)),
                        // `Delayed`: moved already, the engine touches it no further.
                        Admission::SetAside => return Err(bullmq::Error::Delayed),
                    }
                }
            };
            let attempts = Attempts {
                made: engine.attempts_made(),
                max: engine.opts().attempts.unwrap_or(0),
                ready_ms: (engine.timestamp() + engine.delay()) as i64,
            };
            let log = Box::new(EngineJob(engine.clone()));
            let job = ActiveJob::new(queue, engine.id(), engine.name(), data, opts, attempts, log);
            let run = processor.process(job);
            let outcome = match first {
                false => run.await,
                true => {
                    let late = store.own_late(&attempt, lock_duration);
                    // `own_late` never returns: the run decides, and drops it when it ends.
                    tokio::select! {
                        biased;
                        outcome = run => outcome,
                        never = late => match never {},
                    }
                }
            };
            if let Some((run, slot)) = slot {
                store.end_slot(queue, run, slot, id).await;
            }
            match outcome {
                Outcome::Retry(reason) => match guard::unsupported_backoff(&engine, &reason) {
                    Some(reason) => Outcome::Fail(reason),
                    None => Outcome::Retry(reason),
                },
                other => other,
            }
        }
    };
    // After an engine error (an outage, a failover): a result Redis cannot take yet is kept
    // until it can, while the lock is ours (finish.rs). In steady state this script call per
    // job is skipped; a write that fails anyway is repaired from the hand-back map below.
    if !matches!(outcome, Outcome::Release | Outcome::Defer(_))
        && handed.troubled()
        && !super::finish::lock_still_ours(&engine, queue, lock_duration).await
    {
        // `Delayed`: the engine touches the job no further; stalled recovery owns it.
        return Err(bullmq::Error::Delayed);
    }
    if let (Outcome::Retry(reason) | Outcome::Fail(reason), Some(token)) =
        (&outcome, engine.token())
    {
        // The engine writes no stacktrace entry (see `stacktrace.rs`); a lost entry only
        // costs the dashboard a line, so a Redis error here does not change the outcome.
        if let Err(e) = store
            .append_stacktrace(queue, engine.id(), token, reason)
            .await
        {
            tracing::debug!(queue, job_id = engine.id(), error = %e, "stacktrace entry not stored");
        }
    }
    // Options the engine could not parse whole (lenient.rs): retried by the stored ones.
    if let Outcome::Retry(_) = &outcome {
        match store.retry_by_stored_opts(queue, &engine).await {
            Ok(true) => return Err(bullmq::Error::Delayed),
            Ok(false) => {}
            Err(e) => tracing::warn!(queue, job_id = engine.id(), error = %e,
                "could not read the job's stored options; the engine's defaults apply"),
        }
    }
    // Kept until the engine reports the write (no Redis command): if Redis dies before the
    // engine's write lands, cronq writes it with the token once Redis answers (handback.rs).
    // The engine job moves into the map (no copy on the per-job path); only the outcome is
    // copied, once for the map and once for the engine.
    let (unwritten, reply) = match outcome {
        Outcome::Completed(value) => (Unwritten::Completed(value.clone()), Ok(value)),
        Outcome::Retry(reason) => (
            Unwritten::Retry(reason.clone()),
            Err(bullmq::Error::ProcessingError(reason)),
        ),
        Outcome::Fail(reason) => (
            Unwritten::Fail(reason.clone()),
            Err(bullmq::Error::Unrecoverable(reason)),
        ),
        Outcome::Release => {
            if let Err(error) = back_to_wait(&engine).await {
                // The lock expires and stalled recovery brings it back.
                tracing::warn!(queue, job_id = engine.id(), error = %error,
                    "could not move the cut-off job back to wait; stalled recovery will");
            }
            // `Delayed` tells the engine the processor already moved the job.
            return Err(bullmq::Error::Delayed);
        }
        Outcome::Defer(delay) => {
            // BullMQ's `moveToDelayed` with its skip-attempt flag, under the job's token.
            let due = crate::queue::consumer::now_ms() + delay.as_millis() as u64;
            let moved = tokio::time::timeout(Duration::from_secs(2), engine.move_to_delayed(due));
            if !matches!(moved.await, Ok(Ok(()))) {
                // The lock expires and stalled recovery brings it back (no attempt lost).
                tracing::warn!(
                    queue,
                    job_id = engine.id(),
                    "could not hand the job back; stalled recovery will"
                );
            }
            return Err(bullmq::Error::Delayed);
        }
    };
    handed.record(engine, unwritten);
    reply
}

/// The job moved back to `wait` under its token (our hand-back of a run that must not finish
/// here). Bounded: a Redis that hangs must not hold the exit past the orchestrator's grace.
async fn back_to_wait(engine: &Job) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(2), engine.move_to_wait(None)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("Redis did not answer within 2 s".to_string()),
    }
}
