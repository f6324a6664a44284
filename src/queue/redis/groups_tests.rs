//! The group scripts (`groups.rs`) on a real redis-server: putting parked jobs back keeps each
//! job's priority and skips removed ones, respects a pause, and a queue without groups never
//! loads the scripts at all (its jobs cost no extra command).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::*;
use crate::queue::consumer::{ActiveJob, ConsumerOptions, Processor};
use crate::queue::contract::{Consume, Inspect, Produce};
use crate::queue::groups::GroupCount;
use crate::queue::job::{JobSpec, Outcome};
use crate::queue::redis::group_release::RELEASE_SCRIPT;
use crate::queue::redis::test_server::{connect, consumer_opts, Redis};

async fn cmd<T: redis::FromRedisValue>(store: &RedisStore, args: &[&str]) -> T {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    store.inner.conn.cmd(&mut c).await.unwrap()
}

fn policy(cap: u32) -> GroupPolicy {
    GroupPolicy {
        by: Some(vec!["tenant".into()]),
        concurrency: NonZeroU32::new(cap),
        rate: None,
    }
}

#[tokio::test]
async fn parked_jobs_go_back_with_their_priority_and_removed_ones_are_dropped() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let g = GroupKeys::new("bull", "q");
    for (id, prio) in [("plain", "0"), ("urgent", "5")] {
        let _: i64 = cmd(
            &store,
            &[
                "HSET",
                &format!("bull:q:{id}"),
                "name",
                "n",
                "priority",
                prio,
            ],
        )
        .await;
    }
    // "gone" was removed while parked: it has no hash.
    for id in ["plain", "gone", "urgent"] {
        let _: i64 = cmd(&store, &["RPUSH", &g.parked("A"), id]).await;
    }
    let _: i64 = cmd(&store, &["SADD", &g.index(), "A"]).await;
    let _: i64 = cmd(&store, &["HSET", "bull:q:meta", "paused", "1"]).await;

    let n = store.release("q", &policy(5), "", "").await.unwrap();
    assert_eq!(n, 2, "the removed job is not put back");
    let wait: Vec<String> = cmd(&store, &["LRANGE", "bull:q:wait", "0", "-1"]).await;
    assert_eq!(wait, vec!["plain"]);
    let score: f64 = cmd(&store, &["ZSCORE", "bull:q:prioritized", "urgent"]).await;
    assert!(
        (5.0 * 4294967296.0..6.0 * 4294967296.0).contains(&score),
        "{score}"
    );
    let marker: i64 = cmd(&store, &["EXISTS", "bull:q:marker"]).await;
    assert_eq!(marker, 0, "a paused queue gets no marker");
    let index: i64 = cmd(&store, &["EXISTS", &g.index()]).await;
    assert_eq!(index, 0, "nothing left parked");
}

#[tokio::test]
async fn a_full_group_gets_nothing_back_until_a_slot_frees() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let g = GroupKeys::new("bull", "q");
    let far = (now_ms() + 60_000).to_string();
    let _: i64 = cmd(&store, &["ZADD", &g.running("A"), &far, "r1"]).await;
    for id in ["p1", "p2"] {
        let _: i64 = cmd(&store, &["HSET", &format!("bull:q:{id}"), "name", "n"]).await;
        let _: i64 = cmd(&store, &["RPUSH", &g.parked("A"), id]).await;
    }
    let _: i64 = cmd(&store, &["SADD", &g.index(), "A"]).await;
    assert_eq!(store.release("q", &policy(1), "", "").await.unwrap(), 0);
    // r1 ends: one slot, one job back, the oldest; the marker wakes the queue.
    assert_eq!(store.release("q", &policy(1), "A", "r1").await.unwrap(), 1);
    let wait: Vec<String> = cmd(&store, &["LRANGE", "bull:q:wait", "0", "-1"]).await;
    assert_eq!(wait, vec!["p1"]);
    let marker: i64 = cmd(&store, &["EXISTS", "bull:q:marker"]).await;
    assert_eq!(marker, 1);
    let counts = store.group_counts("q", &policy(1)).await.unwrap();
    assert_eq!(
        counts,
        vec![GroupCount {
            group: "A".into(),
            running: 0,
            parked: 1
        }]
    );
}

struct Done;

#[async_trait]
impl Processor for Done {
    async fn process(&self, _job: ActiveJob) -> Outcome {
        Outcome::Completed(serde_json::Value::Null)
    }
}

/// The shared test consumer's options, with four slots and `groups`.
fn opts(groups: Option<GroupPolicy>) -> ConsumerOptions {
    let thirty = Duration::from_secs(30);
    ConsumerOptions {
        concurrency: 4,
        groups,
        ..consumer_opts(thirty, thirty)
    }
}

/// Runs 20 jobs (tenant A) on `queue` with `groups` until all completed.
async fn run_20(store: &RedisStore, queue: &str, groups: Option<GroupPolicy>) {
    for _ in 0..20 {
        let spec = JobSpec::new("n", serde_json::json!({"tenant": "A"}));
        store.add(queue, spec.validate().unwrap()).await.unwrap();
    }
    let consumer = store
        .consume(queue, opts(groups), Arc::new(Done))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.counts(queue).await.unwrap().completed < 20 {
        assert!(Instant::now() < deadline, "jobs not completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    consumer.close(Duration::from_secs(1)).await;
}

/// Whether Redis has each group script cached (a script runs by EVALSHA, loaded on first use).
async fn loaded(store: &RedisStore) -> Vec<bool> {
    let mut c = redis::cmd("SCRIPT");
    c.arg("EXISTS");
    for s in [&*ADMIT_SCRIPT, &*RELEASE_SCRIPT] {
        c.arg(s.get_hash());
    }
    store.inner.conn.cmd(&mut c).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_without_groups_never_runs_the_group_scripts() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    run_20(&store, "plain", None).await;
    assert_eq!(
        loaded(&store).await,
        vec![false, false],
        "no group script ran"
    );
    let keys: Vec<String> = cmd(&store, &["KEYS", "bull:plain:cronq:group*"]).await;
    assert!(keys.is_empty(), "{keys:?}");
    // The same jobs on a grouped queue do run them (so the check above can fail).
    run_20(&store, "grouped", Some(policy(2))).await;
    assert_eq!(loaded(&store).await, vec![true, true]);
}
