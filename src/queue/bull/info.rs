//! Reading Bull jobs for people and tools: a job's state (which list or set holds it) and its
//! hash as a [`JobInfo`].

use std::collections::HashMap;

use async_trait::async_trait;

use super::BullStore;
use crate::queue::contract::{Browse, Inspect};
use crate::queue::error::Error;
use crate::queue::info::{stacktrace_lines, JobInfo, JobPage, JobWindow};
use crate::queue::state::JobState;

#[async_trait]
impl Browse for BullStore {
    async fn state(&self, queue: &str, id: &str) -> Result<Option<JobState>, Error> {
        let k = self.keys(queue);
        if !self
            .cmd::<bool>(queue, redis::cmd("EXISTS").arg(k.key(id)))
            .await?
        {
            return Ok(None);
        }
        // Where each state lives and how membership is asked (a score or a list position, both
        // nil when absent). A paused queue's jobs are `waiting` (the queue is paused, not the
        // job), as BullMQ says.
        let places = [
            ("ZSCORE", "completed", JobState::Completed),
            ("ZSCORE", "failed", JobState::Failed),
            ("ZSCORE", "delayed", JobState::Delayed),
            ("LPOS", "active", JobState::Active),
            ("LPOS", "wait", JobState::Waiting),
            ("LPOS", "paused", JobState::Waiting),
        ];
        for (ask, key, state) in places {
            let found: redis::Value = self
                .cmd(queue, redis::cmd(ask).arg(k.key(key)).arg(id))
                .await?;
            if found != redis::Value::Nil {
                return Ok(Some(state));
            }
        }
        Ok(Some(JobState::Unknown))
    }
    async fn jobs(&self, queue: &str, window: JobWindow) -> Result<JobPage, Error> {
        let k = self.keys(queue);
        let end = (window.offset + window.limit).saturating_sub(1) as i64;
        // (key, page command, count command) of the state's list or set.
        let (key, range, count) = match window.state {
            JobState::Waiting => {
                let paused = self.is_paused(queue).await?;
                (if paused { "paused" } else { "wait" }, "LRANGE", "LLEN")
            }
            JobState::Active => ("active", "LRANGE", "LLEN"),
            JobState::Delayed => ("delayed", "ZRANGE", "ZCARD"),
            JobState::Completed | JobState::Failed => (window.state.as_str(), "ZREVRANGE", "ZCARD"),
            // Bull has neither a `prioritized` set (prioritized jobs sit in `wait`) nor flows:
            // valid states that hold no job here.
            JobState::Prioritized | JobState::WaitingChildren => {
                return Ok(JobPage::new(window, 0, Vec::new()))
            }
            JobState::Unknown => return Err(window.state.not_listed(queue)),
        };
        let key = k.key(key);
        let ids: Vec<String> = self
            .cmd(
                queue,
                redis::cmd(range).arg(&key).arg(window.offset).arg(end),
            )
            .await?;
        let total: u64 = self.cmd(queue, redis::cmd(count).arg(&key)).await?;
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(j) = self.info(queue, &id, None, false).await? {
                jobs.push(j);
            }
        }
        Ok(JobPage::new(window, total, jobs))
    }
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        let state = self.state(queue, id).await?;
        if state.is_none() {
            return Ok(None);
        }
        self.info(queue, id, state, true).await
    }
}

impl BullStore {
    pub(super) async fn info(
        &self,
        queue: &str,
        id: &str,
        state: Option<JobState>,
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
}
