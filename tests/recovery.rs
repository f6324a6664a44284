//! Recovery after the daemon or Redis goes away (issue 17): handlers die with a `kill -9`ed
//! daemon, and SIGTERM never waits on a dead Redis. Figures go to stderr.

mod fault_support;
mod support;

use std::time::{Duration, Instant};

use fault_support::*;
use nix::sys::signal::Signal;
use support::*;

/// Every process whose parent chain leads to `root` (read from /proc).
fn descendants(root: i32) -> Vec<i32> {
    let mut all = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for c in children_of(p) {
            all.push(c);
            frontier.push(c);
        }
    }
    all
}

/// A handler whose shell has a child of its own (`sleep` after another command), the case a
/// parent-death signal on the shell alone would miss.
#[test]
fn kill_9_of_the_daemon_ends_its_handlers() {
    let redis = Redis::start();
    let cfg = r#"
[worker]
concurrency = 3
[queues.k.handlers.run]
exec = 'echo started; sleep 60; echo finished'
"#;
    let daemon = Daemon::start(&redis.url(), cfg, None, &[]);
    daemon.wait_healthy();
    for _ in 0..3 {
        api_add(daemon.port, "k", &serde_json::json!({"name": "run"}));
    }
    // Three shells, each with its `sleep`.
    let handlers = poll(Duration::from_secs(20), "three running handlers", || {
        let d = descendants(daemon.pid());
        (d.len() >= 6).then_some(d)
    });
    daemon.signal(Signal::SIGKILL);
    let t = Instant::now();
    poll(
        Duration::from_secs(10),
        "every handler process to end with the daemon",
        || handlers.iter().all(|p| !alive(*p)).then_some(()),
    );
    eprintln!(
        "recovery/pdeathsig: handler_processes={} gone_after_ms={}",
        handlers.len(),
        t.elapsed().as_millis()
    );
}

/// Redis reachable at start, then gone (killed, or frozen: connections open, no answers);
/// nothing running: SIGTERM exits at once.
#[test]
fn sigterm_with_redis_down_and_nothing_running_exits_promptly() {
    for frozen in [false, true] {
        sigterm_with_redis_down(frozen);
    }
}

fn sigterm_with_redis_down(frozen: bool) {
    let mut redis = Redis::start();
    let cfg = r#"
[queues.q.handlers.run]
exec = 'true'
"#;
    let mut d = Daemon::start(&redis.url(), cfg, None, &[]);
    d.wait_healthy();
    let job = api_add(d.port, "q", &serde_json::json!({"name": "run"}));
    assert_eq!(
        wait_finished(&redis, "q", &job, Duration::from_secs(10)),
        "completed"
    );
    let redis_pid = redis_pid(&redis);
    if frozen {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(redis_pid), Signal::SIGSTOP);
    } else {
        redis.stop();
    }
    poll(
        Duration::from_secs(30),
        "/health to notice Redis is gone",
        || d.health().filter(|(code, _)| *code == 503),
    );
    let t = Instant::now();
    d.signal(Signal::SIGTERM);
    // Generous, so a slow machine does not fail it; the figure printed is what matters (< 1 s).
    assert_eq!(d.wait_exit(Duration::from_secs(5)), 0, "{}", d.log());
    eprintln!(
        "recovery/sigterm-redis-down: redis={} sigterm_to_exit_ms={}",
        if frozen { "frozen" } else { "killed" },
        t.elapsed().as_millis()
    );
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(redis_pid), Signal::SIGCONT);
}

/// The server's PID, from `INFO server`.
fn redis_pid(redis: &Redis) -> i32 {
    redis
        .cmd(&["INFO", "server"])
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("INFO server names process_id")
}
