//! Reload (SIGUSR2, or a changed file with --watch): the new crontab is parsed first; if
//! invalid, the old schedule stays and the error is logged; if valid, it takes over at once.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use support::*;

fn ticks(redis: &Redis, queue: &str) -> Vec<i64> {
    let mut secs: Vec<i64> = all_job_ids(redis, queue)
        .iter()
        .filter_map(|id| id.rsplit('-').next()?.parse().ok())
        .collect();
    secs.sort();
    secs
}

fn reload_case(watch: bool) {
    let redis = Redis::start();
    let extra: &[(&str, &str)] = &[];
    // Both queues are consumed: with the default overlap = forbid a tick whose previous run
    // still waits would be skipped.
    let cfg = "[queues.a.handlers.tick]\nbuiltin = \"noop\"\n[queues.b.handlers.tick]\nbuiltin = \"noop\"\n";
    let args: &[&str] = if watch { &["--watch"] } else { &[] };
    let daemon = Daemon::start_with_args(
        &redis.url(),
        cfg,
        Some("* * * * * * * enqueue a tick\n"),
        extra,
        args,
    );
    daemon.wait_healthy();
    poll(Duration::from_secs(20), "a tick on queue a", || {
        (!ticks(&redis, "a").is_empty()).then_some(())
    });
    let tab = daemon.dir.path().join("crontab");

    // An invalid file is refused; the old schedule keeps running.
    std::fs::write(&tab, "* * * * * * * enqueue b tick\n61 * * * * echo bad\n").unwrap();
    if !watch {
        daemon.signal(Signal::SIGUSR2);
    }
    poll(Duration::from_secs(20), "the refusal in the log", || {
        daemon.log().contains("reload refused").then_some(())
    });
    let before = ticks(&redis, "a").len();
    poll(Duration::from_secs(20), "queue a to keep ticking", || {
        (ticks(&redis, "a").len() > before).then_some(())
    });
    assert!(ticks(&redis, "b").is_empty());

    // A valid file takes over.
    std::fs::write(&tab, "* * * * * * * enqueue b tick\n").unwrap();
    if !watch {
        daemon.signal(Signal::SIGUSR2);
    }
    poll(Duration::from_secs(20), "two ticks on queue b", || {
        (ticks(&redis, "b").len() >= 2).then_some(())
    });
    let last_a = *ticks(&redis, "a").last().unwrap();
    let first_b = ticks(&redis, "b")[0];
    poll(Duration::from_secs(20), "a third tick on b", || {
        (ticks(&redis, "b").len() >= 3).then_some(())
    });
    assert_eq!(
        *ticks(&redis, "a").last().unwrap(),
        last_a,
        "queue a stopped ticking after the reload"
    );
    assert!(
        first_b >= last_a,
        "b took over from a: a ended {last_a}, b began {first_b}"
    );
}

#[test]
fn sigusr2_reloads_a_valid_crontab_and_keeps_the_old_one_otherwise() {
    reload_case(false);
}

#[test]
fn watch_reloads_on_file_change() {
    reload_case(true);
}

/// The last log line of job `id` of `queue` once it has finished.
fn finished_log(redis: &Redis, queue: &str, id: &str) -> String {
    wait_finished(redis, queue, id, Duration::from_secs(20));
    redis.cmd(&["LRANGE", &format!("bull:{queue}:{id}:logs"), "-1", "-1"])
}

#[test]
fn sigusr2_swaps_edited_handlers_and_names_what_needs_a_restart() {
    let redis = Redis::start();
    let old = "[queues.q]\nconcurrency = 2\n[queues.q.handlers.run]\nexec = \"echo old-command\"\n";
    let daemon = Daemon::start(&redis.url(), old, None, &[]);
    daemon.wait_healthy();
    let id = enqueue(&redis, &daemon.dir, old, &["q", "run"]);
    assert_eq!(finished_log(&redis, "q", &id), "old-command");

    // An operator fixes the command, and also adds a queue and raises a concurrency.
    let new = "[queues.q]\nconcurrency = 3\n[queues.q.handlers.run]\nexec = \"echo new-command\"\n\
               [queues.extra.handlers.run]\nbuiltin = \"noop\"\n";
    std::fs::write(daemon.dir.path().join("worker.toml"), new).unwrap();
    daemon.signal(Signal::SIGUSR2);
    let line = poll(Duration::from_secs(20), "the reload's log line", || {
        daemon
            .log()
            .lines()
            // The reload component's verdict (the scheduler logs its own "schedule reloaded").
            .find(|l| l.contains("cronq::worker::reload") && l.contains("reloaded"))
            .map(str::to_string)
    });
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("partly reloaded"), "{line}");
    assert!(line.contains("queue extra is new"), "{line}");
    assert!(line.contains("queue q concurrency 2 → 3"), "{line}");
    assert!(
        line.contains("q/run"),
        "the changed handler is named: {line}"
    );

    // The next job runs the new command.
    let id = enqueue(&redis, &daemon.dir, new, &["q", "run"]);
    assert_eq!(finished_log(&redis, "q", &id), "new-command");
}
