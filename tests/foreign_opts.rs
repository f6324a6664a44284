//! A BullMQ job whose options Node reads but a strict parser refuses keeps its retries: a
//! backoff delay that is not an integer (`delay: 1000.5`, jitter from `Math.random()`) or
//! `attempts: "3"` as a string made the engine drop the whole `opts`, so the job failed at its
//! first error where a Node worker retries it. Each option is now read on its own.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cronq::queue::{ActiveJob, ConsumerOptions, Outcome, Processor, RedisTarget, Store};
use support::Redis;

/// Fails every run with a retryable error, counting runs.
#[derive(Default)]
struct AlwaysRetry(AtomicUsize);

#[async_trait]
impl Processor for AlwaysRetry {
    async fn process(&self, _job: ActiveJob) -> Outcome {
        self.0.fetch_add(1, Ordering::SeqCst);
        Outcome::Retry("boom".into())
    }
}

fn options() -> ConsumerOptions {
    ConsumerOptions {
        concurrency: 2,
        lock_duration: Duration::from_secs(5),
        stalled_interval: Duration::from_secs(5),
        max_stalled_count: 1,
        drain_delay: Duration::from_secs(1),
        idle_release: Duration::from_secs(30),
        worker_name: "foreign-opts".into(),
        remove_on_complete: None,
        remove_on_fail: None,
        metrics_points: 0,
        groups: None,
    }
}

/// Before: 1 run each, then `failed`. After: 3 runs each (as a Node worker), then `failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_but_numeric_retry_options_keep_their_retries() {
    let redis = Redis::start();
    let store = Store::connect(
        &RedisTarget {
            url: redis.url(),
            ..Default::default()
        },
        "bull",
    )
    .await
    .unwrap();
    let jobs = [
        (
            "f1",
            r#"{"attempts":3,"backoff":{"type":"fixed","delay":20.5}}"#,
        ),
        (
            "f2",
            r#"{"attempts":"3","backoff":{"type":"exponential","delay":10}}"#,
        ),
    ];
    for (id, opts) in jobs {
        redis.cmd(&[
            "HSET",
            &format!("bull:q:{id}"),
            "name",
            "send",
            "data",
            "{}",
            "opts",
            opts,
            "timestamp",
            "1",
            "delay",
            "0",
            "priority",
            "0",
        ]);
        redis.cmd(&["LPUSH", "bull:q:wait", id]);
    }
    redis.cmd(&["ZADD", "bull:q:marker", "0", "0"]);
    let runs = Arc::new(AlwaysRetry::default());
    let consumer = store.consume("q", options(), runs.clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while redis.cmd(&["ZCARD", "bull:q:failed"]) != "2" {
        assert!(
            Instant::now() < deadline,
            "both jobs end failed; runs so far: {runs:?}",
            runs = runs.0.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(runs.0.load(Ordering::SeqCst), 6, "three attempts each");
    for (id, _) in jobs {
        assert_eq!(
            redis.cmd(&["HGET", &format!("bull:q:{id}"), "atm"]),
            "3",
            "job {id}"
        );
    }
    consumer.close(Duration::from_secs(2)).await;
}
