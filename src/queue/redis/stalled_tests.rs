//! The stalled check (`stalled.rs`) on a real redis-server: BullMQ's two phases, the stall
//! count and its limit, live locks, a paused queue, and the store's task with its gate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::queue::contract::{Consume, Events, Produce};

use crate::queue::events::CatchUp;
use crate::queue::state::JobState;
use async_trait::async_trait;

use super::CheckOpts;
use crate::queue::consumer::{ActiveJob, ConsumerOptions, Processor};
use crate::queue::redis::test_server::{self, connect, wait_for_state, Redis};
use crate::queue::redis::RedisStore;
use crate::queue::{job::JobSpec, job::Outcome};

async fn cmd<T: redis::FromRedisValue>(store: &RedisStore, args: &[&str]) -> T {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    store.inner.conn.cmd(&mut c).await.unwrap()
}

/// A job added by the store, then taken to `active` as a worker that died would leave it.
async fn active_job(store: &RedisStore, queue: &str) -> String {
    let id = store
        .add(
            queue,
            JobSpec::new("n", serde_json::json!({})).validate().unwrap(),
        )
        .await
        .unwrap();
    let _: i64 = cmd(store, &["LREM", &format!("bull:{queue}:wait"), "1", &id]).await;
    let _: i64 = cmd(store, &["LPUSH", &format!("bull:{queue}:active"), &id]).await;
    let _: i64 = cmd(store, &["DEL", &format!("bull:{queue}:marker")]).await;
    id
}

const OPTS: CheckOpts = CheckOpts {
    interval: Duration::from_secs(30),
    max_stalled: 1,
};

/// One round as another worker's timer would run it: the throttle of the last round is gone.
async fn round(store: &RedisStore, queue: &str) -> Vec<super::Moved> {
    let _: i64 = cmd(store, &["DEL", &format!("bull:{queue}:stalled-check")]).await;
    store.check_stalled(queue, OPTS).await.unwrap()
}

async fn list(store: &RedisStore, key: &str) -> Vec<String> {
    cmd(store, &["LRANGE", key, "0", "-1"]).await
}

#[tokio::test]
async fn an_expired_lock_is_marked_then_moved_back_counted_and_announced() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let id = active_job(&store, "q").await;

    // Round 1 only marks it (it may still be running).
    assert!(round(&store, "q").await.is_empty());
    let marked: Vec<String> = cmd(&store, &["SMEMBERS", "bull:q:stalled"]).await;
    assert_eq!(marked, [id.as_str()]);
    assert_eq!(list(&store, "bull:q:active").await, [id.as_str()]);
    // Within the interval a second check is throttled, as BullMQ's is.
    assert!(store.check_stalled("q", OPTS).await.unwrap().is_empty());
    assert_eq!(list(&store, "bull:q:active").await, [id.as_str()]);

    // Round 2: marked last round, no lock: stalled.
    let moved = round(&store, "q").await;
    assert_eq!(moved.len(), 1);
    assert_eq!(
        (
            moved[0].raw_id.as_slice(),
            moved[0].stalls,
            moved[0].deferred
        ),
        (id.as_bytes(), Some(1), false)
    );
    assert!(list(&store, "bull:q:active").await.is_empty());
    assert_eq!(list(&store, "bull:q:wait").await, [id.as_str()]);
    let stc: String = cmd(&store, &["HGET", &format!("bull:q:{id}"), "stc"]).await;
    assert_eq!(stc, "1");
    let marker: Vec<String> = cmd(&store, &["ZRANGE", "bull:q:marker", "0", "-1"]).await;
    assert_eq!(marker, ["0"], "a blocked worker is woken");
    let events = store
        .events_after(
            "q",
            CatchUp {
                after: "0",
                count: 100,
            },
        )
        .await
        .unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert!(
        names.ends_with(&["waiting", "stalled"]),
        "events: {names:?}"
    );
    let ttl: i64 = cmd(&store, &["PTTL", "bull:q:stalled-check"]).await;
    assert!(ttl > 0 && ttl <= 30_000, "throttle set: {ttl}");
}

#[tokio::test]
async fn a_live_lock_is_left_alone_and_stays_marked() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let id = active_job(&store, "q").await;
    let _: () = cmd(
        &store,
        &["SET", &format!("bull:q:{id}:lock"), "tok", "PX", "60000"],
    )
    .await;
    assert!(round(&store, "q").await.is_empty());
    assert!(round(&store, "q").await.is_empty());
    assert_eq!(list(&store, "bull:q:active").await, [id.as_str()]);
    let stc: Option<String> = cmd(&store, &["HGET", &format!("bull:q:{id}"), "stc"]).await;
    assert_eq!(stc, None);
    let marked: Vec<String> = cmd(&store, &["SMEMBERS", "bull:q:stalled"]).await;
    assert_eq!(marked, [id]);
}

#[tokio::test]
async fn a_paused_queue_gets_the_job_back_without_waking_anyone() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let id = active_job(&store, "q").await;
    let _: i64 = cmd(&store, &["HSET", "bull:q:meta", "paused", "1"]).await;
    round(&store, "q").await;
    assert_eq!(round(&store, "q").await.len(), 1);
    // BullMQ 6 keeps a paused queue's jobs in `wait`; no marker, so no worker fetches it.
    assert_eq!(list(&store, "bull:q:wait").await, [id]);
    let markers: i64 = cmd(&store, &["ZCARD", "bull:q:marker"]).await;
    assert_eq!(markers, 0);
}

/// Counts the attempts it is handed.
struct Counting(std::sync::atomic::AtomicU32);

#[async_trait]
impl Processor for Counting {
    async fn process(&self, _job: ActiveJob) -> Outcome {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Outcome::Completed(serde_json::Value::Null)
    }
}

fn consumer_opts(interval: Duration) -> ConsumerOptions {
    test_server::consumer_opts(Duration::from_secs(30), interval)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_stalled_count_the_next_fetch_fails_it_with_bullmqs_reason() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let id = active_job(&store, "q").await;
    let _: i64 = cmd(&store, &["HSET", &format!("bull:q:{id}"), "stc", "1"]).await;
    round(&store, "q").await;
    let moved = round(&store, "q").await;
    assert_eq!((moved[0].stalls, moved[0].deferred), (Some(2), true));

    // A consumer fetches it and fails it without running it (the engine honours `defa`).
    let ran = Arc::new(Counting(Default::default()));
    let consumer = store
        .consume("q", consumer_opts(Duration::from_secs(30)), ran.clone())
        .await
        .unwrap();
    let what = "the job was not failed";
    wait_for_state(&store, "q", &id, JobState::Failed, what).await;
    consumer.close(Duration::from_secs(1)).await;
    let reason: String = cmd(&store, &["HGET", &format!("bull:q:{id}"), "failedReason"]).await;
    assert_eq!(reason, "job stalled more than allowable limit");
    let finished: Option<String> =
        cmd(&store, &["HGET", &format!("bull:q:{id}"), "finishedOn"]).await;
    assert!(finished.is_some());
    assert_eq!(ran.0.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// The store's task: a consumer's crashed job comes back within two intervals and runs, and a
/// queue with nothing active never gets a check (its throttle key is never written).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_task_recovers_a_stalled_job_and_leaves_idle_queues_alone() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let id = active_job(&store, "busy").await;
    let ran = Arc::new(Counting(Default::default()));
    let interval = Duration::from_millis(300);
    let busy = store
        .consume("busy", consumer_opts(interval), ran.clone())
        .await
        .unwrap();
    let idle = store
        .consume("idle", consumer_opts(interval), ran.clone())
        .await
        .unwrap();
    let what = "the stalled job was not recovered";
    wait_for_state(&store, "busy", &id, JobState::Completed, what).await;
    let stc: String = cmd(&store, &["HGET", &format!("bull:busy:{id}"), "stc"]).await;
    assert_eq!(stc, "1");
    let checked: i64 = cmd(&store, &["EXISTS", "bull:idle:stalled-check"]).await;
    assert_eq!(checked, 0, "the idle queue was never checked");
    busy.close(Duration::from_secs(1)).await;
    idle.close(Duration::from_secs(1)).await;
    // Both gone: the task ends (no queue left to check).
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.inner.stalled.lock().running {
        assert!(Instant::now() < deadline, "the task did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
