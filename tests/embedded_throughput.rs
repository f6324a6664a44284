//! Throughput of the embedded store with no-op jobs at concurrency 50, in process (the store
//! and its consumer, without HTTP or handlers). A measurement, not a pass/fail on time:
//!
//! ```sh
//! cargo test --release --test embedded_throughput -- --ignored --nocapture
//! ```

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cronq::queue::{ActiveJob, ConsumerOptions, JobSpec, Outcome, Processor, Store, StoreTarget};
use support::TempDir;

const JOBS: usize = 20_000;
const PRODUCERS: usize = 50;
const CONCURRENCY: usize = 50;

struct Noop(Arc<AtomicUsize>);

#[async_trait]
impl Processor for Noop {
    async fn process(&self, _job: ActiveJob) -> Outcome {
        self.0.fetch_add(1, Ordering::Relaxed);
        Outcome::Completed(serde_json::Value::Null)
    }
}

fn options() -> ConsumerOptions {
    ConsumerOptions {
        concurrency: CONCURRENCY,
        lock_duration: Duration::from_secs(30),
        stalled_interval: Duration::from_secs(30),
        max_stalled_count: 1,
        drain_delay: Duration::from_secs(2),
        idle_release: Duration::from_secs(30),
        worker_name: "bench".into(),
        remove_on_complete: None,
        remove_on_fail: None,
        metrics_points: 0,
        groups: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: prints jobs/s"]
async fn embedded_noop_jobs_per_second() {
    let dir = TempDir::new("bench");
    let target = StoreTarget::Embedded(dir.path().join("cronq.db"));
    let store = Store::open(&target, "bull").await.unwrap();

    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..JOBS / PRODUCERS {
                    store
                        .add("bench", JobSpec::new("noop", serde_json::json!({})))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    let added = started.elapsed();
    println!(
        "add: {JOBS} jobs by {PRODUCERS} producers in {added:.2?} = {:.0} jobs/s",
        JOBS as f64 / added.as_secs_f64()
    );

    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let consumer = store
        .consume("bench", options(), Arc::new(Noop(done.clone())))
        .await
        .unwrap();
    loop {
        let counts = store.counts("bench").await.unwrap();
        if counts.completed as usize >= JOBS {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    println!(
        "run: {JOBS} no-op jobs at concurrency {CONCURRENCY} in {took:.2?} = {:.0} jobs/s",
        JOBS as f64 / took.as_secs_f64()
    );
    assert_eq!(done.load(Ordering::Relaxed), JOBS);
    consumer.close(Duration::from_secs(1)).await;
}
