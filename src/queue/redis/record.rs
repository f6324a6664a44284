//! [`RedisStore::write_finished_run`]: a run that already happened (a crontab command run in the
//! daemon while Redis was down) written as a finished job in BullMQ's layout, by one script of
//! ours so that "is the id free" and the writes are one step: a daemon that did reach Redis
//! and enqueued (or ran) the same tick owns the id, and then nothing is written.
//!
//! What a reader sees is what BullMQ's own finish leaves: the job hash with `processedOn`,
//! `finishedOn`, `returnvalue` or `failedReason`, `atm` 1; the id in `completed` or `failed`
//! scored by `finishedOn`; a `completed` / `failed` event on the events stream (QueueEvents,
//! Bull Board). The hash also carries `local = 1` beside the data's `"local": true`, so a
//! reader of either can tell a run made during an outage. The queue's retention (the crontab
//! queue's removeOnComplete/Fail) is applied right after, as BullMQ applies it at a finish.

use std::sync::LazyLock;
use std::time::Duration;

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::error::Error;
use crate::queue::job::Retention;
use crate::queue::record::FinishedRun;
use crate::queue::script_keys;

/// KEYS[1] the job hash, [2] the finished set (`completed` or `failed`), [3] the events
/// stream. ARGV[1] id, [2] name, [3] data, [4] opts, [5] processedOn, [6] finishedOn, [7] the
/// result field (`returnvalue` / `failedReason`), [8] its value, [9] the event (`completed` /
/// `failed`), [10] keep at most this many (-1: no bound), [11] keep those finished within this
/// many ms (-1: no bound), [12] the job key prefix (`<prefix>:<queue>:`).
/// Returns 0 (a job with the id exists: nothing written) or 1 (written).
const RECORD: &str = r#"
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
local id, finished = ARGV[1], tonumber(ARGV[6])
redis.call("HSET", KEYS[1], "name", ARGV[2], "data", ARGV[3], "opts", ARGV[4],
  "timestamp", ARGV[5], "delay", 0, "priority", 0, "processedOn", ARGV[5],
  "finishedOn", ARGV[6], ARGV[7], ARGV[8], "atm", 1, "ats", 1, "local", 1)
redis.call("ZADD", KEYS[2], finished, id)
redis.call("XADD", KEYS[3], "MAXLEN", "~", 10000, "*", "event", ARGV[9], "jobId", id,
  ARGV[7], ARGV[8], "prev", "active")
local function drop(ids)
  for _, old in ipairs(ids) do
    redis.call("DEL", ARGV[12] .. old, ARGV[12] .. old .. ":logs")
    redis.call("ZREM", KEYS[2], old)
  end
end
local count, age = tonumber(ARGV[10]), tonumber(ARGV[11])
if age >= 0 then drop(redis.call("ZRANGEBYSCORE", KEYS[2], 0, finished - age - 1)) end
if count >= 0 then drop(redis.call("ZREVRANGE", KEYS[2], count, -1)) end
return 1
"#;

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RECORD));

/// (keep at most, keep within ms) as the script takes them; -1 is "no bound".
fn bounds(keep: &Retention) -> (i64, i64) {
    let ms = |d: &Duration| d.as_millis().min(i64::MAX as u128) as i64;
    match keep {
        Retention::KeepAll => (-1, -1),
        Retention::RemoveAll => (0, -1),
        Retention::Keep { count, age } => (
            count.map_or(-1, |c| c.min(i64::MAX as usize) as i64),
            age.as_ref().map_or(-1, ms),
        ),
    }
}

impl RedisStore {
    /// Writes `run` as a finished job of `queue` unless its id is taken; `true` when written.
    pub(crate) async fn write_finished_run(
        &self,
        queue: &str,
        run: &FinishedRun,
    ) -> Result<bool, Error> {
        let k = QueueKeys::new(self.prefix(), queue);
        let (set, field, value, event) = match &run.result {
            Ok(v) => ("completed", "returnvalue", v.to_string(), "completed"),
            Err(reason) => ("failed", "failedReason", reason.clone(), "failed"),
        };
        let (count, age) = bounds(&run.keep);
        let mut conn = self.inner.conn.connection();
        let mut inv = k.script(&SCRIPT, &[&run.id, set, "events"]);
        inv.arg(&run.id)
            .arg(&run.name)
            .arg(run.data.to_string())
            .arg(r#"{"attempts":1}"#)
            .arg(run.processed_on)
            .arg(run.finished_on)
            .arg(field)
            .arg(value)
            .arg(event)
            .arg(count)
            .arg(age)
            .arg(k.key(""));
        let written: i64 = script_keys::invoke(&inv, &mut conn, queue).await?;
        Ok(written == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_bounds_as_the_script_takes_them() {
        assert_eq!(bounds(&Retention::KeepAll), (-1, -1));
        assert_eq!(bounds(&Retention::RemoveAll), (0, -1));
        let keep = Retention::Keep {
            count: Some(5),
            age: Some(Duration::from_secs(2)),
        };
        assert_eq!(bounds(&keep), (5, 2000));
    }

    fn run(id: &str, finished_on: u64, result: Result<serde_json::Value, String>) -> FinishedRun {
        FinishedRun {
            id: id.into(),
            name: "e1".into(),
            data: serde_json::json!({"entry": "e1", "local": true}),
            processed_on: finished_on - 5,
            finished_on,
            result,
            keep: Retention::Keep {
                count: Some(2),
                age: None,
            },
        }
    }

    /// A run is written once, finished, never over a job that exists, within the retention.
    #[tokio::test]
    async fn a_run_is_recorded_finished_once_within_the_queue_retention() {
        use crate::queue::contract::{Browse, Produce};
        use crate::queue::redis::test_server::{connect, Redis};
        use crate::queue::state::JobState;
        let redis = Redis::start();
        let store = connect(redis.1).await;
        let q = "cron";
        // A tick another daemon enqueued: its job is left alone.
        let mut spec = crate::queue::JobSpec::new("e1", serde_json::json!({}));
        spec.job_id = Some("cron-e1-1".into());
        let taken = store.add(q, spec.validate().unwrap()).await;
        assert_eq!(taken.as_deref().ok(), Some("cron-e1-1"), "{taken:?}");
        assert!(!store
            .write_finished_run(q, &run("cron-e1-1", 1000, Ok(1.into())))
            .await
            .unwrap());
        assert_eq!(
            store.state(q, "cron-e1-1").await.unwrap(),
            Some(JobState::Waiting)
        );

        for (i, id) in ["cron-e1-2", "cron-e1-3", "cron-e1-4"].iter().enumerate() {
            let r = run(id, 2000 + i as u64, Ok(serde_json::json!({"ok": i})));
            assert!(
                store.write_finished_run(q, &r).await.unwrap(),
                "{id} written"
            );
            assert!(
                !store.write_finished_run(q, &r).await.unwrap(),
                "{id} written once"
            );
        }
        // count = 2: the oldest record was trimmed, its hash with it.
        assert_eq!(store.state(q, "cron-e1-2").await.unwrap(), None);
        let job = store.job(q, "cron-e1-4").await.unwrap().expect("recorded");
        assert_eq!(
            store.state(q, "cron-e1-4").await.unwrap(),
            Some(JobState::Completed)
        );
        assert_eq!(job.attempts_made, 1);
        assert_eq!(job.data["local"], serde_json::json!(true));

        let failed = run("cron-e1-5", 3000, Err("exit status 3".into()));
        assert!(store.write_finished_run(q, &failed).await.unwrap());
        assert_eq!(
            store.state(q, "cron-e1-5").await.unwrap(),
            Some(JobState::Failed)
        );
    }
}
