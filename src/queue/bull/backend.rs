//! The Bull 3/4 store behind the store contract. Operations Bull's layout cannot yet do through
//! cronq (retry/remove/promote/clean from the API) say so, naming the queue.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{now_ms, opts, scripts, BullStore};
use crate::queue::contract::{Backend, EventSource};
use crate::queue::info::stacktrace_lines;
use crate::queue::{
    Consumer, ConsumerOptions, Error, JobCounts, JobInfo, JobOpError, JobPage, JobSpec, Processor,
    QueueEvent,
};

fn unsupported(queue: &str, what: &str) -> Error {
    Error::Engine {
        queue: queue.to_string(),
        message: format!(
            "{what} is not available yet for a queue with layout = \"bull\"; use Bull's own API (or Bull Board) for it"
        ),
    }
}

impl BullStore {
    async fn state_of(&self, queue: &str, id: &str) -> Result<Option<String>, Error> {
        let k = self.keys(queue);
        if !self
            .cmd::<bool>(queue, redis::cmd("EXISTS").arg(k.key(id)))
            .await?
        {
            return Ok(None);
        }
        for (set, state) in [
            ("completed", "completed"),
            ("failed", "failed"),
            ("delayed", "delayed"),
        ] {
            let score: Option<f64> = self
                .cmd(queue, redis::cmd("ZSCORE").arg(k.key(set)).arg(id))
                .await?;
            if score.is_some() {
                return Ok(Some(state.into()));
            }
        }
        for (list, state) in [
            ("active", "active"),
            ("wait", "waiting"),
            ("paused", "waiting"),
        ] {
            let pos: Option<i64> = self
                .cmd(queue, redis::cmd("LPOS").arg(k.key(list)).arg(id))
                .await?;
            if pos.is_some() {
                return Ok(Some(state.into()));
            }
        }
        Ok(Some("unknown".into()))
    }

    async fn info(
        &self,
        queue: &str,
        id: &str,
        state: Option<String>,
        logs: bool,
    ) -> Result<Option<JobInfo>, Error> {
        let k = self.keys(queue);
        let h: HashMap<String, String> = self
            .cmd(queue, redis::cmd("HGETALL").arg(k.key(id)))
            .await?;
        if h.is_empty() {
            return Ok(None);
        }
        let json = |f: &str| -> serde_json::Value {
            h.get(f)
                .map(|t| {
                    serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.clone()))
                })
                .unwrap_or(serde_json::Value::Null)
        };
        let num = |f: &str| h.get(f).and_then(|t| t.parse::<u64>().ok());
        let logs = if logs {
            Some(
                self.cmd(
                    queue,
                    redis::cmd("LRANGE")
                        .arg(format!("{}:logs", k.key(id)))
                        .arg(0)
                        .arg(-1),
                )
                .await?,
            )
        } else {
            None
        };
        let made = num("attemptsMade").unwrap_or(0);
        Ok(Some(JobInfo {
            id: id.to_string(),
            queue: queue.to_string(),
            name: h
                .get("name")
                .cloned()
                .unwrap_or_else(|| "__default__".into()),
            state,
            data: json("data"),
            opts: json("opts"),
            progress: json("progress"),
            attempts_made: made,
            attempts_started: made
                + u64::from(h.contains_key("processedOn") && !h.contains_key("finishedOn")),
            returnvalue: json("returnvalue"),
            failed_reason: h.get("failedReason").cloned(),
            stacktrace: stacktrace_lines(json("stacktrace")),
            timestamp: num("timestamp"),
            processed_on: num("processedOn"),
            finished_on: num("finishedOn"),
            delay: num("delay").unwrap_or(0),
            priority: num("priority").unwrap_or(0),
            processed_by: None,
            logs,
        }))
    }

    async fn pause_or_resume(&self, queue: &str, pause: bool) -> Result<(), Error> {
        let k = self.keys(queue);
        let (from, to, word) = if pause {
            ("wait", "paused", "paused")
        } else {
            ("paused", "wait", "resumed")
        };
        let _: i64 = scripts::PAUSE
            .key(k.key(from))
            .key(k.key(to))
            .key(k.key("meta-paused"))
            .key(k.key(word))
            .key(k.key("meta"))
            .arg(word)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(())
    }
}

#[async_trait]
impl Backend for BullStore {
    fn kind(&self) -> &'static str {
        "redis"
    }
    fn redacted_url(&self) -> String {
        self.redis.redacted_url()
    }
    fn prefix(&self) -> &str {
        self.redis.prefix()
    }
    async fn ping(&self) -> Result<Duration, Error> {
        self.redis.ping().await
    }
    async fn add(&self, queue: &str, spec: JobSpec) -> Result<String, Error> {
        let k = self.keys(queue);
        let now = now_ms();
        let opts = opts::opts_json(&spec, now);
        let (id, _added): (String, i64) = scripts::ADD
            .key(k.key("wait"))
            .key(k.key("paused"))
            .key(k.key("meta-paused"))
            .key(k.key("id"))
            .key(k.key("delayed"))
            .key(k.key("priority"))
            .arg(k.base())
            .arg(spec.job_id.clone().unwrap_or_default())
            .arg(&spec.name)
            .arg(spec.data.to_string())
            .arg(opts.to_string())
            .arg(now)
            .arg(spec.delay.map(|d| d.as_millis() as u64).unwrap_or(0))
            .arg(spec.priority.unwrap_or(0))
            .arg(&self.token)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(id)
    }
    async fn consume(
        &self,
        queue: &str,
        opts: ConsumerOptions,
        processor: Arc<dyn Processor>,
    ) -> Result<Consumer, Error> {
        self.start(queue, opts, processor).await
    }
    async fn counts(&self, queue: &str) -> Result<JobCounts, Error> {
        let k = self.keys(queue);
        let mut p = redis::pipe();
        p.cmd("LLEN")
            .arg(k.key("wait"))
            .cmd("LLEN")
            .arg(k.key("paused"))
            .cmd("LLEN")
            .arg(k.key("active"))
            .cmd("ZCARD")
            .arg(k.key("delayed"))
            .cmd("ZCARD")
            .arg(k.key("completed"))
            .cmd("ZCARD")
            .arg(k.key("failed"));
        let (w, pa, a, d, c, f): (u64, u64, u64, u64, u64, u64) = p
            .query_async(&mut self.conn())
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(JobCounts {
            waiting: w + pa,
            prioritized: 0,
            active: a,
            delayed: d,
            completed: c,
            failed: f,
            waiting_children: 0,
        })
    }
    async fn is_paused(&self, queue: &str) -> Result<bool, Error> {
        self.cmd(
            queue,
            redis::cmd("EXISTS").arg(self.keys(queue).key("meta-paused")),
        )
        .await
    }
    async fn state(&self, queue: &str, id: &str) -> Result<Option<String>, Error> {
        self.state_of(queue, id).await
    }
    async fn jobs(
        &self,
        queue: &str,
        state: &str,
        offset: u64,
        limit: u64,
    ) -> Result<JobPage, Error> {
        let k = self.keys(queue);
        let end = (offset + limit).saturating_sub(1) as i64;
        let (ids, total): (Vec<String>, u64) = match state {
            "waiting" | "wait" => {
                let paused = self.is_paused(queue).await?;
                let list = k.key(if paused { "paused" } else { "wait" });
                let ids = self
                    .cmd(queue, redis::cmd("LRANGE").arg(&list).arg(offset).arg(end))
                    .await?;
                (ids, self.cmd(queue, redis::cmd("LLEN").arg(&list)).await?)
            }
            "active" => (
                self.cmd(
                    queue,
                    redis::cmd("LRANGE")
                        .arg(k.key("active"))
                        .arg(offset)
                        .arg(end),
                )
                .await?,
                self.cmd(queue, redis::cmd("LLEN").arg(k.key("active")))
                    .await?,
            ),
            "delayed" => (
                self.cmd(
                    queue,
                    redis::cmd("ZRANGE")
                        .arg(k.key("delayed"))
                        .arg(offset)
                        .arg(end),
                )
                .await?,
                self.cmd(queue, redis::cmd("ZCARD").arg(k.key("delayed")))
                    .await?,
            ),
            "completed" | "failed" => (
                self.cmd(
                    queue,
                    redis::cmd("ZREVRANGE")
                        .arg(k.key(state))
                        .arg(offset)
                        .arg(end),
                )
                .await?,
                self.cmd(queue, redis::cmd("ZCARD").arg(k.key(state)))
                    .await?,
            ),
            _ => (Vec::new(), 0),
        };
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(j) = self.info(queue, &id, None, false).await? {
                jobs.push(j);
            }
        }
        Ok(JobPage {
            total,
            offset,
            limit,
            jobs,
        })
    }
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        let state = self.state_of(queue, id).await?;
        if state.is_none() {
            return Ok(None);
        }
        self.info(queue, id, state, true).await
    }
    async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        self.redis.discover_queues().await
    }
    async fn retry_job(&self, queue: &str, _id: &str) -> Result<(), JobOpError> {
        Err(unsupported(queue, "retrying a job").into())
    }
    async fn retry_all_failed(
        &self,
        queue: &str,
        _p: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, Error> {
        Err(unsupported(queue, "retrying failed jobs"))
    }
    async fn remove_job(&self, queue: &str, _id: &str) -> Result<(), JobOpError> {
        Err(unsupported(queue, "removing a job").into())
    }
    async fn promote_job(&self, queue: &str, _id: &str) -> Result<(), JobOpError> {
        Err(unsupported(queue, "promoting a job").into())
    }
    async fn pause(&self, queue: &str) -> Result<(), Error> {
        self.pause_or_resume(queue, true).await
    }
    async fn resume(&self, queue: &str) -> Result<(), Error> {
        self.pause_or_resume(queue, false).await
    }
    async fn clean(&self, queue: &str, _state: &str, _older: Duration) -> Result<u64, Error> {
        Err(unsupported(queue, "cleaning"))
    }
    async fn request_cancel(&self, queue: &str, id: &str) -> Result<(), Error> {
        self.redis.request_cancel(queue, id).await
    }
    async fn listen_cancels(&self, out: mpsc::Sender<(String, String)>, stop: CancellationToken) {
        self.redis.listen_cancels(out, stop).await
    }
    async fn events_after(
        &self,
        _queue: &str,
        _after: &str,
        _count: usize,
    ) -> Result<Vec<QueueEvent>, Error> {
        // Bull's events are pub/sub, not a log: there is nothing to read back.
        Ok(Vec::new())
    }
    async fn event_reader(
        &self,
        queues: &[String],
        cursors: BTreeMap<String, String>,
    ) -> Result<Box<dyn EventSource>, Error> {
        Backend::event_reader(&self.redis, queues, cursors).await
    }
}
