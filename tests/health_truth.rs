//! `/health` and the queue listing tell the store's real error: a wrong-typed key in one queue
//! (consumed or foreign) is that queue's row error, named by key, and the daemon stays healthy;
//! a Redis at `maxmemory` (noeviction) refuses adds with a retryable 503 and `/health` says
//! why; an eviction policy that deletes jobs is warned about at start.

mod support;

use std::time::Duration;

use support::*;

const CONFIG: &str = r#"
[queues.mail.handlers.send]
builtin = "noop"
[defaults]
remove_on_complete = false
"#;

fn queues(daemon: &Daemon) -> (u16, serde_json::Value) {
    http_get(&format!("http://127.0.0.1:{}/api/queues", daemon.port)).expect("/api/queues answered")
}

/// Before: `/health` 503 "counting queue mail got no answer within 2s" (answered at once),
/// `/api/queues` 500 for every queue. After: 200 healthy, each broken queue's row names its key.
#[test]
fn a_wrong_typed_key_is_its_queues_error_not_the_daemons() {
    let redis = Redis::start();
    redis.cmd(&["SET", "bull:mail:completed", "oops"]);
    // A queue this daemon does not consume, found by discovery through its meta hash.
    redis.cmd(&["HSET", "bull:foreign:meta", "opts.maxLenEvents", "10000"]);
    redis.cmd(&["SET", "bull:foreign:failed", "oops"]);
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    let body = daemon.wait_healthy();
    let row = &body["queues"]["mail"];
    let error = row["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error on the row: {body}"));
    assert!(
        error.contains("mail") && error.contains("bull:mail:completed") && error.contains("string"),
        "the row names queue, key and type: {error}"
    );
    assert!(
        body["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("bull:mail:completed")),
        "{body}"
    );

    let (code, list) = queues(&daemon);
    assert_eq!(
        code, 200,
        "one broken queue must not fail the listing: {list}"
    );
    let row = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no row for {name}: {list}"))
    };
    assert!(
        row("foreign")["error"]
            .as_str()
            .is_some_and(|e| e.contains("bull:foreign:failed")),
        "{list}"
    );
    assert!(
        row("mail")["error"]
            .as_str()
            .is_some_and(|e| e.contains("bull:mail:completed")),
        "{list}"
    );
}

/// Before: every add answered 500 `internal` and `/health` stayed 200 healthy. After: the add
/// answers 503 with `Retry-After`, and `/health` is 503 with Redis' OOM reason.
#[test]
fn redis_out_of_memory_is_a_retryable_503_and_an_unhealthy_health() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    // noeviction is Redis' default: past maxmemory every write is refused with OOM.
    redis.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    let resp = reqwest::blocking::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/api/queues/mail/jobs",
            daemon.port
        ))
        .header("content-type", "application/json")
        .body(r#"{"name":"send","data":{}}"#)
        .send()
        .unwrap();
    let code = resp.status().as_u16();
    let retry_after = resp.headers().get("retry-after").cloned();
    let text = resp.text().unwrap();
    assert_eq!(code, 503, "{text}");
    assert!(retry_after.is_some(), "a 503 says when to retry");
    assert!(text.contains("OOM") && text.contains("mail"), "{text}");
    let (code, body) = daemon.health().unwrap();
    assert_eq!(code, 503, "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("OOM") && reason.contains("command not allowed"),
        "{body}"
    );
    // Room made: the next add works and health is healthy again.
    redis.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    let (code, text) = http(
        "POST",
        &format!("http://127.0.0.1:{}/api/queues/mail/jobs", daemon.port),
        Some(r#"{"name":"send","data":{}}"#),
        None,
    );
    assert_eq!(code, 201, "{text}");
    poll(Duration::from_secs(10), "health healthy again", || {
        daemon.health().filter(|(c, _)| *c == 200)
    });
}

/// Before: nothing said that `allkeys-lru` deletes jobs when memory runs out.
#[test]
fn an_evicting_redis_is_warned_about_at_start() {
    let redis = Redis::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    let log = daemon.log();
    assert!(
        log.contains("maxmemory-policy")
            && log.contains("allkeys-lru")
            && log.contains("noeviction"),
        "{log}"
    );
}

/// Before: fetches failed every 0.5 s with a WARN naming neither queue nor key. After: one
/// ERROR names the queue, the key, its type and the fix.
#[test]
fn a_wrong_typed_wait_key_is_named_in_the_log() {
    let redis = Redis::start();
    redis.cmd(&["SET", "bull:mail:wait", "oops"]);
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    let line = poll(
        Duration::from_secs(10),
        "the broken key to be named",
        || {
            daemon
                .log()
                .lines()
                .find(|l| l.contains("wrong type") && l.contains("bull:mail:wait"))
                .map(String::from)
        },
    );
    assert!(
        line.contains(r#""queue":"mail""#) && line.contains("string"),
        "{line}"
    );
}
