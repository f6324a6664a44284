//! An id present twice in `wait` never runs twice at once: the second copy fetched while the
//! first runs is dropped from `active` (with a log line), the first run keeps its lock past the
//! lock duration, completes once, and no stalled check brings it back.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cronq::queue::{ActiveJob, ConsumerOptions, Outcome, Processor, RedisTarget, Store};
use support::{write_plain_job, Redis};

/// Counts runs and holds each until `release` is notified.
#[derive(Default)]
struct Held {
    runs: AtomicUsize,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
    release: tokio::sync::Notify,
}

#[async_trait]
impl Processor for Held {
    async fn process(&self, _job: ActiveJob) -> Outcome {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        self.release.notified().await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Outcome::Completed(serde_json::json!("ok"))
    }
}

fn options() -> ConsumerOptions {
    ConsumerOptions {
        concurrency: 4,
        // Short: the held run outlives several lock durations and stalled checks.
        lock_duration: Duration::from_secs(1),
        stalled_interval: Duration::from_millis(500),
        max_stalled_count: 5,
        drain_delay: Duration::from_secs(1),
        idle_release: Duration::from_secs(30),
        worker_name: "duplicate-ids".into(),
        remove_on_complete: None,
        remove_on_fail: None,
        metrics_points: 0,
        groups: None,
    }
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Before: 2 runs at once (one per copy), and a third through stalled recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_twice_in_wait_runs_once() {
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
    write_plain_job(&redis, "q", "twice", "send");
    redis.cmd(&["LPUSH", "bull:q:wait", "twice", "twice"]);
    redis.cmd(&["ZADD", "bull:q:marker", "0", "0"]);
    let held = Arc::new(Held::default());
    let consumer = store.consume("q", options(), held.clone()).await.unwrap();
    until("the first run, and the second copy out of wait", || {
        held.runs.load(Ordering::SeqCst) >= 1 && redis.cmd(&["LLEN", "bull:q:wait"]) == "0"
    })
    .await;
    until("one copy left in active", || {
        redis.cmd(&["LLEN", "bull:q:active"]) == "1"
    })
    .await;
    // Held past three lock durations: the lock must still be renewed for the first run.
    let start = Instant::now();
    until("three lock durations", || {
        start.elapsed() > Duration::from_secs(3)
    })
    .await;
    assert_eq!(
        held.most_at_once.load(Ordering::SeqCst),
        1,
        "never twice at once"
    );
    held.release.notify_waiters();
    until("the job to complete", || {
        !redis
            .cmd(&["ZSCORE", "bull:q:completed", "twice"])
            .is_empty()
    })
    .await;
    assert_eq!(held.runs.load(Ordering::SeqCst), 1, "one run in all");
    assert_eq!(redis.cmd(&["LLEN", "bull:q:active"]), "0");
    assert_eq!(
        redis.cmd(&["HGET", "bull:q:twice", "stc"]),
        "",
        "no stall counted"
    );
    consumer.close(Duration::from_secs(2)).await;
}

/// 25.23 across daemons: two daemons on one Redis, one slot each, so each takes one copy of an
/// id pushed twice into `wait` (the per-daemon check cannot see the other's run). Before: both
/// ran it (the second `moveToActive` overwrote the first's lock). After: one runs; the other
/// drops its copy from `active` with a WARN, and the job completes once. The run (1 s) is
/// shorter than a quarter of the lock (30 s): the owner never claims, and its finish, refused
/// on the copy's lock, is written by the hand-back repair (run_claim.rs, handback.rs).
#[test]
fn an_id_twice_in_wait_runs_once_across_two_daemons() {
    twice_across_two_daemons("", 1, true);
}

/// The same with a run (3 s) longer than a quarter of the lock (2 s): the owner claims while
/// it runs, taking its lock back from the dropped copy, and finishes without a repair.
#[test]
fn a_long_run_of_an_id_twice_in_wait_claims_its_lock_back_and_runs_once() {
    twice_across_two_daemons("lock_duration = \"2s\"", 3, false);
}

/// `repaired`: whether the owner's outcome is written by the hand-back repair.
fn twice_across_two_daemons(worker: &str, secs: u32, repaired: bool) {
    use support::{poll, Daemon, TempDir};
    let redis = Redis::start();
    let dir = TempDir::new("twice-two-daemons");
    let ran = dir.path().join("ran");
    // The run lasts long enough that the other daemon fetches the second copy while it runs.
    let config = format!(
        r#"
[worker]
concurrency = 1
{worker}
[queues.q.handlers.work]
exec = '''echo "$JOB_ID" >> {}; sleep {secs}; echo '{{"ok":true}}' '''
"#,
        ran.display()
    );
    let daemons = [
        Daemon::start(&redis.url(), &config, None, &[]),
        Daemon::start(&redis.url(), &config, None, &[]),
    ];
    for d in &daemons {
        d.wait_healthy();
    }
    write_plain_job(&redis, "q", "dup", "work");
    redis.cmd(&["LPUSH", "bull:q:wait", "dup", "dup"]);
    redis.cmd(&["ZADD", "bull:q:marker", "0", "0"]);
    poll(Duration::from_secs(30), "the job to complete", || {
        (!redis.cmd(&["ZSCORE", "bull:q:completed", "dup"]).is_empty()).then_some(())
    });
    // Both daemons idle: nothing left to fetch or run.
    poll(Duration::from_secs(30), "wait and active to empty", || {
        (redis.cmd(&["LLEN", "bull:q:wait"]) == "0" && redis.cmd(&["LLEN", "bull:q:active"]) == "0")
            .then_some(())
    });
    let runs = std::fs::read_to_string(&ran).unwrap_or_default();
    assert_eq!(runs.lines().count(), 1, "one run in all, got: {runs:?}");
    let events = redis.cmd(&["XRANGE", "bull:q:events", "-", "+"]);
    assert_eq!(
        events.lines().filter(|l| l.trim() == "completed").count(),
        1,
        "completed once: {events}"
    );
    assert_eq!(
        redis.cmd(&["HGET", "bull:q:dup", "stc"]),
        "",
        "no stall counted"
    );
    let warned = daemons
        .iter()
        .filter(|d| d.log().contains("another daemon runs this attempt"))
        .count();
    assert_eq!(warned, 1, "one daemon names the dropped copy");
    let repairs = daemons
        .iter()
        .filter(|d| d.log().contains("written with the job's lock"))
        .count();
    assert_eq!(
        repairs,
        usize::from(repaired),
        "outcomes written by the repair"
    );
}
