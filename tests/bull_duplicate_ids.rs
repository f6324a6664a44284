//! Bull 3/4 layout: an id present twice in `wait` runs once. The second copy is taken while the
//! first runs (its lock is live), so take.lua drops it from `active` and the consumer logs it;
//! the first run completes once.

mod support;

use std::time::Duration;

use support::*;

/// Before: two runs at once (one per copy; the second overwrote the first's lock).
#[test]
fn an_id_twice_in_bull_wait_runs_once() {
    let redis = Redis::start();
    let dir = TempDir::new("bull-twice");
    let ran = dir.path().join("ran");
    // The run lasts ~2 s so that the second copy is fetched while the first holds its lock
    // (concurrency 2: a free slot takes it at once).
    let config = format!(
        r#"
[worker]
concurrency = 2
[queues.twice]
layout = "bull"
[queues.twice.handlers.work]
exec = '''echo "$JOB_ID" >> {}; sleep 2; echo '{{"ok":true}}' '''
"#,
        ran.display()
    );
    write_plain_job(&redis, "twice", "dup", "work");
    redis.cmd(&["LPUSH", "bull:twice:wait", "dup", "dup"]);
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    poll(Duration::from_secs(30), "the job to complete", || {
        (!redis
            .cmd(&["ZSCORE", "bull:twice:completed", "dup"])
            .is_empty())
        .then_some(())
    });
    let runs = std::fs::read_to_string(&ran).unwrap_or_default();
    assert_eq!(runs.lines().count(), 1, "one run in all, got: {runs:?}");
    assert_eq!(redis.cmd(&["LLEN", "bull:twice:wait"]), "0");
    assert_eq!(redis.cmd(&["LLEN", "bull:twice:active"]), "0");
    let log = daemon.log();
    assert!(
        log.lines().any(|l| l.contains("was in wait more than once")
            && l.contains("twice")
            && l.contains("dup")),
        "a WARN naming the queue and the id, log:\n{log}"
    );
}
