//! One behaviour suite, run against every store: each test body below is a plain function of
//! the store [`Kind`], and `suite!` generates `redis::NAME`, `bull::NAME` (the same Redis
//! with the suite's queues in Bull 3/4's layout) and `embedded::NAME` for it. Where Bull
//! legitimately differs, the test says why beside the branch. The
//! daemon is the real binary; everything is observed through what users see — the HTTP API,
//! SSE and the CLI (`worker job … --json`) — so the same assertions hold whatever is underneath.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};
use support::*;

const CONFIG: &str = r#"
[worker]
concurrency = 1
[defaults]
attempts = 1
[queues.work.handlers.echo]
builtin = "echo"
[queues.work.handlers.flaky]
builtin = "fail"
attempts = 3
backoff = "fixed:200"
[queues.work.handlers.order]
exec = "echo $JOB_ID >> order.txt"
[queues.work.handlers.long]
exec = "exec sleep 60"
[queues.kept.handlers.echo]
builtin = "echo"
remove_on_complete = 2
"#;

const LIMIT: Duration = Duration::from_secs(20);

/// The store under test: a store kind, and on Redis the queues' layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Redis, every queue in BullMQ's layout.
    Redis,
    /// Redis, the suite's queues in Bull 3/4's layout (`layout = "bull"`).
    Bull,
    /// The embedded SQLite file.
    Embedded,
}

/// The suite's queues in Bull's layout, added to [`CONFIG`] for [`Kind::Bull`].
const BULL_LAYOUT: &str = r#"
[queues.work]
layout = "bull"
[queues.kept]
layout = "bull"
"#;

/// The suite's daemon: the shared [`Stack`] on [`CONFIG`].
type Env = Stack;

/// What the suite adds to the shared setup.
trait Suite {
    fn add(&self, queue: &str, body: Value) -> String;
    fn job(&self, queue: &str, id: &str) -> (u16, Value);
    fn wait(&self, queue: &str, id: &str, states: &[&str]) -> Value;
    fn order_file(&self) -> PathBuf;
}

fn start(kind: Kind, env: &[(&str, &str)]) -> Env {
    match kind {
        Kind::Redis => Stack::start(StoreKind::Redis, CONFIG, env),
        Kind::Bull => Stack::start(StoreKind::Redis, &format!("{BULL_LAYOUT}{CONFIG}"), env),
        Kind::Embedded => Stack::start(StoreKind::Embedded, CONFIG, env),
    }
}

impl Suite for Stack {
    /// Adds a job through the API; returns its id.
    fn add(&self, queue: &str, body: Value) -> String {
        let (code, added) = self.api("POST", &format!("/api/queues/{queue}/jobs"), Some(body));
        assert_eq!(code, 201, "{added}");
        added["id"].as_str().unwrap().to_string()
    }

    fn job(&self, queue: &str, id: &str) -> (u16, Value) {
        let (code, mut job) = self.api("GET", &format!("/api/queues/{queue}/jobs/{id}"), None);
        canonical_state(&mut job);
        (code, job)
    }

    /// Waits until job `id` is in one of `states`; returns the job.
    fn wait(&self, queue: &str, id: &str, states: &[&str]) -> Value {
        poll(LIMIT, &format!("{queue}/{id} to be {states:?}"), || {
            let (_, j) = self.job(queue, id);
            // The Redis store reads a job's hash and its state in two round trips: a job that
            // finishes between them shows its final state before its final fields.
            let state = j["state"].as_str()?;
            let settled = !matches!(state, "completed" | "failed") || j["finishedOn"].is_u64();
            (states.contains(&state) && settled).then_some(j)
        })
    }

    fn order_file(&self) -> PathBuf {
        self.daemon.dir.path().join("order.txt")
    }
}

/// The Redis store reports the engine's `wait` for a job in the wait list where the embedded
/// store (and the documented state names, and the scheduler's overlap check) say `waiting`.
fn canonical_state(job: &mut Value) {
    if job["state"] == "wait" {
        job["state"] = "waiting".into();
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod redis {
            $( #[test] fn $name() { super::$name(super::Kind::Redis) } )*
        }
        mod bull {
            $( #[test] fn $name() { super::$name(super::Kind::Bull) } )*
        }
        mod embedded {
            $( #[test] fn $name() { super::$name(super::Kind::Embedded) } )*
        }
    };
}

suite!(
    plain_job_completes_with_its_return_value,
    retries_follow_the_backoff_then_fail_with_attempts_counted,
    an_unknown_name_fails_without_retry,
    fifo_first_then_priority_then_due_delayed,
    a_paused_queue_is_not_consumed_until_resumed,
    retention_keeps_the_newest_completed,
    api_adds_gets_retries_removes_and_promotes,
    events_are_streamed_and_resumable,
    sigterm_mid_job_releases_it_without_counting_an_attempt,
    an_unknown_state_is_refused_naming_it_and_the_valid_ones,
);

fn plain_job_completes_with_its_return_value(kind: Kind) {
    let env = start(kind, &[]);
    let id = env.add("work", json!({"name": "echo", "data": {"n": 1}}));
    let job = env.wait("work", &id, &["completed", "failed"]);
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["returnvalue"], json!({"n": 1}));
    // Bull 3/4 counts failed attempts only (its `moveToFailed` is what raises
    // `attemptsMade`): a job that completed first time shows 0 to Bull's own tools too.
    let made = if kind == Kind::Bull { 0 } else { 1 };
    assert_eq!(job["attemptsMade"], made, "{job}");
    assert!(job["finishedOn"].as_u64() >= job["processedOn"].as_u64());
    // The CLI sees the same job in the same store while the daemon runs.
    let (code, out, err) = env.cli(&["job", "work", &id, "--json"]);
    assert_eq!(code, 0, "{err}");
    let cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cli["state"], "completed");
    let (_, out, _) = env.cli(&["status", "--json"]);
    let status: Value = serde_json::from_str(&out).unwrap();
    let expected = if kind == Kind::Embedded {
        "embedded"
    } else {
        "redis"
    };
    assert_eq!(status["store"], expected, "{status}");
    let (_, health) = env.daemon.health().unwrap();
    assert_eq!(health["store"], expected, "{health}");
    // Issue 15: a store-neutral `storage` object; the deprecated `redis` one kept for a release.
    let storage = &health["storage"];
    assert_eq!(storage["kind"], expected, "{health}");
    assert_eq!(storage["connected"], true, "{health}");
    assert!(storage["latency_ms"].is_number(), "{health}");
    let (at, absent) = if kind == Kind::Embedded {
        ("path", "url")
    } else {
        ("url", "path")
    };
    assert!(
        storage[at].is_string() && storage[absent].is_null(),
        "{health}"
    );
    assert_eq!(health["redis"]["url"], storage[at], "{health}");
    assert_eq!(health["redis"]["connected"], true, "{health}");
}

fn retries_follow_the_backoff_then_fail_with_attempts_counted(kind: Kind) {
    let env = start(kind, &[]);
    let id = env.add(
        "work",
        json!({"name": "flaky", "data": {"reason": "flaky boom"}}),
    );
    let job = env.wait("work", &id, &["failed", "completed"]);
    assert_eq!(job["state"], "failed");
    assert_eq!(job["attemptsMade"], 3, "{job}");
    assert_eq!(job["failedReason"], "flaky boom");
    let took = job["finishedOn"].as_u64().unwrap() - job["timestamp"].as_u64().unwrap();
    assert!(took >= 400, "two fixed 200 ms backoffs, took {took} ms");
    if kind == Kind::Embedded {
        assert_eq!(job["stacktrace"].as_array().unwrap().len(), 3, "{job}");
    }
}

fn an_unknown_name_fails_without_retry(kind: Kind) {
    let env = start(kind, &[]);
    let id = env.add("work", json!({"name": "no-such-name", "attempts": 3}));
    let job = env.wait("work", &id, &["failed", "completed"]);
    assert_eq!(job["state"], "failed");
    assert_eq!(job["failedReason"], "no handler for work/no-such-name");
    assert_eq!(job["attemptsMade"], 1, "not retried: {job}");
}

fn fifo_first_then_priority_then_due_delayed(kind: Kind) {
    let env = start(kind, &[]);
    env.api("POST", "/api/queues/work/pause", None);
    let add = |extra: Value| {
        let mut body = json!({"name": "order"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        env.add("work", body)
    };
    let a = add(json!({}));
    let b = add(json!({"priority": 2}));
    let c = add(json!({"priority": 1}));
    let d = add(json!({}));
    let e = add(json!({"delay": "1s"}));
    let f = add(json!({"priority": 1}));
    env.api("POST", "/api/queues/work/resume", None);
    let done = env.wait("work", &e, &["completed"]);
    assert!(
        done["processedOn"].as_u64().unwrap() >= done["timestamp"].as_u64().unwrap() + 1000,
        "the delayed job ran at its time: {done}"
    );
    let order: Vec<String> = std::fs::read_to_string(env.order_file())
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    // BullMQ (and the embedded store) take plain jobs before prioritized ones; Bull 3/4 puts
    // a prioritized job in `wait` ahead of every plain one, so its order is the priorities
    // first, then the plain jobs in FIFO order, then the delayed one.
    let expected = if kind == Kind::Bull {
        [c, f, b, a, d, e]
    } else {
        [a, d, c, f, b, e]
    };
    assert_eq!(order, expected);
}

fn a_paused_queue_is_not_consumed_until_resumed(kind: Kind) {
    let env = start(kind, &[]);
    let (code, p) = env.api("POST", "/api/queues/work/pause", None);
    assert_eq!(code, 200, "{p}");
    // Added by the CLI (another process) while paused: it lands in waiting and stays there.
    let (code, out, err) = env.cli(&["enqueue", "work", "echo", "--data", r#"{"p":1}"#]);
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_string();
    // A job on another queue, added after it: once that one has run, the daemon has been
    // consuming for all the time the paused job waited (a condition, not a fixed sleep).
    let sentinel = env.add("kept", json!({"name": "echo"}));
    env.wait("kept", &sentinel, &["completed"]);
    let (_, job) = env.job("work", &id);
    assert_eq!(
        job["state"], "waiting",
        "a paused queue is not consumed: {job}"
    );
    let (_, queues) = env.api("GET", "/api/queues", None);
    let work = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "work")
        .unwrap()
        .clone();
    assert_eq!(work["paused"], true, "{work}");
    env.api("POST", "/api/queues/work/resume", None);
    let job = env.wait("work", &id, &["completed"]);
    assert_eq!(job["returnvalue"], json!({"p": 1}));
}

fn retention_keeps_the_newest_completed(kind: Kind) {
    let env = start(kind, &[]);
    let mut ids = Vec::new();
    for i in 0..4 {
        let id = env.add("kept", json!({"name": "echo", "data": {"i": i}}));
        env.wait("kept", &id, &["completed"]);
        ids.push(id);
    }
    poll(LIMIT, "retention to apply", || {
        let (_, page) = env.api(
            "GET",
            "/api/queues/kept/jobs?state=completed&limit=10",
            None,
        );
        (page["total"] == 2).then_some(())
    });
    assert_eq!(env.job("kept", &ids[0]).0, 404);
    assert_eq!(env.job("kept", &ids[1]).0, 404);
    assert_eq!(env.job("kept", &ids[3]).1["state"], "completed");
}

fn api_adds_gets_retries_removes_and_promotes(kind: Kind) {
    let env = start(kind, &[]);
    let id = env.add(
        "work",
        json!({"name": "echo", "jobId": "api-1", "data": {"x": 1}}),
    );
    assert_eq!(id, "api-1");
    let first = env.wait("work", "api-1", &["completed"]);
    let (code, dup) = env.api(
        "POST",
        "/api/queues/work/jobs",
        Some(json!({"name": "echo", "jobId": "api-1"})),
    );
    assert_eq!(
        (code, dup),
        (200, json!({"id": "api-1", "existed": true})),
        "a duplicate custom id returns the existing job, saying so"
    );
    let (_, again) = env.job("work", "api-1");
    assert_eq!(
        again["finishedOn"], first["finishedOn"],
        "nothing was added"
    );
    assert!(again["logs"].is_array());
    let (code, _) = env.api("POST", "/api/queues/work/jobs/api-1/retry", None);
    assert_eq!(code, 409, "a completed job is not retried");
    let (code, _) = env.api(
        "POST",
        "/api/queues/work/jobs",
        Some(json!({"name": "echo", "jobId": "12"})),
    );
    assert_eq!(code, 400, "integer-like custom ids are refused");

    let bad = env.add(
        "work",
        json!({"name": "flaky", "attempts": 1, "data": {"reason": "no"}}),
    );
    env.wait("work", &bad, &["failed"]);
    let (code, body) = env.api("POST", &format!("/api/queues/work/jobs/{bad}/retry"), None);
    assert_eq!(code, 200, "{body}");
    // Bull's retry starts the count again (`attemptsMade` 0, as Bull 4's `job.retry()`), so
    // the second failure shows 1 there; BullMQ and the embedded store keep counting.
    let made = if kind == Kind::Bull { 1 } else { 2 };
    let job = poll(LIMIT, "the retried job to fail again", || {
        let (_, j) = env.job("work", &bad);
        (j["state"] == "failed" && j["attemptsMade"] == made).then_some(j)
    });
    assert_eq!(job["failedReason"], "no");
    let (code, _) = env.api("DELETE", &format!("/api/queues/work/jobs/{bad}"), None);
    assert_eq!(code, 204);
    assert_eq!(env.job("work", &bad).0, 404);
    assert_eq!(env.api("DELETE", "/api/queues/work/jobs/nope", None).0, 404);

    let later = env.add("work", json!({"name": "echo", "delay": "1h"}));
    assert_eq!(env.job("work", &later).1["state"], "delayed");
    assert_eq!(
        env.api("POST", "/api/queues/work/jobs/api-1/promote", None)
            .0,
        409
    );
    let (code, _) = env.api(
        "POST",
        &format!("/api/queues/work/jobs/{later}/promote"),
        None,
    );
    assert_eq!(code, 200);
    env.wait("work", &later, &["completed"]);
    let (_, page) = env.api(
        "GET",
        "/api/queues/work/jobs?state=completed&limit=10",
        None,
    );
    assert_eq!(page["total"], 2, "{page}");
    assert_eq!(page["jobs"][0]["id"], later.as_str(), "newest first");
}

fn events_are_streamed_and_resumable(kind: Kind) {
    let env = start(kind, &[]);
    let base = format!("http://127.0.0.1:{}", env.daemon.port);
    let mut sse = Sse::open(&format!("{base}/api/events?queue=work"), None, None);
    let a = env.add("work", json!({"name": "echo", "data": {"n": 1}}));
    let seen = sse.until(|(_, name, data)| name == "completed" && data["jobId"] == a.as_str());
    let names: Vec<&str> = seen.iter().map(|(_, n, _)| n.as_str()).collect();
    // Bull publishes no `added`: a new job's first event there is `waiting` (its
    // `waiting@token` message), which BullMQ also sends but after `added`.
    let added = if kind == Kind::Bull {
        "waiting"
    } else {
        "added"
    };
    assert!(
        names.contains(&added) && names.contains(&"active"),
        "{names:?}"
    );
    let completed = seen.last().unwrap();
    assert_eq!(completed.2["returnvalue"], r#"{"n":1}"#);
    let resume_from = completed.0.clone();
    drop(sse);

    let b = env.add("work", json!({"name": "echo", "data": {"n": 2}}));
    env.wait("work", &b, &["completed"]);
    let mut again = Sse::open(
        &format!("{base}/api/events?queue=work"),
        Some(&resume_from),
        None,
    );
    let seen = again.until(|(_, name, data)| name == "completed" && data["jobId"] == b.as_str());
    assert!(
        seen.iter()
            .any(|(_, n, d)| n == added && d["jobId"] == b.as_str()),
        "resumed from before the job was added: {seen:?}"
    );
    assert!(
        seen.iter().all(|(_, _, d)| d["jobId"] != a.as_str()),
        "nothing before the cursor: {seen:?}"
    );
}

fn sigterm_mid_job_releases_it_without_counting_an_attempt(kind: Kind) {
    let mut env = start(kind, &[("SHUTDOWN_TIMEOUT", "1s")]);
    let id = env.add("work", json!({"name": "long", "attempts": 3}));
    env.wait("work", &id, &["active"]);
    env.daemon.signal(Signal::SIGTERM);
    assert_eq!(env.daemon.wait_exit(LIMIT), 0);
    let (code, out, err) = env.cli(&["job", "work", &id, "--json"]);
    assert_eq!(code, 0, "{err}");
    let mut job: Value = serde_json::from_str(&out).unwrap();
    canonical_state(&mut job);
    assert_eq!(job["state"], "waiting", "{job}");
    assert_eq!(job["attemptsMade"], 0, "no attempt counted: {job}");
    assert!(env.daemon.log().contains("cut off by shutdown"));
}

/// Issue 26: one rule for a state name that is not one, whatever the store. Before, the CLI
/// passed the text to the store: Redis and the embedded store refused it, Bull listed an
/// empty page (exit 0). Now the one parser refuses it first, naming it and the valid names,
/// at the API (400, field `state`) and the CLI (exit 2); `wait` stays `waiting`.
fn an_unknown_state_is_refused_naming_it_and_the_valid_ones(kind: Kind) {
    let env = start(kind, &[]);
    let valid = "waiting, prioritized, active, delayed, completed, failed, waiting-children";
    let (code, body) = env.api("GET", "/api/queues/work/jobs?state=bogus", None);
    assert_eq!(code, 400, "{body}");
    let text = body.to_string();
    assert!(text.contains("bogus") && text.contains(valid), "{text}");
    for args in [
        &["jobs", "work", "--state", "bogus"][..],
        &["clean", "work", "--state", "bogus", "--older-than", "1d"][..],
    ] {
        let (code, out, err) = env.cli(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("bogus") && err.contains(valid), "{err}");
    }
    // A real state that `clean` does not apply to is refused by the one check too.
    let (code, body) = env.api(
        "POST",
        "/api/queues/work/clean",
        Some(json!({"state": "active", "olderThan": "1d"})),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body.to_string()
            .contains("\\\"completed\\\" or \\\"failed\\\""),
        "{body}"
    );
    let (code, out, err) = env.cli(&["jobs", "work", "--state", "wait", "--json"]);
    assert_eq!(code, 0, "{err}");
    let page: Value = serde_json::from_str(&out).unwrap();
    assert!(page["jobs"].is_array(), "{page}");
}
