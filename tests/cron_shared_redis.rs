//! Services and rolling updates share one Redis safely (issue 24): a daemon that meets a
//! crontab job of an entry it does not hold hands it back for the daemon that holds it instead
//! of failing it, so two services with different crontabs, or an old and a new pod whose
//! crontabs differ by a line, run every tick once and fail none. And a crontab run cut off by
//! shutdown follows the late-tick rule when the next daemon fetches it.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use support::*;

/// Completed jobs of the crontab queue whose job name (the entry id) `daemon` ran, per the
/// lines its command wrote to `ran.log` in its own directory.
fn ran_lines(daemon: &Daemon) -> usize {
    std::fs::read_to_string(daemon.dir.path().join("ran.log"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// Completed jobs of entry ... grouped by job name.
fn completed_by_name(redis: &Redis) -> std::collections::BTreeMap<String, usize> {
    let mut by = std::collections::BTreeMap::new();
    for id in ids_in(redis, "cron", "completed") {
        *by.entry(job_field(redis, "cron", &id, "name")).or_insert(0) += 1;
    }
    by
}

fn failed_reasons(redis: &Redis) -> Vec<String> {
    ids_in(redis, "cron", "failed")
        .iter()
        .map(|id| format!("{id}: {}", job_field(redis, "cron", id, "failedReason")))
        .collect()
}

/// Every entry's completed count equals the lines its daemon's command wrote: nothing ran
/// twice, and every completed job really ran.
fn each_tick_ran_once(redis: &Redis, daemons: &[&Daemon]) {
    let done = completed_by_name(redis);
    let total: usize = done.values().sum();
    let lines: usize = daemons.iter().map(|d| ran_lines(d)).sum();
    assert_eq!(total, lines, "completed jobs {done:?} vs lines written");
}

#[test]
fn two_services_with_different_crontabs_share_one_redis() {
    let redis = Redis::start();
    let a = Daemon::start(
        &redis.url(),
        "",
        Some("* * * * * * * echo a >> ran.log\n"),
        &[],
    );
    let b = Daemon::start(
        &redis.url(),
        "",
        Some("* * * * * * * echo b >> ran.log\n"),
        &[],
    );
    a.wait_healthy();
    b.wait_healthy();
    poll(Duration::from_secs(40), "six runs of each service", || {
        let done = completed_by_name(&redis);
        (done.len() == 2 && done.values().all(|n| *n >= 6)).then_some(())
    });
    let (mut a, mut b) = (a, b);
    a.signal(Signal::SIGTERM);
    b.signal(Signal::SIGTERM);
    a.wait_exit(Duration::from_secs(30));
    b.wait_exit(Duration::from_secs(30));
    let failed = failed_reasons(&redis);
    assert!(failed.is_empty(), "no tick failed: {failed:?}");
    assert!(ran_lines(&a) >= 6 && ran_lines(&b) >= 6);
    for line in std::fs::read_to_string(a.dir.path().join("ran.log"))
        .unwrap()
        .lines()
    {
        assert_eq!(line, "a", "service A ran only its own line");
    }
    each_tick_ran_once(&redis, &[&a, &b]);
    eprintln!(
        "handed back: A {} times, B {} times",
        a.log().matches("handed back").count(),
        b.log().matches("handed back").count()
    );
}

#[test]
fn a_rolling_update_that_changed_a_line_fails_nothing_and_runs_nothing_twice() {
    let redis = Redis::start();
    let old = Daemon::start(
        &redis.url(),
        "",
        Some("* * * * * * * echo v1 >> ran.log\n"),
        &[],
    );
    old.wait_healthy();
    poll(Duration::from_secs(30), "the old pod's runs", || {
        (ids_in(&redis, "cron", "completed").len() >= 2).then_some(())
    });
    // The new pod comes up beside it with the line changed, then the old one goes.
    let new = Daemon::start(
        &redis.url(),
        "",
        Some("* * * * * * * echo v2 >> ran.log\n"),
        &[],
    );
    new.wait_healthy();
    poll(
        Duration::from_secs(30),
        "both versions running side by side",
        || (ran_lines(&new) >= 4).then_some(()),
    );
    let mut old = old;
    old.signal(Signal::SIGTERM);
    old.wait_exit(Duration::from_secs(30));
    let after = ran_lines(&new);
    poll(Duration::from_secs(30), "the new pod alone", || {
        (ran_lines(&new) >= after + 3).then_some(())
    });
    let mut new = new;
    new.signal(Signal::SIGTERM);
    new.wait_exit(Duration::from_secs(30));
    let failed = failed_reasons(&redis);
    assert!(failed.is_empty(), "no tick failed: {failed:?}");
    each_tick_ran_once(&redis, &[&old, &new]);
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn a_run_cut_off_by_shutdown_is_not_rerun_past_its_window() {
    let redis = Redis::start();
    // Every 2 s: its window is the 10 s floor. A run lasts far longer than the drain deadline.
    let tab = "*/2 * * * * * * echo started >> ran.log; sleep 60\n";
    let config = "[worker]\nshutdown_timeout = \"1s\"\n";
    let mut first = Daemon::start(&redis.url(), config, Some(tab), &[]);
    first.wait_healthy();
    poll(Duration::from_secs(30), "a run started", || {
        (ran_lines(&first) >= 1).then_some(())
    });
    first.signal(Signal::SIGTERM);
    first.wait_exit(Duration::from_secs(30));
    let cut = poll(
        Duration::from_secs(5),
        "the cut-off run back in wait",
        || ids_in(&redis, "cron", "wait").into_iter().next(),
    );
    let tick: i64 = cut.rsplit('-').next().unwrap().parse().unwrap();
    // The next daemon starts after the tick's window closed (a clock condition, polled).
    poll(
        Duration::from_secs(30),
        "the tick's window to close",
        || (unix_now() > tick + 11).then_some(()),
    );
    let second = Daemon::start(&redis.url(), config, Some(tab), &[]);
    second.wait_healthy();
    let state = wait_finished(&redis, "cron", &cut, Duration::from_secs(20));
    let reason = job_field(&redis, "cron", &cut, "failedReason");
    assert_eq!(state, "failed", "not re-run: {reason}");
    assert!(reason.contains("tick missed: too late to run"), "{reason}");
    assert_eq!(job_field(&redis, "cron", &cut, "atm"), "1");
    drop(second);
}
