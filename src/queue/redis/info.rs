//! Reading jobs for people and tools (API, CLI, dashboard): job hashes are read as stored, so a
//! job written by a foreign producer with bad data is still shown (with the text as it is).
//! Ids and fields are read as bytes and shown lossily (U+FFFD): one job with a non-UTF-8 id or
//! field must not make a whole page unreadable. Only display is lossy; nothing is written back.

use std::collections::HashMap;

use super::keys::QueueKeys;
use crate::queue::state::JobState;
use crate::queue::{error::Error, info::JobInfo, info::JobPage, info::JobWindow};

use super::client::on;
use super::RedisStore;
use crate::queue::contract::Browse;
use async_trait::async_trait;

impl JobInfo {
    pub(crate) fn from_hash(queue: &str, id: &str, h: &HashMap<String, String>) -> JobInfo {
        let json = |k: &str| match h.get(k) {
            None => serde_json::Value::Null,
            Some(t) => {
                serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.clone()))
            }
        };
        let num = |k: &str| {
            h.get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .map(|f| f as u64)
        };
        let stacktrace = crate::queue::info::stacktrace_lines(json("stacktrace"));
        JobInfo {
            id: id.to_string(),
            queue: queue.to_string(),
            name: h.get("name").cloned().unwrap_or_default(),
            state: None,
            data: json("data"),
            opts: json("opts"),
            progress: json("progress"),
            attempts_made: num("atm").or_else(|| num("attemptsMade")).unwrap_or(0),
            attempts_started: num("ats").unwrap_or(0),
            returnvalue: json("returnvalue"),
            failed_reason: h.get("failedReason").cloned(),
            stacktrace,
            timestamp: num("timestamp"),
            processed_on: num("processedOn"),
            finished_on: num("finishedOn"),
            delay: num("delay").unwrap_or(0),
            priority: num("priority").unwrap_or(0),
            processed_by: h.get("pb").cloned(),
            logs: None,
        }
    }
}

/// (key suffix, is a list, newest first) of a state; `None` for [`JobState::Unknown`].
fn state_key(state: JobState) -> Option<(&'static str, bool, bool)> {
    Some(match state {
        JobState::Waiting => ("wait", true, false),
        JobState::Active => ("active", true, false),
        JobState::Prioritized => ("prioritized", false, false),
        JobState::Delayed => ("delayed", false, false),
        JobState::Completed => ("completed", false, true),
        JobState::Failed => ("failed", false, true),
        JobState::WaitingChildren => ("waiting-children", false, false),
        JobState::Unknown => return None,
    })
}

impl RedisStore {
    async fn hashes(&self, queue: &str, ids: &[Vec<u8>]) -> Result<Vec<JobInfo>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let base = QueueKeys::new(self.prefix(), queue).key("");
        let mut pipe = redis::pipe();
        // Per-command results: a foreign id whose key is not a hash (WRONGTYPE) is left out of
        // the page instead of failing it (the consumer's sweep moves it to `failed`).
        pipe.ignore_errors();
        for id in ids {
            pipe.cmd("HGETALL").arg([base.as_bytes(), id].concat());
        }
        let hashes: Vec<redis::RedisResult<RawHash>> =
            on(queue, self.inner.conn.pipe(&pipe)).await?;
        Ok(ids
            .iter()
            .zip(hashes)
            .filter_map(|(id, h)| Some((id, h.ok()?)))
            .filter(|(_, h)| !h.is_empty())
            .map(|(id, h)| JobInfo::from_hash(queue, &String::from_utf8_lossy(id), &lossy(h)))
            .collect())
    }

    /// Queue names found under the prefix (every BullMQ add writes `B+"id"`; every queue
    /// handle writes `B+"meta"`), sorted.
    pub(super) async fn scan_queues(&self) -> Result<Vec<String>, Error> {
        let mut names = std::collections::BTreeSet::new();
        let prefix = format!("{}:", self.prefix());
        for suffix in ["meta", "id"] {
            let mut cursor: u64 = 0;
            loop {
                let (next, keys) = self.scan(cursor, &format!("{prefix}*:{suffix}")).await?;
                for key in keys {
                    if let Some(name) = key
                        .strip_prefix(&prefix)
                        .and_then(|r| r.strip_suffix(&format!(":{suffix}")))
                    {
                        if !name.contains(':') {
                            names.insert(name.to_string());
                        }
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(names.into_iter().collect())
    }
}

impl RedisStore {
    /// One `SCAN` step. On a Cluster a `SCAN` covers one node only: it goes to the primary that
    /// owns the prefix's slot, which holds every key under the prefix (its hash tag, required on
    /// a Cluster, puts them all in that slot).
    async fn scan(&self, cursor: u64, pattern: &str) -> Result<(u64, Vec<String>), Error> {
        use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000);
        let failed = |e: redis::RedisError| Error::engine("*", e);
        match self.inner.conn.connection() {
            bullmq::redis_connection::AnyConnection::Cluster(mut conn) => {
                let owner = Route::with_key(self.prefix(), SlotAddr::Master);
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(owner));
                let reply = conn.route_command(cmd, route).await.map_err(failed)?;
                redis::from_redis_value(reply).map_err(|e| failed(e.into()))
            }
            _ => self
                .inner
                .conn
                .cmd(&mut cmd)
                .await
                .map_err(|e| Error::engine("*", e)),
        }
    }
}

/// A hash's field/value pairs as stored.
type RawHash = Vec<(Vec<u8>, Vec<u8>)>;

/// A hash's fields and values for display.
fn lossy(pairs: RawHash) -> HashMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect()
}

#[async_trait]
impl Browse for RedisStore {
    /// One page of `queue`'s jobs in `window.state`.
    async fn jobs(&self, queue: &str, window: JobWindow) -> Result<JobPage, Error> {
        let (suffix, is_list, newest_first) =
            state_key(window.state).ok_or_else(|| window.state.not_listed(queue))?;
        let k = QueueKeys::new(self.prefix(), queue);
        let key = k.key(suffix);
        let (start, stop) = (
            window.offset as i64,
            (window.offset + window.limit.max(1)) as i64 - 1,
        );
        let mut pipe = redis::pipe();
        if is_list {
            pipe.cmd("LLEN").arg(&key);
            // Workers take from the tail: the tail is next to run, the head the newest.
            pipe.cmd("LRANGE").arg(&key).arg(start).arg(stop);
        } else {
            pipe.cmd("ZCARD").arg(&key);
            pipe.cmd(if newest_first { "ZREVRANGE" } else { "ZRANGE" })
                .arg(&key)
                .arg(start)
                .arg(stop);
        }
        let (total, ids): (u64, Vec<Vec<u8>>) = on(queue, self.inner.conn.pipe(&pipe)).await?;
        let mut jobs = self.hashes(queue, &ids).await?;
        jobs.iter_mut().for_each(|j| j.state = Some(window.state));
        Ok(JobPage::new(window, total, jobs))
    }

    /// One job with its state and logs, or `None`.
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, Error> {
        // The state first, then the hash: each finishing script writes both at once, so a job
        // read as finished shows its finish (read the other way round, a job finishing in
        // between read `completed` with no `returnvalue` or `finishedOn`).
        let state = self.state(queue, id).await?;
        let k = QueueKeys::new(self.prefix(), queue);
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(k.job(id));
        pipe.cmd("LRANGE").arg(k.logs(id)).arg(0).arg(-1);
        let (hash, logs): (RawHash, Vec<Vec<u8>>) = on(queue, self.inner.conn.pipe(&pipe)).await?;
        if hash.is_empty() {
            return Ok(None);
        }
        let hash = lossy(hash);
        let logs = logs
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        let mut info = JobInfo::from_hash(queue, id, &hash);
        info.state = state;
        info.logs = Some(logs);
        Ok(Some(info))
    }

    /// The state of job `id` in `queue` (`waiting`, `active`, `delayed`, `prioritized`,
    /// `completed`, `failed`, `waiting-children`), or `None` when there is no such job.
    async fn state(&self, queue: &str, id: &str) -> Result<Option<JobState>, Error> {
        let q = self.queue(queue).await?;
        let state = q
            .get_job_state(id)
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(match state.as_str() {
            // Parked by a full group (`groups.rs`): waiting for its group, not gone.
            "unknown" if self.is_parked(queue, id).await => Some(JobState::Waiting),
            "unknown" => None,
            // The engine's `wait` is read as `waiting` by the one parser; a word it may add
            // later is shown as `unknown` rather than guessed.
            s => Some(s.parse().unwrap_or(JobState::Unknown)),
        })
    }
}
