//! Failover errors never wedge a loop: the server turned into a replica (READONLY), a replica
//! that refuses stale reads (MASTERDOWN), and a restart that loads a dataset (LOADING) each make
//! /health say 503 while they last and 200 again at once after, and every job still completes.
//! Connection resets are covered by `faults_redis` (CLIENT KILL) and the Sentinel test.

mod fault_support;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fault_support::*;
use support::*;

const CONFIG: &str = r#"
[worker]
concurrency = 5
lock_duration = "2s"
stalled_interval = "1s"
max_stalled_count = 20
[defaults]
attempts = 20
backoff = "fixed:100"
remove_on_complete = false
[queues.work.handlers.nap]
builtin = "sleep"
"#;

fn add(daemon: &Daemon, n: usize, ms: u64) {
    for _ in 0..n {
        api_add(
            daemon.port,
            "work",
            &serde_json::json!({"name": "nap", "data": {"ms": ms}}),
        );
    }
}

/// Makes the server a replica of a port nobody listens on (it keeps its data, refuses writes)
/// until `error` shows in the daemon's log, checks /health is 503 naming the cause, then makes
/// it a primary again and returns how long /health took to say 200.
fn demote_until(redis: &Redis, daemon: &Daemon, error: &str) -> Duration {
    // The client names errors in its own words: READONLY is "ReadOnly: …", MASTERDOWN
    // "MasterDown: …"; match either spelling.
    let seen = |log: &str| log.to_ascii_uppercase().contains(error);
    redis.cmd(&["REPLICAOF", "127.0.0.1", &free_port().to_string()]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen(&daemon.log()) {
        let log = daemon.log();
        let tail = &log[log.len().saturating_sub(3000)..];
        assert!(Instant::now() < deadline, "no {error} in the log: {tail}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, body) = poll(Duration::from_secs(5), "/health to say 503", || {
        daemon.health().filter(|(code, _)| *code == 503)
    });
    let reason = body["reason"].as_str().unwrap_or("").to_ascii_uppercase();
    assert!(
        reason.contains("NO WRITABLE PRIMARY") || reason.contains(error),
        "{body}"
    );
    redis.cmd(&["REPLICAOF", "NO", "ONE"]);
    let back = Instant::now();
    poll(Duration::from_secs(5), "/health to say 200", || {
        daemon.health().filter(|(code, _)| *code == 200)
    });
    back.elapsed()
}

#[test]
fn readonly_and_masterdown_make_health_503_and_recover() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();

    add(&daemon, 60, 100);
    let readonly = demote_until(&redis, &daemon, "READONLY");
    println!("READONLY: writable again -> /health 200 in {readonly:?}");

    // A replica that may not serve stale data answers MASTERDOWN to nearly everything.
    redis.cmd(&["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    add(&daemon, 60, 100);
    let masterdown = demote_until(&redis, &daemon, "MASTERDOWN");
    println!("MASTERDOWN: writable again -> /health 200 in {masterdown:?}");

    add(&daemon, 20, 10);
    wait_all_completed(&redis, "work", 140, Duration::from_secs(90));
    assert_eq!(count(&redis, "work", "active"), 0, "jobs left active");
    assert_eq!(count(&redis, "work", "failed"), 0, "jobs failed");
}

#[test]
fn loading_after_a_restart_makes_health_503_and_recovers() {
    // Loading is slowed (a delay per key, events served every KiB) so it is seen, not raced.
    let mut redis = Redis::start_with(&[
        "--enable-debug-command",
        "yes",
        "--key-load-delay",
        "50",
        "--loading-process-events-interval-bytes",
        "1024",
    ]);
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    add(&daemon, 40, 50);
    redis.cmd(&["DEBUG", "POPULATE", "20000", "filler"]);
    redis.cmd(&["SAVE"]);

    // Watches /health through the restart and keeps every unhealthy reason.
    let stop = Arc::new(AtomicBool::new(false));
    let reasons = Arc::new(Mutex::new(Vec::<String>::new()));
    let watcher = {
        let (stop, reasons, url) = (stop.clone(), reasons.clone(), daemon.health_url());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some((503, body)) = http_get(&url) {
                    let reason = body["reason"].as_str().unwrap_or("").to_string();
                    reasons.lock().unwrap().push(reason);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    redis.restart(); // Returns once PING answers PONG, i.e. after loading.
    let loaded = Instant::now();
    let healthy = poll(Duration::from_secs(5), "/health to say 200", || {
        daemon
            .health()
            .filter(|(code, _)| *code == 200)
            .map(|_| loaded.elapsed())
    });
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    println!("LOADING: loaded -> /health 200 in {healthy:?}");
    let reasons = reasons.lock().unwrap();
    assert!(
        reasons.iter().any(|r| r.contains("loading the dataset")),
        "/health never reported LOADING: {reasons:?}"
    );

    add(&daemon, 10, 10);
    wait_all_completed(&redis, "work", 50, Duration::from_secs(90));
    assert_eq!(count(&redis, "work", "active"), 0, "jobs left active");
}
