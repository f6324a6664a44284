//! Delayed and prioritized jobs, from `worker enqueue`, run in BullMQ's order: the plain FIFO
//! list first, then by priority (1 first), and a delayed job only after its delay.

mod support;

use std::time::{Duration, Instant};

use support::*;

#[test]
fn plain_then_priority_then_delayed() {
    let redis = Redis::start();
    let dir = TempDir::new("order");
    let out = dir.path().join("order.txt");
    let cfg = format!(
        "[worker]\nconcurrency = 1\n[queues.work.handlers.record]\nexec = \"cat >> {0}; echo >> {0}\"\nattempts = 1\n",
        out.display()
    );
    let add = |tag: &str, extra: &[&str]| {
        let data = format!(r#"{{"tag":"{tag}"}}"#);
        let mut args = vec!["work", "record", "--data", data.as_str()];
        args.extend_from_slice(extra);
        enqueue(&redis, &dir, &cfg, &args)
    };
    let added = Instant::now();
    add("late", &["--delay", "1500"]);
    add("prio5", &["--priority", "5"]);
    add("plain1", &[]);
    add("prio1", &["--priority", "1"]);
    add("plain2", &[]);
    assert_eq!(job_state(&redis, "work", "1"), "delayed");
    assert_eq!(job_state(&redis, "work", "2"), "prioritized");

    let _daemon = Daemon::start(&redis.url(), &cfg, None, &[]);
    let lines = poll(Duration::from_secs(30), "all five jobs to run", || {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let tags: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["tag"].as_str().unwrap_or_default().to_string())
            .collect();
        (tags.len() == 5).then_some(tags)
    });
    assert_eq!(lines, ["plain1", "plain2", "prio1", "prio5", "late"]);
    let started: u64 = job_field(&redis, "work", "1", "processedOn")
        .parse()
        .unwrap();
    let created: u64 = job_field(&redis, "work", "1", "timestamp").parse().unwrap();
    assert!(
        started >= created + 1500,
        "the delayed job ran {} ms after it was added",
        started - created
    );
    assert!(added.elapsed() >= Duration::from_millis(1500));
}
