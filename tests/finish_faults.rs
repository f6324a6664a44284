//! A job whose outcome cannot be written is never lost. BullMQ's finishing script takes the job
//! out of `active` and deletes its lock before it adds it to `completed`; when that last write
//! fails (here `completed` is a string a foreign tool wrote: WRONGTYPE), the job used to sit in
//! no state at all, never retried nor failed. Now it ends in `failed` with a reason naming the
//! queue and the key, and runs again once retried after the key is repaired.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cronq::queue::{ActiveJob, ConsumerOptions, JobSpec, Outcome, Processor, RedisTarget, Store};
use support::Redis;

const Q: &str = "mail";

/// Completes every job, counting runs.
#[derive(Default)]
struct Completes(AtomicUsize);

#[async_trait]
impl Processor for Completes {
    async fn process(&self, _job: ActiveJob) -> Outcome {
        self.0.fetch_add(1, Ordering::SeqCst);
        Outcome::Completed(serde_json::json!("ok"))
    }
}

fn options() -> ConsumerOptions {
    ConsumerOptions {
        concurrency: 1,
        lock_duration: Duration::from_secs(2),
        stalled_interval: Duration::from_secs(1),
        max_stalled_count: 1,
        drain_delay: Duration::from_secs(1),
        idle_release: Duration::from_secs(30),
        worker_name: "finish-faults".into(),
        remove_on_complete: None,
        remove_on_fail: None,
        metrics_points: 0,
        groups: None,
    }
}

async fn state_becomes(store: &Store, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = store.state(Q, id).await.unwrap();
        if state.map(|s| s.as_str()) == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} is {state:?}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Before: the job stayed in no state (`state` None) forever, even after the key was repaired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_that_cannot_be_written_fails_the_job_naming_queue_and_key() {
    let redis = Redis::start();
    let target = RedisTarget {
        url: redis.url(),
        ..Default::default()
    };
    let store = Store::connect(&target, "bull").await.unwrap();
    redis.cmd(&["SET", "bull:mail:completed", "not a zset"]);
    let id = store
        .add(Q, JobSpec::new("send", serde_json::json!({})))
        .await
        .unwrap();
    let runs = Arc::new(Completes::default());
    let consumer = store.consume(Q, options(), runs.clone()).await.unwrap();
    // `state` itself fails while `completed` is broken (BullMQ's getState reads it): ask Redis.
    let deadline = Instant::now() + Duration::from_secs(20);
    while redis.cmd(&["ZSCORE", "bull:mail:failed", &id]).is_empty() {
        assert!(
            Instant::now() < deadline,
            "job {id} never reached failed; active: {}",
            redis.cmd(&["LRANGE", "bull:mail:active", "0", "-1"])
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reason = redis.cmd(&["HGET", &format!("bull:mail:{id}"), "failedReason"]);
    assert!(
        reason.contains("queue mail") && reason.contains("bull:mail:completed"),
        "the reason names queue and key: {reason}"
    );
    // Repaired and retried: it runs again and completes.
    redis.cmd(&["DEL", "bull:mail:completed"]);
    store.retry_job(Q, &id).await.unwrap();
    state_becomes(&store, &id, "completed").await;
    assert_eq!(runs.0.load(Ordering::SeqCst), 2);
    consumer.close(Duration::from_secs(2)).await;
}
