//! Fair groups with a real Node producer (issue 30 point 3): the npm `bullmq` package's stock
//! `Queue.addBulk` adds 1,000 jobs with the option `group: { id: "A" }` (BullMQ Pro's option
//! name; the open-source producer stores options it does not know as they are), then 10 with
//! `group: { id: "B" }`. cronq, with no `group_by`, groups them by that option alone:
//! concurrency 4, `group_concurrency = 2`, every B job starts within the first few starts.

mod compat_support;
mod groups_support;
mod support;

use std::time::Duration;

use compat_support::node;
use cronq::queue::groups::GroupPolicy;
use cronq::queue::{RedisTarget, Store};
use groups_support::*;
use support::Redis;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_producers_group_option_groups_the_jobs() {
    let redis = Redis::start();
    for (group, n) in [("A", A_JOBS), ("B", B_JOBS)] {
        let data = format!(r#"{{"tenant":"{group}"}}"#);
        let opts = format!(r#"{{"group":{{"id":"{group}"}}}}"#);
        node(
            "add.mjs",
            &redis.url(),
            &["fair", "work", &n.to_string(), &data, &opts],
        );
    }
    let target = RedisTarget {
        url: redis.url(),
        ..Default::default()
    };
    let store = Store::connect(&target, "bull").await.unwrap();
    let policy = GroupPolicy {
        by: None,
        concurrency: std::num::NonZeroU32::new(2),
        rate: None,
    };
    let rec = Recorder::new();
    let consumer = store
        .consume("fair", options(4, policy), rec.clone())
        .await
        .unwrap();
    rec.wait_done(A_JOBS + B_JOBS, Duration::from_secs(120))
        .await;
    consumer.close(Duration::from_secs(5)).await;

    let b = rec.positions("B");
    println!(
        "redis, Node producer, opts.group.id: B starts at {b:?}; max running A {}, B {}",
        rec.max_running("A"),
        rec.max_running("B")
    );
    assert_eq!(b.len(), B_JOBS);
    assert!(b.iter().all(|&p| p < 40), "B started at {b:?}");
    assert_eq!(rec.max_running("A"), 2);
    assert!(rec.twice().is_empty(), "{:?}", rec.twice());
}
