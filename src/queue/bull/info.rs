//! Reading Bull jobs for people and tools: a job's state (which list or set holds it) and its
//! hash as a [`JobInfo`].

use std::collections::HashMap;

use super::BullStore;
use crate::queue::info::stacktrace_lines;
use crate::queue::{Error, JobInfo};

impl BullStore {
    pub(super) async fn state_of(&self, queue: &str, id: &str) -> Result<Option<String>, Error> {
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

    pub(super) async fn info(
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
}
