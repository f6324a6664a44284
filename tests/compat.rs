//! BullMQ interoperability against the real `bullmq` npm package (6.7.0, pinned in
//! tests/compat/package-lock.json): the scenarios of bullmq-layout.md §21. Each test starts its
//! own redis-server and cronq daemon; the Node side is a script in tests/compat/ that asserts
//! what Node observes (exit 0 = every check held), or a stock Node `Worker` whose event lines
//! this file checks.

mod compat_support;
mod support;

use std::collections::HashMap;
use std::time::Duration;

use compat_support::{node, NodeWorker};
use nix::sys::signal::Signal;
use support::*;

/// Handlers of the Node → cronq scenarios (see each script's header).
const HANDLERS: &str = r#"
[worker]
concurrency = 4
[queues.interop.handlers.plain]
builtin = "echo"
[queues.interop.handlers.slow]
builtin = "sleep"
[queues.interop.handlers.boom]
builtin = "fail"
[queues.interop.handlers.flaky]
exec = '''if [ "$JOB_ATTEMPT" -ge 2 ]; then echo "{\"attempt\":$JOB_ATTEMPT}"; else exit 1; fi'''
[queues.interop.handlers.report]
exec = '''echo 'cronq:progress {"step":1}'; echo "working on $JOB_ID"; echo 'cronq:progress 50'; echo '{"done":true}' '''
[queues.retain.handlers.ok]
builtin = "echo"
[queues.retain.handlers.no]
builtin = "fail"
[queues.paused.handlers.go]
builtin = "echo"
[queues.sched.handlers.tick]
builtin = "echo"
[queues.flowp.handlers.parent]
exec = 'echo "$JOB_CHILDREN"'
[queues.flowp.handlers.child]
builtin = "echo"
[queues.flowc.handlers.child]
builtin = "echo"
[queues.flowc.handlers.bad]
builtin = "fail"
[queues.board.handlers.report]
exec = '''echo 'cronq:progress 50'; echo "working on $JOB_ID"; echo '{"done":true}' '''
[queues.board.handlers.boom]
builtin = "fail"
[queues.ticks.handlers.tick]
builtin = "echo"
[queues.extra.handlers.hold]
builtin = "sleep"
[queues.extra.handlers.ok]
builtin = "echo"
[queues.extra.handlers.no]
builtin = "fail"
"#;

/// One Redis, one daemon with [`HANDLERS`], one Node script.
fn scenario(script: &str, crontab: Option<&str>) {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), HANDLERS, crontab, &[]);
    daemon.wait_healthy();
    node(script, &redis.url(), &[]);
}

#[test]
fn node_producer_jobs_run_by_cronq_look_right_from_node() {
    scenario("producer.mjs", None);
}

#[test]
fn node_retention_options_are_honoured_by_cronq() {
    scenario("retention.mjs", None);
}

#[test]
fn pause_and_resume_from_node_stop_and_restart_cronq() {
    scenario("pause.mjs", None);
}

#[test]
fn node_job_schedulers_keep_running_with_cronq_as_the_only_worker() {
    scenario("schedulers.mjs", None);
}

#[test]
fn node_flows_run_children_then_parent_on_cronq() {
    scenario("flow.mjs", None);
}

#[test]
fn bull_board_lists_cronq_queues_and_job_details() {
    scenario(
        "board.mjs",
        Some("* * * * * * * enqueue ticks tick {\"from\":\"cron\"}\n"),
    );
}

#[test]
fn discovery_lock_renewal_dedup_retry_and_global_limits_work_with_node() {
    let redis = Redis::start();
    let config = HANDLERS.replace("concurrency = 4", "concurrency = 4\nlock_duration = \"1s\"");
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    node("extras.mjs", &redis.url(), &[]);
}

/// Counts `completed` events per job id in the queue's events stream.
fn completed_events(redis: &Redis, queue: &str) -> HashMap<String, usize> {
    let mut conn = redis.conn();
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(format!("bull:{queue}:events"))
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    let mut counts = HashMap::new();
    for e in reply.ids {
        let field = |k: &str| e.get::<String>(k).unwrap_or_default();
        if field("event") == "completed" {
            *counts.entry(field("jobId")).or_default() += 1;
        }
    }
    counts
}

#[test]
fn cronq_produced_jobs_are_run_by_a_node_worker() {
    let redis = Redis::start();
    // cronq has no handler for `tonode`: it only produces there (crontab, CLI, HTTP API).
    let config = "[worker]\nconcurrency = 1\n[queues.other.handlers.x]\nbuiltin = \"noop\"\n";
    let crontab = "* * * * * * * enqueue tonode tick {\"from\":\"cron\"}\n";
    let daemon = Daemon::start(&redis.url(), config, Some(crontab), &[]);
    daemon.wait_healthy();
    let dir = TempDir::new("compat-enqueue");
    let mail = enqueue(
        &redis,
        &dir,
        config,
        &[
            "tonode",
            "mail",
            "--data",
            r#"{"a":1}"#,
            "--job-id",
            "custom-a",
            "--priority",
            "2",
            "--attempts",
            "4",
            "--backoff",
            "fixed:1000",
        ],
    );
    assert_eq!(mail, "custom-a");
    let later = enqueue(
        &redis,
        &dir,
        config,
        &["tonode", "later", "--delay", "300ms"],
    );
    let (code, body) = http_json(
        "POST",
        &format!("http://127.0.0.1:{}/api/queues/tonode/jobs", daemon.port),
        Some(r#"{"name":"api","data":{"b":2},"attempts":2}"#),
        None,
    );
    assert_eq!(code, 201, "{body}");
    let api = body["id"].as_str().unwrap().to_string();

    let node = NodeWorker::start(&redis.url(), "tonode", &[("MODE", "ok")]);
    for id in [&mail, &later, &api] {
        node.wait_for(Duration::from_secs(20), "node to finish the job", |l| {
            l["ev"] == "done" && l["id"] == id.as_str()
        });
    }
    // Not `wait_for`: its predicate runs under the lines lock that `node_ticks` takes too.
    poll(Duration::from_secs(20), "two cron ticks in node", || {
        (node_ticks(&node) >= 2).then_some(())
    });
    let starts = node.starts();
    let start = |id: &str| starts.iter().find(|s| s["id"] == id).unwrap().clone();

    let m = start(&mail);
    assert_eq!(m["name"], "mail");
    assert_eq!(m["data"], serde_json::json!({"a": 1}));
    assert_eq!(m["priority"], 2);
    assert_eq!(m["opts"]["attempts"], 4);
    assert_eq!(
        m["opts"]["backoff"],
        serde_json::json!({"type": "fixed", "delay": 1000})
    );
    assert_eq!(m["attemptsMade"], 0);

    let l = start(&later);
    assert_eq!(l["name"], "later");
    // BullMQ zeroes the hash `delay` when it promotes the job; opts keep what was asked.
    assert_eq!(l["opts"]["delay"], 300);
    let waited = l["processedOn"].as_i64().unwrap() - l["timestamp"].as_i64().unwrap();
    assert!(
        waited >= 300,
        "the delayed job ran {waited} ms after it was added"
    );

    let a = start(&api);
    assert_eq!(
        (a["name"].as_str(), &a["data"]),
        (Some("api"), &serde_json::json!({"b": 2}))
    );
    assert_eq!(a["opts"]["attempts"], 2);

    let tick = starts.iter().find(|s| s["name"] == "tick").unwrap();
    assert_eq!(tick["data"], serde_json::json!({"from": "cron"}));
    for id in [&mail, &later, &api] {
        assert_eq!(job_state(&redis, "tonode", id), "completed");
        let value: serde_json::Value =
            serde_json::from_str(&job_field(&redis, "tonode", id, "returnvalue")).unwrap();
        assert_eq!(value["by"], "node");
    }
}

fn node_ticks(node: &NodeWorker) -> usize {
    let lines = node.lines.lock().unwrap();
    lines
        .iter()
        .filter(|l| l["ev"] == "start" && l["name"] == "tick")
        .count()
}

#[test]
fn a_mixed_fleet_shares_one_queue_and_runs_each_job_once() {
    let redis = Redis::start();
    let config = "[worker]\nconcurrency = 2\n[queues.mixed.handlers.work]\nbuiltin = \"sleep\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let _node = NodeWorker::start(
        &redis.url(),
        "mixed",
        &[("MODE", "sleep"), ("CONCURRENCY", "2")],
    );
    let out = node(
        "add.mjs",
        &redis.url(),
        &["mixed", "work", "120", r#"{"ms":20}"#],
    );
    let ids: Vec<String> = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    poll(Duration::from_secs(60), "all 120 jobs completed", || {
        (ids_in(&redis, "mixed", "completed").len() == ids.len()).then_some(())
    });
    let (mut by_node, mut by_cronq) = (0, 0);
    for id in &ids {
        let value = job_field(&redis, "mixed", id, "returnvalue");
        if value.contains("\"by\":\"node\"") {
            by_node += 1;
        } else if value.contains("slept_ms") {
            by_cronq += 1;
        }
        assert_eq!(job_field(&redis, "mixed", id, "atm"), "1", "job {id}");
    }
    assert_eq!(by_node + by_cronq, ids.len());
    assert!(
        by_node > 0 && by_cronq > 0,
        "node {by_node}, cronq {by_cronq}"
    );
    let events = completed_events(&redis, "mixed");
    assert!(
        ids.iter().all(|id| events.get(id) == Some(&1)),
        "every job completed exactly once"
    );
    eprintln!("mixed fleet: node ran {by_node}, cronq ran {by_cronq}");
}

#[test]
fn a_job_of_a_killed_cronq_is_finished_by_node_once() {
    let redis = Redis::start();
    let config = "[worker]\nlock_duration = \"2s\"\nstalled_interval = \"1s\"\n\
                  [queues.stall1.handlers.long]\nbuiltin = \"sleep\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let out = node(
        "add.mjs",
        &redis.url(),
        &["stall1", "long", "1", r#"{"ms":600000}"#],
    );
    let id: Vec<String> = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let id = &id[0];
    poll(Duration::from_secs(20), "cronq to take the job", || {
        (job_state(&redis, "stall1", id) == "active").then_some(())
    });
    daemon.signal(Signal::SIGKILL);

    let node = NodeWorker::start(
        &redis.url(),
        "stall1",
        &[("MODE", "ok"), ("LOCK_MS", "2000"), ("STALLED_MS", "1000")],
    );
    node.wait_for(
        Duration::from_secs(30),
        "node to finish the stalled job",
        |l| l["ev"] == "done" && l["id"] == id.as_str(),
    );
    assert!(job_field(&redis, "stall1", id, "returnvalue").contains("\"by\":\"node\""));
    assert_eq!(completed_events(&redis, "stall1").get(id), Some(&1));
}

#[test]
fn a_job_of_a_killed_node_worker_is_finished_by_cronq_once() {
    let redis = Redis::start();
    let mut nw = NodeWorker::start(
        &redis.url(),
        "stall2",
        &[
            ("MODE", "hang"),
            ("LOCK_MS", "2000"),
            ("STALLED_MS", "1000"),
        ],
    );
    let out = node(
        "add.mjs",
        &redis.url(),
        &["stall2", "echoed", "1", r#"{"n":42}"#],
    );
    let id: Vec<String> = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let id = &id[0];
    nw.wait_for(Duration::from_secs(20), "node to take the job", |l| {
        l["ev"] == "start" && l["id"] == id.as_str()
    });
    nw.kill();

    let config = "[worker]\nlock_duration = \"2s\"\nstalled_interval = \"1s\"\n\
                  [queues.stall2.handlers.echoed]\nbuiltin = \"echo\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    assert_eq!(
        wait_finished(&redis, "stall2", id, Duration::from_secs(30)),
        "completed"
    );
    assert_eq!(
        job_field(&redis, "stall2", id, "returnvalue"),
        r#"{"n":42}"#
    );
    assert_eq!(completed_events(&redis, "stall2").get(id), Some(&1));
}

/// A Node producer's job with a custom backoff strategy (which only a Node worker defining it
/// can compute) fails at its first failure, naming the strategy, instead of being retried at
/// once in silence.
#[test]
fn a_node_job_with_a_custom_backoff_fails_naming_it() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), HANDLERS, None, &[]);
    daemon.wait_healthy();
    let out = node(
        "add.mjs",
        &redis.url(),
        &[
            "interop",
            "boom",
            "1",
            "{}",
            r#"{"attempts":3,"backoff":{"type":"jitter-custom"}}"#,
        ],
    );
    let ids: Vec<String> = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let id = &ids[0];
    let state = wait_finished(&redis, "interop", id, Duration::from_secs(20));
    assert_eq!(state, "failed");
    let reason = job_field(&redis, "interop", id, "failedReason");
    assert!(
        reason.contains("not retried: backoff type \"jitter-custom\" is not supported by cronq"),
        "{reason}"
    );
    assert_eq!(
        job_field(&redis, "interop", id, "atm"),
        "1",
        "one attempt, no retries"
    );
}
