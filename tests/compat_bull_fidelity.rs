//! Bull 3/4 drop-in fidelity against the real `bull` npm package (tests/compat/bull/*.mjs, which
//! exit 0 when every check held): Bull's worker listing and Bull Board see cronq, repeatable
//! jobs keep repeating, and an id in `wait` with no job hash fails with a reason instead of
//! vanishing.

mod compat_support;
mod support;

use std::time::Duration;

use compat_support::node;
use support::*;

#[test]
fn bull_get_workers_and_bull_board_see_cronq_on_a_bull_queue() {
    let redis = Redis::start();
    let config =
        "[queues.legacy]\nlayout = \"bull\"\n[queues.legacy.handlers.plain]\nbuiltin = \"echo\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    node("bull/workers.mjs", &redis.url(), &[]);
}

#[test]
fn bull_repeatable_jobs_keep_repeating_on_cronq() {
    let redis = Redis::start();
    let config = "[worker]\nconcurrency = 2\n[queues.legacy]\nlayout = \"bull\"\n\
        [queues.legacy.handlers.tick]\nbuiltin = \"echo\"\n\
        [queues.legacy.handlers.cron]\nbuiltin = \"echo\"\n\
        [queues.legacy.handlers.limited]\nbuiltin = \"echo\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    node("bull/repeat.mjs", &redis.url(), &[]);
}

#[test]
fn an_id_in_wait_without_its_hash_fails_with_a_reason() {
    let redis = Redis::start();
    let config =
        "[queues.legacy]\nlayout = \"bull\"\n[queues.legacy.handlers.plain]\nbuiltin = \"echo\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    // A producer that pushed only the id, then a real job behind it.
    redis.cmd(&["LPUSH", "bull:legacy:wait", "ghost"]);
    redis.cmd(&[
        "HSET",
        "bull:legacy:real",
        "name",
        "plain",
        "data",
        "{\"a\":1}",
        "opts",
        "{}",
        "timestamp",
        "1",
    ]);
    redis.cmd(&["LPUSH", "bull:legacy:wait", "real"]);
    poll(Duration::from_secs(20), "the real job to complete", || {
        (!redis
            .cmd(&["ZSCORE", "bull:legacy:completed", "real"])
            .is_empty())
        .then_some(())
    });
    assert_ne!(
        redis.cmd(&["ZSCORE", "bull:legacy:failed", "ghost"]),
        "",
        "ghost is in failed"
    );
    let reason = job_field(&redis, "legacy", "ghost", "failedReason");
    assert!(
        reason.contains("bull:legacy:ghost") && reason.contains("does not exist"),
        "{reason}"
    );
    assert_eq!(redis.cmd(&["LRANGE", "bull:legacy:active", "0", "-1"]), "");
    let log = poll(Duration::from_secs(5), "the warning", || {
        let log = daemon.log();
        log.contains("had no job hash").then_some(log)
    });
    assert!(log.contains("ghost"), "{log}");
}

#[test]
fn a_repeat_iteration_taken_again_after_the_chain_moved_on_starts_no_second_chain() {
    let redis = Redis::start();
    let config =
        "[queues.legacy]\nlayout = \"bull\"\n[queues.legacy.handlers.tick]\nbuiltin = \"echo\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    // Iteration 1000 of an `every: 1000` repeatable, back in `wait` (retried, or stalled)
    // long after the chain's next iteration (score 2000) was added when it was first taken.
    let key = "tick:::1000";
    redis.cmd(&["ZADD", "bull:legacy:repeat", "2000", key]);
    let opts = format!(
        r#"{{"repeat":{{"every":1000,"count":1,"key":"{key}"}},"prevMillis":1000,"jobId":"repeat:abc:1000"}}"#
    );
    redis.cmd(&[
        "HSET",
        "bull:legacy:repeat:abc:1000",
        "name",
        "tick",
        "data",
        "{}",
        "opts",
        &opts,
        "timestamp",
        "1000",
    ]);
    redis.cmd(&["LPUSH", "bull:legacy:wait", "repeat:abc:1000"]);
    poll(Duration::from_secs(20), "the iteration to complete", || {
        (!redis
            .cmd(&["ZSCORE", "bull:legacy:completed", "repeat:abc:1000"])
            .is_empty())
        .then_some(())
    });
    // Its next was the chain's business already: nothing new was added.
    assert_eq!(redis.cmd(&["ZSCORE", "bull:legacy:repeat", key]), "2000");
    assert_eq!(
        redis.cmd(&["KEYS", "bull:legacy:repeat:abc:*"]),
        "bull:legacy:repeat:abc:1000"
    );
    assert_eq!(redis.cmd(&["ZCARD", "bull:legacy:delayed"]), "0");
}
