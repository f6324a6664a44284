//! Fair groups on the embedded store (issue 30 point 3): 1,000 jobs of group A added before 10
//! of group B, concurrency 4, `group_concurrency = 2`. Every B job starts within the first
//! few starts, and never more than 2 A jobs run at once.

mod groups_support;
mod support;

use std::time::Duration;

use cronq::queue::{Store, StoreTarget};
use groups_support::*;
use support::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_one_group_does_not_starve_another() {
    let dir = TempDir::new("groups-embedded");
    let target = StoreTarget::Embedded(dir.path().join("cronq.db"));
    let store = Store::open(&target, "bull").await.unwrap();
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
        "embedded: B starts at {b:?}; max running A {}, B {}",
        rec.max_running("A"),
        rec.max_running("B")
    );
    assert_eq!(b.len(), B_JOBS);
    assert!(b.iter().all(|&p| p < 40), "B started at {b:?}");
    assert_eq!(rec.max_running("A"), 2);
    assert!(rec.max_running("B") <= 2);
    assert!(rec.twice().is_empty(), "{:?}", rec.twice());
}

/// `group_rate = "2/h"`: two of group A's five jobs start; the three others stay ready while
/// ungrouped jobs added after them run. (Without the rate, A's older jobs run first.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_rate_caps_starts_per_window() {
    use cronq::queue::groups::{parse_group_rate, GroupPolicy};
    use cronq::queue::JobSpec;
    let dir = TempDir::new("groups-rate");
    let target = StoreTarget::Embedded(dir.path().join("cronq.db"));
    let store = Store::open(&target, "bull").await.unwrap();
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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let counts = store.counts("rate").await.unwrap();
        if (counts.completed, counts.waiting) == (5, 3) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    consumer.close(Duration::from_secs(5)).await;
}
