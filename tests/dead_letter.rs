//! Dead letters (issue 30 point 2): `[queues.NAME] dead_letter = "OTHER"` copies a job failing
//! for the last time into OTHER (original name; data wrapped with the failure) while it stays
//! in NAME's failed set; `worker retry` / the API's retry send it back to its origin. On Redis
//! (BullMQ and Bull layouts, and read by the real npm `bullmq` Worker) and the embedded store.

mod compat_support;
mod support;

use std::time::Duration;

use compat_support::NodeWorker;
use serde_json::{json, Value};
use support::*;

/// Fails until a file `ok` exists in the daemon's directory.
const CONFIG: &str = r#"
[queues.email]
dead_letter = "email-dead"
[queues.email.handlers.send]
exec = "test -e ok || { echo 'smtp refused' >&2; exit 3; }"
attempts = 2
backoff = "fixed:10"
[queues.email-dead]
"#;

fn job(s: &Stack, queue: &str, id: &str) -> Option<Value> {
    let (code, body) = s.call("GET", &format!("/api/queues/{queue}/jobs/{id}"), None);
    (code == 200).then_some(body)
}

fn wait_state(s: &Stack, queue: &str, id: &str, state: &str) -> Value {
    poll(
        Duration::from_secs(20),
        &format!("{queue}/{id} {state}"),
        || job(s, queue, id).filter(|j| j["state"] == state),
    )
}

/// Adds `mail-1`, waits for its last failure, checks the letter; returns it.
fn fails_into_the_dead_letter_queue(s: &Stack) -> Value {
    let (code, added) = s.api(
        "POST",
        "/api/queues/email/jobs",
        Some(json!({"name": "send", "data": {"to": "a@example.com"}, "jobId": "mail-1"})),
    );
    assert_eq!(code, 201, "{added}");
    let failed = wait_state(s, "email", "mail-1", "failed");
    assert_eq!(failed["attemptsMade"], 2);
    let letter = wait_state(s, "email-dead", "dl-email-mail-1-2", "waiting");
    assert_eq!(letter["name"], "send");
    assert_eq!(letter["data"]["data"], json!({"to": "a@example.com"}));
    let f = &letter["data"]["deadLetter"];
    assert_eq!(f["queue"], "email");
    assert_eq!(f["id"], "mail-1");
    assert_eq!(f["attemptsMade"], 2);
    assert_eq!(f["attempts"], 2);
    assert!(
        f["failedReason"].as_str().unwrap().contains("smtp refused"),
        "{f}"
    );
    assert_eq!(
        f["stacktrace"].as_array().unwrap().len(),
        1,
        "the first attempt's error: {f}"
    );
    assert_eq!(f["worker"], format!("test-{}", s.daemon.port));
    // Kept in the origin's failed set too, as BullMQ keeps it.
    assert_eq!(job(s, "email", "mail-1").unwrap()["state"], "failed");
    letter
}

/// The letter goes back: the origin job is retried (and now succeeds), the letter removed.
fn sends_it_back(s: &Stack) {
    std::fs::write(s.daemon.dir.path().join("ok"), "").unwrap();
    let (code, body) = s.call(
        "POST",
        "/api/queues/email-dead/jobs/dl-email-mail-1-2/retry",
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["sentBackTo"], "email");
    assert_eq!(body["how"], "retried");
    assert_eq!(body["id"], "mail-1");
    wait_state(s, "email", "mail-1", "completed");
    assert!(
        job(s, "email-dead", "dl-email-mail-1-2").is_none(),
        "the letter is removed"
    );
}

#[test]
fn a_last_failure_is_dead_lettered_and_sent_back_on_redis() {
    let s = Stack::start(StoreKind::Redis, CONFIG, &[]);
    fails_into_the_dead_letter_queue(&s);
    let metrics = http("GET", &format!("{}/metrics", s.base()), None, None).1;
    assert!(
        metrics.contains(
            r#"cronq_dead_letters_total{queue="email",target="email-dead",outcome="added"} 1"#
        ),
        "{metrics}"
    );
    // The real npm bullmq Worker sees the letter as a normal job.
    let node = NodeWorker::start(
        &s.redis().url(),
        "email-dead",
        &[("MODE", "ok"), ("COUNT", "0")],
    );
    let seen = node.wait_for(Duration::from_secs(20), "node to run the letter", |l| {
        l["ev"] == "start" && l["id"] == "dl-email-mail-1-2"
    });
    assert_eq!(seen["name"], "send");
    assert_eq!(seen["data"]["data"], json!({"to": "a@example.com"}));
    assert_eq!(seen["data"]["deadLetter"]["queue"], "email");
    node.wait_for(Duration::from_secs(20), "node to complete it", |l| {
        l["ev"] == "done" && l["id"] == "dl-email-mail-1-2"
    });
    drop(node);
    // Completed by Node, still a letter: `worker retry` sends it back.
    std::fs::write(s.daemon.dir.path().join("ok"), "").unwrap();
    let (code, out, err) = s.cli(&["retry", "email-dead", "dl-email-mail-1-2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "sent dead letter email-dead/dl-email-mail-1-2 back to email/mail-1 (retried)"
        ),
        "{out}"
    );
    wait_state(&s, "email", "mail-1", "completed");
}

#[test]
fn a_last_failure_is_dead_lettered_on_the_embedded_store() {
    let s = Stack::start(StoreKind::Embedded, CONFIG, &[]);
    fails_into_the_dead_letter_queue(&s);
    sends_it_back(&s);
}

#[test]
fn a_last_failure_of_a_bull_queue_is_dead_lettered() {
    let config = CONFIG.replace("[queues.email]\n", "[queues.email]\nlayout = \"bull\"\n");
    let s = Stack::start(StoreKind::Redis, &config, &[]);
    fails_into_the_dead_letter_queue(&s);
    sends_it_back(&s);
}

/// A letter whose origin job is gone (its retention removed it) comes back as a new job.
#[test]
fn a_letter_whose_origin_is_gone_is_added_back() {
    let s = Stack::start(StoreKind::Redis, CONFIG, &[]);
    fails_into_the_dead_letter_queue(&s);
    let (code, _) = s.call("DELETE", "/api/queues/email/jobs/mail-1", None);
    assert_eq!(code, 204);
    std::fs::write(s.daemon.dir.path().join("ok"), "").unwrap();
    let (code, body) = s.call(
        "POST",
        "/api/queues/email-dead/jobs/dl-email-mail-1-2/retry",
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["how"], "added");
    let back = wait_state(&s, "email", "mail-1", "completed");
    assert_eq!(back["data"], json!({"to": "a@example.com"}));
}

/// A cancelled run is an operator's decision, not a failure to keep: no letter.
#[test]
fn a_cancelled_job_is_not_dead_lettered() {
    let config = r#"
[queues.slow]
dead_letter = "slow-dead"
[queues.slow.handlers.nap]
exec = "echo started; sleep 60"
attempts = 1
[queues.slow-dead]
"#;
    let s = Stack::start(StoreKind::Redis, config, &[]);
    let (_, added) = s.api(
        "POST",
        "/api/queues/slow/jobs",
        Some(json!({"name": "nap"})),
    );
    let id = added["id"].as_str().unwrap().to_string();
    wait_state(&s, "slow", &id, "active");
    let (code, body) = s.call("POST", &format!("/api/queues/slow/jobs/{id}/cancel"), None);
    assert_eq!(code, 200, "{body}");
    wait_state(&s, "slow", &id, "failed");
    assert!(all_job_ids(s.redis(), "slow-dead").is_empty());
}

/// Refused at start (exit 2), naming the file, the table and the key, and the fix.
#[test]
fn a_bad_dead_letter_setting_is_refused_naming_the_place() {
    let redis = Redis::start();
    for (config, says) in [
        ("[queues.a]\ndead_letter = \"a\"\n", "names itself"),
        (
            "[queues.a]\ndead_letter = \"b\"\n",
            "declare it with a [queues.b] table",
        ),
    ] {
        let mut d = Daemon::start(&redis.url(), config, None, &[]);
        assert_eq!(d.wait_exit(Duration::from_secs(10)), 2, "{}", d.log());
        let log = d.log();
        assert!(
            log.contains("worker.toml") && log.contains("[queues.a] dead_letter"),
            "{log}"
        );
        assert!(log.contains(says), "{log}");
    }
}

/// A replay (the daemon died after the letter, before the failure's write; stalled recovery
/// ran the job again and it failed again on the same attempt) adds no second letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_last_failure_adds_one_letter() {
    use cronq::queue::dead_letter::{add, Failure};
    use cronq::queue::{RedisTarget, Store};
    let redis = Redis::start();
    let target = RedisTarget {
        url: redis.url(),
        ..Default::default()
    };
    let store = Store::connect(&target, "bull").await.unwrap();
    let failure = Failure {
        queue: "email".into(),
        id: "mail-1".into(),
        name: "send".into(),
        failed_reason: "exit status 3".into(),
        attempts_made: 2,
        attempts: 2,
        stacktrace: vec![],
        failed_on: 1,
        worker: "w".into(),
    };
    let first = add(&store, "email-dead", &failure, json!({"to": "a"}))
        .await
        .unwrap();
    let again = add(&store, "email-dead", &failure, json!({"to": "a"}))
        .await
        .unwrap();
    assert_eq!(first, "dl-email-mail-1-2");
    assert_eq!(again, first);
    assert_eq!(all_job_ids(&redis, "email-dead"), vec![first]);
}
