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
