//! Fair groups on BullMQ's layout in Redis (issue 30 point 3): 1,000 jobs of group A added
//! before 10 of group B, concurrency 4, `group_concurrency = 2`. Every B job starts within the
//! first few starts and never more than 2 A jobs run at once, with one consumer and with two
//! (two stores on one Redis, as two replicas: the per-group count lives in Redis).

mod groups_support;
mod support;

use std::time::Duration;

use cronq::queue::{RedisTarget, Store};
use groups_support::*;
use support::Redis;

async fn store(redis: &Redis) -> Store {
    let target = RedisTarget {
        url: redis.url(),
        ..Default::default()
    };
    Store::connect(&target, "bull").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_one_group_does_not_starve_another() {
    let redis = Redis::start();
    let store = store(&redis).await;
    add_scenario(&store, "fair").await;
    let rec = Recorder::new();
    let consumer = store
        .consume("fair", options(4, by_tenant(2)), rec.clone())
        .await
        .unwrap();
    rec.wait_done(A_JOBS + B_JOBS, Duration::from_secs(120))
        .await;
    consumer.close(Duration::from_secs(5)).await;

    let b = rec.positions("B");
    println!(
        "redis, one consumer: B starts at {b:?}; max running A {}, B {}",
        rec.max_running("A"),
        rec.max_running("B")
    );
    assert_eq!(b.len(), B_JOBS);
    assert!(b.iter().all(|&p| p < 40), "B started at {b:?}");
    assert_eq!(rec.max_running("A"), 2);
    assert!(rec.twice().is_empty(), "{:?}", rec.twice());
    assert_eq!(redis.cmd(&["ZCARD", "bull:fair:completed"]), "1010");
    assert_eq!(
        redis.cmd(&["EXISTS", "bull:fair:cronq:groups"]),
        "0",
        "nothing left parked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_cap_holds_across_two_replicas() {
    let redis = Redis::start();
    let (one, two) = (store(&redis).await, store(&redis).await);
    add_scenario(&one, "fair").await;
    let rec = Recorder::new();
    let c1 = one
        .consume("fair", options(4, by_tenant(2)), rec.clone())
        .await
        .unwrap();
    let c2 = two
        .consume("fair", options(4, by_tenant(2)), rec.clone())
        .await
        .unwrap();
    rec.wait_done(A_JOBS + B_JOBS, Duration::from_secs(120))
        .await;
    c1.close(Duration::from_secs(5)).await;
    c2.close(Duration::from_secs(5)).await;

    let b = rec.positions("B");
    println!(
        "redis, two replicas: B starts at {b:?}; max running A {}, B {}",
        rec.max_running("A"),
        rec.max_running("B")
    );
    assert_eq!(b.len(), B_JOBS);
    assert!(b.iter().all(|&p| p < 40), "B started at {b:?}");
    assert_eq!(rec.max_running("A"), 2, "8 slots in all, 2 for group A");
    assert!(rec.twice().is_empty(), "{:?}", rec.twice());
    assert_eq!(redis.cmd(&["ZCARD", "bull:fair:completed"]), "1010");
}

/// `group_rate = "2/h"`: two of group A's five jobs start; the three others are parked while
/// ungrouped jobs added after them run. (Without the rate, A's older jobs run first.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_rate_caps_starts_per_window() {
    use cronq::queue::groups::{parse_group_rate, GroupPolicy};
    use cronq::queue::JobSpec;
    let redis = Redis::start();
    let store = store(&redis).await;
    let five_a = std::iter::repeat_n(serde_json::json!({"tenant": "A"}), 5);
    for data in five_a.chain(std::iter::repeat_n(serde_json::json!({}), 3)) {
        store.add("rate", JobSpec::new("work", data)).await.unwrap();
    }
    let policy = GroupPolicy {
        by: Some(vec!["tenant".into()]),
        concurrency: None,
        rate: Some(parse_group_rate("2/h").unwrap()),
    };
    let done = Counter::new();
    let consumer = store
        .consume("rate", options(4, policy), done.clone())
        .await
        .unwrap();
    done.wait_ungrouped(3, Duration::from_secs(30)).await;
    done.wait_grouped(2, Duration::from_secs(30)).await;
    assert_eq!(done.grouped(), 2, "two starts of A in this hour");
    assert_eq!(redis.cmd(&["LLEN", "bull:rate:cronq:groups:A:parked"]), "3");
    let ttl: i64 = redis
        .cmd(&["PTTL", "bull:rate:cronq:groups:A:rate"])
        .parse()
        .unwrap();
    assert!(
        ttl > 3_500_000 && ttl <= 3_600_000,
        "the window ends in an hour: {ttl}"
    );
    consumer.close(Duration::from_secs(5)).await;
}

/// What a group costs Redis, in commands per job (`INFO stats` before and after 200 jobs),
/// without groups and with them. A measurement, not a pass/fail:
/// `cargo nextest run --test groups_redis cost --run-ignored only --no-capture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: prints Redis commands per job"]
async fn cost_in_redis_commands_per_job() {
    use cronq::queue::JobSpec;
    let redis = Redis::start();
    let store = store(&redis).await;
    let total = |r: &Redis| -> u64 {
        let info = r.cmd(&["INFO", "stats"]);
        info.lines()
            .find_map(|l| l.strip_prefix("total_commands_processed:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    for (queue, groups) in [("plain", None), ("grouped", Some(by_tenant(2)))] {
        for i in 0..200 {
            let data = serde_json::json!({"tenant": format!("t{}", i % 4)});
            store.add(queue, JobSpec::new("work", data)).await.unwrap();
        }
        let before = total(&redis);
        let mut opts = options(4, by_tenant(2));
        opts.groups = groups;
        let done = Counter::new();
        let consumer = store.consume(queue, opts, done.clone()).await.unwrap();
        done.wait_grouped(200, Duration::from_secs(60)).await;
        consumer.close(Duration::from_secs(5)).await;
        let per_job = (total(&redis) - before) as f64 / 200.0;
        println!("{queue}: {per_job:.1} Redis commands per job (4 groups, concurrency 4)");
    }
}
