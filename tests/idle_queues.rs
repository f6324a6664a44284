//! Idle queues cost nothing (issue 26): a queue with no job for `idle_release` lets its engine
//! worker (two connections each) go and waits with every other idle queue on one shared
//! `BZPOPMIN`. What that must keep: a job a Node producer adds to a long-idle queue runs, a
//! delayed job runs at its time and not before, and a Node worker sharing the queue still gets
//! jobs (the shared wait takes markers it might have taken). `idle_cost.rs` covers the idle
//! command rate and the /health probe; both tests run against the same daemon layout.

mod compat_support;
mod support;

use std::time::Duration;

use compat_support::{node, NodeWorker};
use support::*;

/// Short, so the tests see queues let go within seconds (the default is 30 s).
const IDLE_RELEASE: &str = "1s";

fn config(queues: &[String]) -> String {
    let mut text = format!("[worker]\nconcurrency = 2\nidle_release = \"{IDLE_RELEASE}\"\n");
    for q in queues {
        text += &format!("[queues.{q}.handlers.noop]\nbuiltin = \"noop\"\n");
    }
    text
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("q{i}")).collect()
}

/// Connections the server holds, not counting the one asking.
fn connections(redis: &Redis) -> usize {
    redis.cmd(&["CLIENT", "LIST"]).lines().count() - 1
}

/// Waits until the daemon's idle queues have let their workers go: at most `limit`
/// connections left on the server.
fn wait_let_go(redis: &Redis, limit: usize) -> usize {
    poll(
        Duration::from_secs(30),
        &format!("the idle queues to hold at most {limit} connections"),
        || {
            let n = connections(redis);
            (n <= limit).then_some(n)
        },
    )
}

/// Adds one job through the stock Node `Queue.add`; returns its id.
fn node_add(redis: &Redis, queue: &str, opts: &str) -> String {
    let out = node("add.mjs", &redis.url(), &[queue, "noop", "1", "{}", opts]);
    let ids: Vec<String> = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    ids[0].clone()
}

/// Before: each queue kept an engine worker with two connections: 50 idle queues held 103.
#[test]
fn fifty_idle_queues_hold_few_connections_and_still_show_in_health() {
    let redis = Redis::start();
    let queues = names(50);
    let daemon = Daemon::start(&redis.url(), &config(&queues), None, &[]);
    daemon.wait_healthy();
    // Polled with a deadline: the queues start with their workers and let go after 1 s idle.
    let held = wait_let_go(&redis, 6);
    println!("50 idle queues: {held} connections");
    // Still every queue in /health, each with its counts.
    let (code, body) = daemon.health().expect("health answers");
    assert_eq!(code, 200, "{body}");
    for q in &queues {
        assert!(body["queues"][q]["waiting"].is_u64(), "{q} missing: {body}");
    }
    // And an idle queue still runs what a Node producer adds.
    let id = node_add(&redis, "q37", "{}");
    assert_eq!(
        wait_finished(&redis, "q37", &id, Duration::from_secs(20)),
        "completed"
    );
}

#[test]
fn a_job_added_to_a_long_idle_queue_runs() {
    let redis = Redis::start();
    let queues = names(3);
    let daemon = Daemon::start(&redis.url(), &config(&queues), None, &[]);
    daemon.wait_healthy();
    wait_let_go(&redis, 6);
    // Long idle: no queue has a worker (none blocks on its own marker), only the shared wait.
    poll(Duration::from_secs(30), "one shared blocking wait", || {
        let clients = redis.cmd(&["CLIENT", "LIST"]);
        (clients.matches("cmd=bzpopmin").count() == 1).then_some(())
    });
    for q in ["q2", "q1", "q3", "q2"] {
        let id = node_add(&redis, q, "{}");
        assert_eq!(
            wait_finished(&redis, q, &id, Duration::from_secs(20)),
            "completed",
            "{q}/{id}"
        );
        // Runs again after it let go once more.
        wait_let_go(&redis, 6);
    }
    assert!(daemon.health().is_some());
}

#[test]
fn a_delayed_job_on_an_idle_queue_runs_at_its_time() {
    let redis = Redis::start();
    let queues = names(2);
    let daemon = Daemon::start(&redis.url(), &config(&queues), None, &[]);
    daemon.wait_healthy();
    wait_let_go(&redis, 6);
    let delay_ms = 3000;
    let id = node_add(&redis, "q2", &format!("{{\"delay\":{delay_ms}}}"));
    assert_eq!(
        wait_finished(&redis, "q2", &id, Duration::from_secs(30)),
        "completed"
    );
    let added: i64 = job_field(&redis, "q2", &id, "timestamp").parse().unwrap();
    let started: i64 = job_field(&redis, "q2", &id, "processedOn").parse().unwrap();
    println!(
        "delayed {delay_ms} ms, started {} ms after added",
        started - added
    );
    // Not early (the waiter sleeps to the marker's due time); late only by load, so the
    // upper bound is the poll's deadline above, not a figure here.
    assert!(
        started - added >= delay_ms,
        "started {} ms after added",
        started - added
    );
}

#[test]
fn a_node_worker_and_cronq_on_one_queue_both_still_receive_jobs() {
    let redis = Redis::start();
    let queues = vec!["shared".to_string()];
    // Slow Node jobs, so cronq's fetch has something left to take in every round.
    let nw = NodeWorker::start(&redis.url(), "shared", &[("MODE", "sleep")]);
    let daemon = Daemon::start(&redis.url(), &config(&queues), None, &[]);
    daemon.wait_healthy();
    let mut ran_by_cronq = 0;
    for round in 1..=5 {
        // cronq's queue let go: its worker's blocking connection (named, as BullMQ names it)
        // is gone; the Node worker's and the shared wait's (unnamed) block.
        poll(Duration::from_secs(30), "cronq's queue to go idle", || {
            let clients = redis.cmd(&["CLIENT", "LIST"]);
            let blocked: Vec<&str> = clients
                .lines()
                .filter(|l| l.contains("cmd=bzpopmin"))
                .collect();
            let shared = blocked.iter().filter(|l| l.contains("name= ")).count();
            (blocked.len() == 2 && shared == 1).then_some(())
        });
        let out = node(
            "add.mjs",
            &redis.url(),
            &["shared", "noop", "10", "{\"ms\":100}"],
        );
        let ids: Vec<String> = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        for id in &ids {
            // No job left waiting, whoever took the marker.
            assert_eq!(
                wait_finished(&redis, "shared", id, Duration::from_secs(30)),
                "completed",
                "round {round}, job {id}"
            );
        }
        let by_node = nw.starts().len();
        ran_by_cronq = round * ids.len() - by_node;
        println!("round {round}: node ran {by_node}, cronq {ran_by_cronq}");
        if by_node > 0 && ran_by_cronq > 0 {
            break;
        }
    }
    assert!(!nw.starts().is_empty(), "the Node worker got no job");
    assert!(ran_by_cronq > 0, "cronq got no job");
    assert!(daemon.health().is_some());
}

/// Node's pause/resume scenario (tests/compat/pause.mjs) on a queue that lets its worker go
/// after 1 s: its first job wakes the queue, the pause lands while it is awake or as it goes
/// idle, the job added while paused stays waiting (the shared wait gets no marker: pause
/// deleted it), and resume wakes the queue to run it.
#[test]
fn a_paused_idle_queue_stays_paused_and_resume_wakes_it() {
    let redis = Redis::start();
    let config = format!(
        "[worker]\nidle_release = \"{IDLE_RELEASE}\"\n\
         [queues.paused.handlers.go]\nbuiltin = \"echo\"\n"
    );
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    wait_let_go(&redis, 6);
    node("pause.mjs", &redis.url(), &[]);
    assert!(daemon.health().is_some());
}

/// A queue woken from idle records its new engine worker as this run's (`engine.rs`: on a
/// wake that record is written after the worker starts fetching, not by the recover script
/// before it): a kill -9 while the woken queue runs a job, then a restart with the same
/// WORKER_ID, runs the job again at once, not after its lock expires (30 s) plus stalled checks.
#[test]
fn a_job_on_a_woken_queue_is_recovered_at_once_after_a_crash() {
    let redis = Redis::start();
    let scratch = TempDir::new("woken-crash");
    let runs = scratch.path().join("runs.log");
    let cfg = format!(
        "[worker]\nidle_release = \"{IDLE_RELEASE}\"\n[queues.w.handlers.noop]\n\
         exec = 'echo \"$JOB_ID\" >> {}; sleep 5'\n",
        runs.display()
    );
    let env = [("WORKER_ID", "box-w")];
    let first = Daemon::start(&redis.url(), &cfg, None, &env);
    first.wait_healthy();
    // The queue is idle: only the shared wait blocks.
    poll(Duration::from_secs(30), "the queue to go idle", || {
        let clients = redis.cmd(&["CLIENT", "LIST"]);
        (clients.matches("cmd=bzpopmin").count() == 1).then_some(())
    });
    let id = node_add(&redis, "w", "{}");
    let started = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    poll(Duration::from_secs(20), "the job to start", || {
        (started() >= 1).then_some(())
    });
    first.signal(nix::sys::signal::Signal::SIGKILL);
    drop(first);

    let second = Daemon::start(&redis.url(), &cfg, None, &env);
    // 20 s: well under the lock's 30 s, so only the run record can have moved it back.
    poll(Duration::from_secs(20), "the job to start again", || {
        (started() >= 2).then_some(())
    });
    assert_eq!(
        wait_finished(&redis, "w", &id, Duration::from_secs(20)),
        "completed"
    );
    assert_eq!(job_field(&redis, "w", &id, "stc"), "1", "one stall counted");
    drop(second);
}
