//! An add that fails on the store's side after the add script wrote part of the job answers
//! the truth, never a blind 500: the job is in the queue (2xx with its id and a note), or it
//! is not (503 + Retry-After), and retrying the same request never makes a second job.

mod support;

use support::*;

const TOKEN: &str = "t0ken-for-tests";
// `other` is not declared: nothing consumes it, so its wrong-typed keys disturb no worker.
const CONFIG: &str = r#"
[queues.mail.handlers.send]
builtin = "echo"
"#;

/// POST an add → (status, Retry-After header, JSON body).
fn add(stack: &Stack, queue: &str, body: &str) -> (u16, Option<String>, serde_json::Value) {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/api/queues/{queue}/jobs", stack.base()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("the daemon answers");
    let code = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (code, retry, resp.json().unwrap_or(serde_json::Value::Null))
}

/// Job hashes of `queue` (keys `bull:<queue>:<id>` holding a hash).
fn job_hashes(redis: &Redis, queue: &str) -> Vec<String> {
    let keys = redis.cmd(&["KEYS", &format!("bull:{queue}:*")]);
    keys.lines()
        .filter(|k| redis.cmd(&["TYPE", k]).trim() == "hash")
        .filter(|k| !k.ends_with(":meta"))
        .map(str::to_string)
        .collect()
}

/// Before: 500 `internal` although the job hash was written. The `events` stream is a string:
/// the add script writes the job hash, then its XADD fails.
#[test]
fn a_failed_add_that_wrote_the_hash_is_a_retryable_503_and_a_retry_adds_no_second_job() {
    let stack = Stack::start(StoreKind::Redis, CONFIG, &[("API_TOKEN", TOKEN)]);
    let redis = stack.redis();
    redis.cmd(&["SET", "bull:other:events", "not-a-stream"]);
    let body = r#"{"name":"send","jobId":"order-7"}"#;
    let (code, retry, resp) = add(&stack, "other", body);
    assert_ne!(code, 500, "{resp}");
    // The job hash is written but the job is in no list: it is not in the queue.
    assert_eq!(code, 503, "{resp}");
    assert_eq!(retry.as_deref(), Some("5"));
    let message = resp["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("order-7") && message.contains("retry"),
        "{message}"
    );
    // 25.12: the hash the failed script wrote is removed (before: it stayed, in no list).
    assert_eq!(
        job_hashes(redis, "other"),
        Vec::<String>::new(),
        "no stranded hash"
    );

    let (code, _, resp) = add(&stack, "other", body);
    assert_eq!(code, 503, "{resp}");
    assert_eq!(
        job_hashes(redis, "other"),
        Vec::<String>::new(),
        "a retry with the jobId adds no second job and leaves nothing behind"
    );

    // Once the cause is fixed, the same request adds the job (a stranded hash made it a no-op).
    redis.cmd(&["DEL", "bull:other:events"]);
    let (code, _, resp) = add(&stack, "other", body);
    assert_eq!(code, 201, "{resp}");
    assert_eq!(
        redis.cmd(&["LRANGE", "bull:other:wait", "0", "-1"]).trim(),
        "order-7"
    );
}

/// 25.12's limit: a failed add removes only the hash it wrote. A hash already there (another
/// producer between its `HSET` and its `LPUSH`) is older than the add and is kept.
#[test]
fn a_failed_add_keeps_a_hash_written_before_it() {
    let stack = Stack::start(StoreKind::Redis, CONFIG, &[("API_TOKEN", TOKEN)]);
    let redis = stack.redis();
    redis.cmd(&["SET", "bull:other:events", "not-a-stream"]);
    redis.cmd(&[
        "HSET",
        "bull:other:early-1",
        "name",
        "send",
        "data",
        "{}",
        "timestamp",
        "1",
    ]);
    let (code, _, resp) = add(&stack, "other", r#"{"name":"send","jobId":"early-1"}"#);
    assert_ne!(code, 500, "{resp}");
    assert_eq!(job_hashes(redis, "other"), ["bull:other:early-1"]);
}

/// Without a jobId the answer cannot tell whether the job was written: 503 saying a retry may
/// add it twice and how to make adds idempotent.
#[test]
fn a_failed_add_without_a_job_id_says_a_retry_may_duplicate() {
    let stack = Stack::start(StoreKind::Redis, CONFIG, &[("API_TOKEN", TOKEN)]);
    stack
        .redis()
        .cmd(&["SET", "bull:other:events", "not-a-stream"]);
    let (code, retry, resp) = add(&stack, "other", r#"{"name":"send"}"#);
    assert_eq!(code, 503, "{resp}");
    assert_eq!(retry.as_deref(), Some("5"));
    let message = resp["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("retrying may add the job twice; give a jobId"),
        "{message}"
    );
}

/// Before: 500. The marker is a string: the job hash is written and the job pushed to `wait`,
/// then the marker's ZADD fails. The job is in the queue: 201 with its id and a note, and a
/// retry answers 200 `existed` without a second job.
#[test]
fn a_failed_add_whose_job_is_queued_answers_as_added() {
    let stack = Stack::start(StoreKind::Redis, CONFIG, &[("API_TOKEN", TOKEN)]);
    let redis = stack.redis();
    redis.cmd(&["SET", "bull:other:marker", "not-a-zset"]);
    let body = r#"{"name":"send","jobId":"order-8"}"#;
    let (code, _, resp) = add(&stack, "other", body);
    assert_eq!(code, 201, "{resp}");
    assert_eq!(resp["id"], "order-8");
    assert_eq!(resp["existed"], false);
    assert!(resp["note"].as_str().unwrap().contains("waiting"), "{resp}");
    assert_eq!(ids_in(redis, "other", "wait"), ["order-8"]);

    let (code, _, resp) = add(&stack, "other", body);
    assert_eq!(code, 200, "{resp}");
    assert_eq!(resp["existed"], true);
    assert_eq!(job_hashes(redis, "other"), ["bull:other:order-8"]);
    assert_eq!(ids_in(redis, "other", "wait"), ["order-8"]);
}

/// 25.12 with the key the issue names: a `wait` of the wrong type. The add fails after its
/// script wrote the hash; the answer is a retryable 503 naming the job, and nothing is left.
#[test]
fn a_failed_add_into_a_wrong_typed_wait_is_a_503_and_leaves_nothing() {
    let stack = Stack::start(StoreKind::Redis, CONFIG, &[("API_TOKEN", TOKEN)]);
    let redis = stack.redis();
    redis.cmd(&["SET", "bull:other:wait", "not-a-list"]);
    let (code, retry, resp) = add(&stack, "other", r#"{"name":"send","jobId":"w-1"}"#);
    assert_eq!(code, 503, "{resp}");
    assert_eq!(retry.as_deref(), Some("5"));
    assert_eq!(
        job_hashes(redis, "other"),
        Vec::<String>::new(),
        "no stranded hash"
    );
}
