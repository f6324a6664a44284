//! Applying a Bull job's [`Outcome`]: completed or failed for good (finish.lua, with
//! retention), or back for another run (requeue.lua: a backoff delay, a retry now, or a release
//! at shutdown); and the running job's log and progress ([`BullJob`]).

use async_trait::async_trait;

use super::context::Loop;
use super::opts::{self, RunOpts};
use super::{scripts, BullStore, Keys};
use crate::queue::consumer::now_ms;
use crate::queue::consumer::JobHandle;
use crate::queue::retry::AfterFailure;
use crate::queue::{error::Error, job::Outcome};

pub(super) async fn finish(
    ctx: &Loop,
    id: &str,
    outcome: Outcome,
    made: u32,
    run_opts: &RunOpts,
    mut stack: Vec<String>,
) -> Result<(), Error> {
    let now = now_ms();
    let (reason, retry) = match outcome {
        Outcome::Completed(value) => {
            let text = value.to_string();
            let keep = opts::keep(&run_opts.on_complete, ctx.opts.remove_on_complete);
            let event = serde_json::json!({"jobId": id, "val": text}).to_string();
            let fields = vec![("returnvalue".to_string(), text)];
            return end(ctx, id, "completed", now, keep, &event, fields).await;
        }
        Outcome::Release => return requeue(ctx, id, 0, Vec::new()).await,
        // Back to delayed with no field changed: no attempt counted.
        Outcome::Defer(d) => return requeue(ctx, id, now + d.as_millis() as u64, Vec::new()).await,
        Outcome::Retry(r) => (r, true),
        Outcome::Fail(r) => (r, false),
    };
    let made = made + 1;
    if let Some(limit) = run_opts.stack_limit.filter(|l| *l > 0) {
        stack.truncate(limit - 1);
    }
    stack.push(reason.clone());
    let fields = vec![
        ("attemptsMade".to_string(), made.to_string()),
        (
            "stacktrace".to_string(),
            serde_json::to_string(&stack).unwrap_or_else(|_| "[]".into()),
        ),
        ("failedReason".to_string(), reason.clone()),
    ];
    if let (true, AfterFailure::RetryIn(d)) = (retry, run_opts.retry().after_failure(made)) {
        // Zero: straight back to `wait`.
        let due = if d.is_zero() {
            0
        } else {
            now + d.as_millis() as u64
        };
        return requeue(ctx, id, due, fields).await;
    }
    let keep = opts::keep(&run_opts.on_fail, ctx.opts.remove_on_fail);
    let event = serde_json::json!({"jobId": id, "val": reason}).to_string();
    end(ctx, id, "failed", now, keep, &event, fields).await
}

async fn end(
    ctx: &Loop,
    id: &str,
    target: &str,
    now: u64,
    keep: opts::Keep,
    event: &str,
    fields: Vec<(String, String)>,
) -> Result<(), Error> {
    let k = &ctx.keys;
    let (metrics, points) = (
        format!("metrics:{target}"),
        format!("metrics:{target}:data"),
    );
    let keys = ["active", target, id, "stalled", &metrics, &points];
    let mut inv = k.script(&scripts::FINISH, &keys);
    inv.arg(id)
        .arg(&ctx.store.token)
        .arg(now)
        .arg(keep.0)
        .arg(keep.1)
        .arg(event)
        .arg(k.base())
        .arg(ctx.opts.metrics_points);
    invoke(ctx, id, inv, fields).await
}

async fn requeue(
    ctx: &Loop,
    id: &str,
    due: u64,
    fields: Vec<(String, String)>,
) -> Result<(), Error> {
    let k = &ctx.keys;
    let keys = [
        "active",
        "wait",
        "paused",
        "meta-paused",
        "priority",
        "delayed",
        id,
        "stalled",
    ];
    let mut inv = k.script(&scripts::REQUEUE, &keys);
    inv.arg(id)
        .arg(&ctx.store.token)
        .arg(due)
        .arg(rand::random::<u16>() % 4096);
    invoke(ctx, id, inv, fields).await
}

/// Runs a finishing script (finish.lua / requeue.lua) with the job hash `fields` as its last
/// arguments, then reports its code.
async fn invoke(
    ctx: &Loop,
    id: &str,
    mut inv: redis::ScriptInvocation<'_>,
    fields: Vec<(String, String)>,
) -> Result<(), Error> {
    for (f, v) in &fields {
        inv.arg(f).arg(v);
    }
    let code: i64 = ctx.store.run(&ctx.queue, &inv).await?;
    report(ctx, id, code);
    Ok(())
}

fn report(ctx: &Loop, id: &str, code: i64) {
    let why = match code {
        0 => return,
        -1 => "the job was removed while it ran",
        -2 => "its lock was lost (expired and taken by another worker)",
        _ => "it was no longer active",
    };
    tracing::warn!(queue = %ctx.queue, job_id = %id, "job outcome not written: {why}");
}

/// A running Bull job's log and progress.
pub(super) struct BullJob {
    pub(super) store: BullStore,
    pub(super) keys: Keys,
    pub(super) id: String,
}

#[async_trait]
impl JobHandle for BullJob {
    async fn log(&self, queue: &str, line: &str) -> Result<(), Error> {
        let key = format!("{}:logs", self.keys.key(&self.id));
        self.store
            .cmd::<i64>(queue, redis::cmd("RPUSH").arg(key).arg(line))
            .await
            .map(|_| ())
    }
    async fn progress(&self, queue: &str, value: serde_json::Value) -> Result<(), Error> {
        let event = serde_json::json!({"jobId": self.id, "progress": value}).to_string();
        let mut inv = self
            .keys
            .script(&scripts::PROGRESS, &[&self.id, "progress"]);
        inv.arg(value.to_string()).arg(event);
        let _: i64 = self.store.run(queue, &inv).await?;
        Ok(())
    }
    async fn update_data(&self, queue: &str, data: serde_json::Value) -> Result<(), Error> {
        let mut inv = self.keys.script(&scripts::UPDATE_DATA, &[&self.id]);
        let set: i64 = self.store.run(queue, inv.arg(data.to_string())).await?;
        match set {
            1 => Ok(()),
            _ => Err(Error::engine(
                queue,
                format!("job {:?} is gone: its data was not updated", self.id),
            )),
        }
    }
    async fn children_values(
        &self,
        _queue: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        // Bull 3/4 has no flows.
        Ok(Default::default())
    }
}
