//! /health follows Redis (200 → 503 while it is down → 200) and the daemon keeps consuming
//! after Redis comes back; SIGTERM during a long job exits 0 with the job back in `wait`, its
//! attempt not counted and its process group gone.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use support::*;

const CONFIG: &str = r#"
[worker]
lock_duration = "5s"
[queues.work.handlers.echo]
builtin = "echo"
[queues.work.handlers.long]
exec = "echo $$ > long.pid; exec sleep 60"
"#;

#[test]
fn health_follows_redis_and_consumption_resumes() {
    let mut redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    let body = daemon.wait_healthy();
    assert_eq!(body["redis"]["connected"], true);
    assert!(body["redis"]["latency_ms"].as_f64().is_some());
    assert!(body["uptime"].as_f64().is_some() && body["timestamp"].is_string());
    assert_eq!(body["queues"]["work"]["concurrency"], 5);

    redis.stop();
    let (code, body) = poll(
        Duration::from_secs(15),
        "health to report Redis down",
        || daemon.health().filter(|(c, _)| *c == 503),
    );
    assert_eq!(code, 503);
    assert_eq!(body["status"], "unhealthy");
    assert!(
        body["reason"].as_str().unwrap().starts_with("redis"),
        "{body}"
    );

    redis.restart();
    daemon.wait_healthy();
    let dir = TempDir::new("resume");
    let id = enqueue(
        &redis,
        &dir,
        CONFIG,
        &["work", "echo", "--data", r#"{"after":"restart"}"#],
    );
    assert_eq!(
        wait_finished(&redis, "work", &id, Duration::from_secs(20)),
        "completed"
    );
    assert_eq!(
        job_field(&redis, "work", &id, "returnvalue"),
        r#"{"after":"restart"}"#
    );
    let log = daemon.log();
    let unreachable_lines = log
        .lines()
        .filter(|l| l.contains("queue loop error"))
        .count();
    assert!(
        unreachable_lines <= 2,
        "one line per queue loop outage, not a flood: {unreachable_lines}"
    );
}

#[test]
fn sigterm_requeues_a_cut_off_job_and_exits_zero() {
    let redis = Redis::start();
    let mut daemon = Daemon::start(&redis.url(), CONFIG, None, &[("SHUTDOWN_TIMEOUT", "1s")]);
    daemon.wait_healthy();
    let dir = TempDir::new("term");
    let id = enqueue(&redis, &dir, CONFIG, &["work", "long", "--attempts", "3"]);
    poll(Duration::from_secs(10), "the long job to start", || {
        (job_state(&redis, "work", &id) == "active").then_some(())
    });
    let pidfile = daemon.dir.path().join("long.pid");
    let pid: i32 = poll(
        Duration::from_secs(10),
        "the handler to write its pid",
        || std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok(),
    );

    daemon.signal(Signal::SIGTERM);
    let (_, body) = poll(Duration::from_secs(5), "health to say draining", || {
        daemon.health().filter(|(_, b)| b["status"] == "draining")
    });
    assert_eq!(body["status"], "draining");
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), 0);

    assert_eq!(job_state(&redis, "work", &id), "waiting");
    assert_eq!(
        job_field(&redis, "work", &id, "atm"),
        "",
        "no attempt counted"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "handler process {pid} survived"
    );
    let log = daemon.log();
    assert!(log.contains("cut off by shutdown"), "{log}");
}

#[test]
fn a_second_sigterm_cuts_off_at_once() {
    let redis = Redis::start();
    let mut daemon = Daemon::start(&redis.url(), CONFIG, None, &[("SHUTDOWN_TIMEOUT", "60s")]);
    daemon.wait_healthy();
    let dir = TempDir::new("term2");
    let id = enqueue(&redis, &dir, CONFIG, &["work", "long"]);
    poll(Duration::from_secs(10), "the long job to start", || {
        (job_state(&redis, "work", &id) == "active").then_some(())
    });
    daemon.signal(Signal::SIGTERM);
    poll(Duration::from_secs(5), "health to say draining", || {
        daemon.health().filter(|(_, b)| b["status"] == "draining")
    });
    daemon.signal(Signal::SIGTERM);
    // Well before the 60 s deadline.
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), 0);
    assert_eq!(job_state(&redis, "work", &id), "waiting");
}
