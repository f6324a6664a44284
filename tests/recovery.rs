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
    // Three shells, each with its `sleep` (and, since the fix, its supervisor).
    let handlers = poll(Duration::from_secs(20), "three running handlers", || {
        let d = descendants(daemon.pid());
        let sleeping = d
            .iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            })
            .count();
        (sleeping == 3).then_some(d)
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

/// kill -9, then a restart with the same WORKER_ID: the jobs the killed run left `active` start
/// again at once (without this, after lock expiry plus stalled checks: about 60 s).
#[test]
fn restart_with_the_same_worker_id_recovers_its_jobs_at_once() {
    let redis = Redis::start();
    let scratch = TempDir::new("restart");
    let runs = scratch.path().join("runs.log");
    let cfg = format!(
        r#"
[worker]
concurrency = 3
[queues.r.handlers.run]
exec = 'echo "$JOB_ID" >> {}; sleep 2'
"#,
        runs.display()
    );
    let env = [("WORKER_ID", "box-1")];
    let first = Daemon::start(&redis.url(), &cfg, None, &env);
    first.wait_healthy();
    let ids: Vec<String> = (0..3)
        .map(|_| api_add(first.port, "r", &serde_json::json!({"name": "run"})))
        .collect();
    let started = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    poll(Duration::from_secs(20), "three jobs running", || {
        (started() >= 3).then_some(())
    });
    first.signal(Signal::SIGKILL);
    drop(first);
    assert_eq!(
        count(&redis, "r", "active"),
        3,
        "the killed run's jobs are active"
    );

    let t = Instant::now();
    let second = Daemon::start(&redis.url(), &cfg, None, &env);
    poll(
        Duration::from_secs(20),
        "the three jobs to start again",
        || (started() >= 6).then_some(()),
    );
    let restarted_ms = t.elapsed().as_millis();
    for id in &ids {
        assert_eq!(
            wait_finished(&redis, "r", id, Duration::from_secs(20)),
            "completed"
        );
        assert_eq!(
            job_field(&redis, "r", id, "stc"),
            "1",
            "counted as one stall"
        );
    }
    assert!(
        second.log().contains("moved back to wait"),
        "{}",
        second.log()
    );
    // Generous: the figure printed is the point (within 1 s of the restart on a normal machine).
    assert!(restarted_ms < 10_000, "took {restarted_ms} ms");
    eprintln!("recovery/restart: jobs=3 restart_to_rerun_ms={restarted_ms}");
}

/// A second daemon with a WORKER_ID a live one holds is refused, exit 2.
#[test]
fn a_second_live_daemon_with_one_worker_id_is_refused() {
    let redis = Redis::start();
    let cfg = "[queues.d.handlers.run]\nexec = 'true'\n";
    let env = [("WORKER_ID", "twin")];
    let first = Daemon::start(&redis.url(), cfg, None, &env);
    first.wait_healthy();
    let mut second = Daemon::start(&redis.url(), cfg, None, &env);
    assert_eq!(second.wait_exit(Duration::from_secs(20)), 2);
    assert!(
        second.log().contains("is in use by a live daemon"),
        "{}",
        second.log()
    );
    // The first one is untouched.
    let id = api_add(first.port, "d", &serde_json::json!({"name": "run"}));
    assert_eq!(
        wait_finished(&redis, "d", &id, Duration::from_secs(10)),
        "completed"
    );
}

/// Redis killed and restarted (AOF, every write synced) while jobs run and finish: every job
/// completes exactly once and none is left active. Before, a completion that hit the dead
/// connection was dropped and the job ran again after lock expiry plus stalled checks.
#[test]
fn redis_restart_while_jobs_finish_runs_each_job_once() {
    const JOBS: usize = 60;
    let mut redis = Redis::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let scratch = TempDir::new("aof");
    let runs = scratch.path().join("runs.log");
    let cfg = format!(
        r#"
[worker]
concurrency = 6
[defaults]
attempts = 3
backoff = "fixed:100"
remove_on_complete = false
[queues.a.handlers.run]
exec = 'echo "$JOB_ID" >> {}; sleep 0.3'
"#,
        runs.display()
    );
    let daemon = Daemon::start(&redis.url(), &cfg, None, &[]);
    daemon.wait_healthy();
    for i in 0..JOBS {
        api_add(
            daemon.port,
            "a",
            &serde_json::json!({"name": "run", "data": {"i": i}}),
        );
    }
    poll(Duration::from_secs(30), "a third of the jobs done", || {
        (count(&redis, "a", "completed") >= JOBS / 3).then_some(())
    });
    redis.restart();
    let t = Instant::now();
    // Well under the 30 s lock: a job left to stalled recovery would miss it.
    let deadline = Instant::now() + Duration::from_secs(25);
    while count(&redis, "a", "completed") < JOBS {
        if Instant::now() > deadline {
            let stuck: Vec<_> = ids_in(&redis, "a", "active")
                .into_iter()
                .map(|id| {
                    let lock = redis.cmd(&["GET", &format!("bull:a:{id}:lock")]);
                    let lines: Vec<_> = daemon
                        .log()
                        .lines()
                        .filter(|l| l.contains(&format!("\"{id}\"")))
                        .map(str::to_string)
                        .collect();
                    let ran = std::fs::read_to_string(&runs)
                        .unwrap_or_default()
                        .lines()
                        .filter(|l| *l == id)
                        .count();
                    (id, lock, ran, lines)
                })
                .collect();
            panic!("not all completed; active: {stuck:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let drain_ms = t.elapsed().as_millis();
    assert_eq!(count(&redis, "a", "active"), 0);
    let text = std::fs::read_to_string(&runs).unwrap();
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for id in text.lines() {
        *seen.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "jobs run more than once: {twice:?}");
    assert_eq!(seen.len(), JOBS);
    // How many outcomes the engine failed to write and cronq wrote with the lock (usually 0: the
    // race needs Redis to die between the lock check and the engine's write).
    let repaired = daemon.log().matches("written with the job's lock").count();
    // Jobs whose fetch reply was lost (Redis ran the fetch, then died before answering).
    let orphans = daemon.log().matches("never reached this worker").count();
    eprintln!(
        "recovery/aof-restart: jobs={JOBS} restart_to_drained_ms={drain_ms} repaired={repaired} \
         orphan_batches={orphans}"
    );
}
