//! A failed attempt's entry in BullMQ's `stacktrace` field.
//!
//! Node's worker appends `err.stack` to the job's `stacktrace` JSON array before every failure
//! move and sends it as a field to update; Bull Board and `job.stacktrace` show it. The engine
//! (bullmq-official 1.4.4) sends no fields with its failure moves, so the array stays empty
//! (`tests/compat` caught it: Node saw `[]` after three failed attempts). cronq appends the
//! entry itself, while it still holds the job's lock, just before handing the failure to the
//! engine. If the engine's move then fails (lock lost), the entry still records a real attempt.

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::error::Error;
use crate::queue::script_keys;

/// Appends one entry to a job's stacktrace.
///
/// KEYS[1] job hash, KEYS[2] job lock
/// ARGV[1] entry text, ARGV[2] our lock token
/// Returns 1 when appended; 0 when the job is gone or its lock is not ours (another worker
/// owns the job now and will write its own entry).
const APPEND: &str = r#"
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
if redis.call("GET", KEYS[2]) ~= ARGV[2] then return 0 end
local list = {}
local raw = redis.call("HGET", KEYS[1], "stacktrace")
if raw then
  local ok, v = pcall(cjson.decode, raw)
  if ok and type(v) == "table" then list = v end
end
table.insert(list, ARGV[1])
-- Trimmed to opts.stackTraceLimit (newest kept), as Node does; no limit when unset.
local opts = redis.call("HGET", KEYS[1], "opts")
if opts then
  local ok, o = pcall(cjson.decode, opts)
  local limit = ok and type(o) == "table" and tonumber(o["stackTraceLimit"]) or 0
  while limit > 0 and #list > limit do table.remove(list, 1) end
end
redis.call("HSET", KEYS[1], "stacktrace", cjson.encode(list))
return 1
"#;

impl RedisStore {
    /// Records a failed attempt of `queue`/`id` (held with `token`) in its stacktrace.
    pub(crate) async fn append_stacktrace(
        &self,
        queue: &str,
        id: &str,
        token: &str,
        entry: &str,
    ) -> Result<bool, Error> {
        let keys = QueueKeys::new(self.prefix(), queue);
        let mut conn = self.inner.conn.connection();
        // Hashed once: `invoke_async` sends EVALSHA and loads the source only on NOSCRIPT.
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(APPEND));
        let mut inv = keys.script(&SCRIPT, &[id, &format!("{id}:lock")]);
        inv.arg(entry).arg(token);
        let appended: i64 = script_keys::invoke(&inv, &mut conn, queue).await?;
        Ok(appended == 1)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;

    use crate::queue::consumer::{ActiveJob, Processor};
    use crate::queue::contract::{Consume, Produce};
    use crate::queue::redis::test_server::{connect, consumer_opts, wait_for_state, Redis};
    use crate::queue::state::JobState;
    use crate::queue::{job::JobSpec, job::Outcome};

    struct AlwaysFails;

    #[async_trait]
    impl Processor for AlwaysFails {
        async fn process(&self, job: ActiveJob) -> Outcome {
            Outcome::Retry(format!("attempt {} broke", job.attempt))
        }
    }

    /// Failed before the fix: the engine left `stacktrace` unset after every failed attempt.
    #[tokio::test]
    async fn every_failed_attempt_leaves_a_stacktrace_entry_trimmed_to_the_limit() {
        let redis = Redis::start();
        let store = connect(redis.1).await;
        let mut spec = JobSpec::new("n", serde_json::json!({}));
        spec.attempts = Some(3);
        spec.backoff = Some(crate::queue::job::Backoff::Fixed(Duration::from_millis(1)));
        let id = store.add("st", spec.validate().unwrap()).await.unwrap();
        let opts = consumer_opts(Duration::from_secs(5), Duration::from_secs(5));
        let consumer = store
            .consume("st", opts, Arc::new(AlwaysFails))
            .await
            .unwrap();
        let what = "the job did not fail for good";
        wait_for_state(&store, "st", &id, JobState::Failed, what).await;
        consumer.close(Duration::from_secs(1)).await;
        let raw: String = store
            .inner
            .conn
            .cmd(
                redis::cmd("HGET")
                    .arg(format!("bull:st:{id}"))
                    .arg("stacktrace"),
            )
            .await
            .unwrap();
        let trace: Vec<String> = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            trace,
            ["attempt 1 broke", "attempt 2 broke", "attempt 3 broke"]
        );

        // The limit from the job's own options, and only with the lock held.
        let key = format!("bull:st:{id}");
        let set = |k: &str, v: &str| redis::cmd("HSET").arg(&key).arg(k).arg(v).to_owned();
        let _: i64 = store
            .inner
            .conn
            .cmd(&mut set("opts", r#"{"stackTraceLimit":2}"#))
            .await
            .unwrap();
        let lock = format!("bull:st:{id}:lock");
        let _: () = store
            .inner
            .conn
            .cmd(redis::cmd("SET").arg(&lock).arg("tok"))
            .await
            .unwrap();
        assert!(!store
            .append_stacktrace("st", &id, "other", "x")
            .await
            .unwrap());
        assert!(store
            .append_stacktrace("st", &id, "tok", "newest")
            .await
            .unwrap());
        let raw: String = store
            .inner
            .conn
            .cmd(redis::cmd("HGET").arg(&key).arg("stacktrace"))
            .await
            .unwrap();
        let trace: Vec<String> = serde_json::from_str(&raw).unwrap();
        assert_eq!(trace, ["attempt 3 broke", "newest"]);
    }
}
