//! Cancel a job from anywhere (issue 30 point 1): the API, `worker cancel`, on Redis (BullMQ
//! and Bull layouts) and the embedded store. A running job is stopped by whichever daemon runs
//! it and fails for good naming who cancelled it; a job not started is removed; a job held by
//! a worker outside cronq is refused with 409 and the reason.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

/// An exec job that would run for a minute unless stopped.
const SLOW: &str = r#"
[queues.slow.handlers.nap]
exec = "echo started; sleep 60"
attempts = 3
backoff = "fixed:100"
"#;

/// The job's JSON from the daemon at `base` (None when it does not exist).
fn job(base: &str, queue: &str, id: &str) -> Option<Value> {
    let (code, body) = http_json(
        "GET",
        &format!("{base}/api/queues/{queue}/jobs/{id}"),
        None,
        None,
    );
    (code == 200).then_some(body)
}

fn add(base: &str, queue: &str, body: Value) -> String {
    let (code, added) = http_json(
        "POST",
        &format!("{base}/api/queues/{queue}/jobs"),
        Some(&body.to_string()),
        None,
    );
    assert_eq!(code, 201, "{added}");
    added["id"].as_str().unwrap().to_string()
}

fn wait_state(base: &str, queue: &str, id: &str, state: &str) -> Value {
    poll(
        Duration::from_secs(20),
        &format!("job {id} {state}"),
        || job(base, queue, id).filter(|j| j["state"] == state),
    )
}

fn cancel(base: &str, queue: &str, id: &str) -> (u16, Value) {
    http_json(
        "POST",
        &format!("{base}/api/queues/{queue}/jobs/{id}/cancel"),
        None,
        None,
    )
}

fn metrics(base: &str) -> String {
    http("GET", &format!("{base}/metrics"), None, None).1
}

/// The running daemon is A; the request goes to B, which does not consume the queue.
#[test]
fn a_running_job_is_stopped_from_another_daemon_and_not_retried() {
    let redis = Redis::start();
    let a = Daemon::start(&redis.url(), SLOW, None, &[]);
    let b = Daemon::start(&redis.url(), "[queues.slow]\n", None, &[]);
    a.wait_healthy();
    b.wait_healthy();
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{}", a.port),
        format!("http://127.0.0.1:{}", b.port),
    );
    let id = add(&base_b, "slow", json!({"name": "nap"}));
    poll(Duration::from_secs(20), "the job's output", || {
        job(&base_b, "slow", &id).filter(|j| j["logs"].as_array().is_some_and(|l| !l.is_empty()))
    });
    let asked = Instant::now();
    let (code, answer) = cancel(&base_b, "slow", &id);
    let took = asked.elapsed();
    eprintln!("cancel of a running job answered in {took:?}: {answer}");
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["outcome"], "stopped");
    assert_eq!(answer["stoppedBy"], format!("test-{}", a.port));
    assert_eq!(answer["state"], "failed", "the run ended within the grace");
    let reason = format!(
        "cancelled on request (by the API of worker test-{})",
        b.port
    );
    assert_eq!(answer["reason"], reason);
    let failed = wait_state(&base_b, "slow", &id, "failed");
    assert_eq!(failed["failedReason"], reason);
    assert_eq!(failed["attemptsMade"], 1, "not retried: {failed}");
    assert!(metrics(&base_a).contains(r#"cronq_job_cancels_total{queue="slow",how="stopped"} 1"#));
    assert!(a.log().contains("job cancelled on request"));
}

/// A job a Node BullMQ worker holds (here: moved to active with a foreign lock, as its worker
/// does) is out of reach: 409, saying so, after the acknowledgement's deadline.
#[test]
fn a_job_held_outside_cronq_is_refused_with_the_reason() {
    let s = Stack::start(StoreKind::Redis, "[queues.elsewhere]\n", &[]);
    let (_, added) = s.api(
        "POST",
        "/api/queues/elsewhere/jobs",
        Some(json!({"name": "n"})),
    );
    let id = added["id"].as_str().unwrap().to_string();
    let r = s.redis();
    r.cmd(&[
        "LMOVE",
        "bull:elsewhere:wait",
        "bull:elsewhere:active",
        "RIGHT",
        "LEFT",
    ]);
    r.cmd(&[
        "SET",
        &format!("bull:elsewhere:{id}:lock"),
        "node-worker-token",
        "PX",
        "60000",
    ]);
    let asked = Instant::now();
    let (code, body) = s.call(
        "POST",
        &format!("/api/queues/elsewhere/jobs/{id}/cancel"),
        None,
    );
    eprintln!(
        "cancel of a foreign-held job answered {code} in {:?}",
        asked.elapsed()
    );
    assert_eq!(code, 409, "{body}");
    let text = body.to_string();
    assert!(text.contains("no cronq daemon runs it"), "{text}");
    assert!(text.contains("Node BullMQ worker"), "{text}");
    assert_eq!(job_state(r, "elsewhere", &id), "active", "left alone");
}

/// Waiting and delayed jobs are removed (they never ran); finished ones are refused.
#[test]
fn a_job_not_started_is_removed_and_a_finished_one_refused() {
    let s = Stack::start(StoreKind::Redis, "[queues.later]\n", &[]);
    let (_, added) = s.api(
        "POST",
        "/api/queues/later/jobs",
        Some(json!({"name": "n", "delay": "1h"})),
    );
    let id = added["id"].as_str().unwrap().to_string();
    let (code, body) = s.call("POST", &format!("/api/queues/later/jobs/{id}/cancel"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "removed");
    assert_eq!(body["was"], "delayed");
    assert_eq!(
        s.call("GET", &format!("/api/queues/later/jobs/{id}"), None)
            .0,
        404
    );
    let (code, _) = s.call("POST", "/api/queues/later/jobs/nope/cancel", None);
    assert_eq!(code, 404);
    let text = http("GET", &format!("{}/metrics", s.base()), None, None).1;
    assert!(
        text.contains(r#"cronq_job_cancels_total{queue="later",how="removed"} 1"#),
        "{text}"
    );
}

/// `worker cancel` reaches the daemon running the job through Redis, and names itself.
#[test]
fn the_cli_stops_a_running_job_and_names_itself() {
    let s = Stack::start(StoreKind::Redis, SLOW, &[]);
    let (_, added) = s.api(
        "POST",
        "/api/queues/slow/jobs",
        Some(json!({"name": "nap"})),
    );
    let id = added["id"].as_str().unwrap().to_string();
    wait_state(&s.base(), "slow", &id, "active");
    let (code, out, err) = s.cli(&["cancel", "slow", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "stopped slow/{id} on worker test-{}",
            s.daemon.port
        )),
        "{out}"
    );
    let failed = wait_state(&s.base(), "slow", &id, "failed");
    let reason = failed["failedReason"].as_str().unwrap();
    assert!(
        reason.starts_with("cancelled on request (by `worker cancel`"),
        "{reason}"
    );
    assert_eq!(failed["attemptsMade"], 1);
}

/// The Bull 3/4 layout: the same stop, failed for good.
#[test]
fn a_running_job_of_a_bull_queue_is_stopped() {
    let config = SLOW.replace(
        "[queues.slow.handlers.nap]",
        "[queues.slow]\nlayout = \"bull\"\n[queues.slow.handlers.nap]",
    );
    let s = Stack::start(StoreKind::Redis, &config, &[]);
    let (_, added) = s.api(
        "POST",
        "/api/queues/slow/jobs",
        Some(json!({"name": "nap"})),
    );
    let id = added["id"].as_str().unwrap().to_string();
    wait_state(&s.base(), "slow", &id, "active");
    let (code, body) = s.call("POST", &format!("/api/queues/slow/jobs/{id}/cancel"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["outcome"], "stopped");
    let failed = wait_state(&s.base(), "slow", &id, "failed");
    assert!(failed["failedReason"]
        .as_str()
        .unwrap()
        .contains("by the API of worker"));
    assert_eq!(failed["attemptsMade"], 1, "{failed}");
}

/// The embedded store: the API stops it; the CLI, which cannot reach the daemon, says to use it.
#[test]
fn a_running_job_on_the_embedded_store_is_stopped_through_the_api() {
    let s = Stack::start(StoreKind::Embedded, SLOW, &[]);
    let (_, added) = s.api(
        "POST",
        "/api/queues/slow/jobs",
        Some(json!({"name": "nap"})),
    );
    let id = added["id"].as_str().unwrap().to_string();
    wait_state(&s.base(), "slow", &id, "active");
    let (code, out, err) = s.cli(&["cancel", "slow", &id]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("use its API"), "{err}");
    let (code, body) = s.call("POST", &format!("/api/queues/slow/jobs/{id}/cancel"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["stoppedBy"], format!("test-{}", s.daemon.port));
    let failed = wait_state(&s.base(), "slow", &id, "failed");
    assert!(failed["failedReason"]
        .as_str()
        .unwrap()
        .contains("by the API of worker"));
    assert_eq!(failed["attemptsMade"], 1, "{failed}");
}

/// An `http` handler's request is aborted: the server sees its connection closed.
#[test]
fn a_running_http_request_is_aborted() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    // Accepts the handler's request and never answers; says when the client hangs up.
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        tx.send("accepted").unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return tx.send("closed").unwrap(),
                Ok(_) => {}
            }
        }
    });
    let config = format!(
        "[queues.hook.handlers.call]\nhttp = {{ url = \"http://127.0.0.1:{port}/slow\", timeout = \"10m\" }}\nattempts = 3\n"
    );
    let s = Stack::start(StoreKind::Redis, &config, &[]);
    let (_, added) = s.api(
        "POST",
        "/api/queues/hook/jobs",
        Some(json!({"name": "call"})),
    );
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(rx.recv_timeout(Duration::from_secs(20)), Ok("accepted"));
    let (code, body) = s.call("POST", &format!("/api/queues/hook/jobs/{id}/cancel"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["state"], "failed");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)),
        Ok("closed"),
        "the request was aborted"
    );
}
