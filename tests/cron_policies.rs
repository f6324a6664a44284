//! Schedule policies end to end on a real Redis, through `[[schedule]]` tables: overlap
//! `forbid` (default) skips ticks while the previous run is unfinished, `allow` does not;
//! `catch_up` runs one tick missed while down; `jitter` delays starts; and single fire holds
//! with three replicas over 60 one-second ticks.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use support::*;

fn every_second(name: &str, extra: &str) -> String {
    format!(
        r#"
[queues.slow]
concurrency = 5
[queues.slow.handlers.nap]
builtin = "sleep"
attempts = 1

[[schedule]]
name = "{name}"
cron = "* * * * * * *"
enqueue = {{ queue = "slow", name = "nap", data = {{ ms = 3500 }} }}
{extra}
"#
    )
}

fn all_ids(redis: &Redis, queue: &str) -> BTreeSet<String> {
    [
        "wait",
        "active",
        "delayed",
        "completed",
        "failed",
        "prioritized",
    ]
    .iter()
    .flat_map(|s| ids_in(redis, queue, s))
    .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn forbid_skips_ticks_while_the_previous_run_is_unfinished() {
    let redis = Redis::start();
    let mut daemon = Daemon::start(&redis.url(), &every_second("nap", ""), None, &[]);
    daemon.wait_healthy();
    poll(Duration::from_secs(30), "two runs", || {
        (all_ids(&redis, "slow").len() >= 2).then_some(())
    });
    let started = unix_now();
    poll(Duration::from_secs(30), "a skipped tick", || {
        daemon.log().contains("tick skipped").then_some(())
    });
    daemon.signal(Signal::SIGTERM);
    daemon.wait_exit(Duration::from_secs(30));
    let ids = all_ids(&redis, "slow");
    let elapsed = (unix_now() - started).max(1);
    eprintln!(
        "forbid: {} runs, {} skip lines",
        ids.len(),
        daemon.log().matches("tick skipped").count()
    );
    // Each run lasts 3.5 s, so at most one run every 3-4 ticks was added.
    let secs: Vec<i64> = ids
        .iter()
        .map(|i| i.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    for pair in secs.windows(2) {
        assert!(
            pair[1] - pair[0] >= 3,
            "runs overlapped: {secs:?} (over {elapsed}s)"
        );
    }
}

#[test]
fn allow_adds_every_tick() {
    let redis = Redis::start();
    let daemon = Daemon::start(
        &redis.url(),
        &every_second("nap", "overlap = \"allow\""),
        None,
        &[],
    );
    daemon.wait_healthy();
    let first = poll(Duration::from_secs(30), "a run", || {
        all_ids(&redis, "slow").into_iter().next()
    });
    let first: i64 = first.rsplit('-').next().unwrap().parse().unwrap();
    poll(Duration::from_secs(30), "five runs", || {
        (all_ids(&redis, "slow").len() >= 5).then_some(())
    });
    let secs: BTreeSet<i64> = all_ids(&redis, "slow")
        .iter()
        .map(|i| i.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    let last = *secs.last().unwrap();
    assert_eq!(
        secs.len() as i64,
        last - first + 1,
        "every tick added: {secs:?}"
    );
    assert!(!daemon.log().contains("tick skipped"));
}

#[test]
fn catch_up_runs_one_tick_missed_while_down() {
    let redis = Redis::start();
    let config = r#"
[queues.report.handlers.build]
builtin = "noop"
[[schedule]]
name = "hourly-ish"
cron = "* * * * *"
catch_up = "2m"
enqueue = { queue = "report", name = "build" }
"#;
    let started = unix_now();
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    // The minute's tick passed before this daemon started (it was "down"): it runs once now.
    let id = poll(Duration::from_secs(20), "the caught-up run", || {
        all_ids(&redis, "report").into_iter().next()
    });
    let scheduled: i64 = id.rsplit('-').next().unwrap().parse().unwrap();
    assert!(
        scheduled <= started && started - scheduled < 120,
        "caught up {scheduled}, started {started}"
    );
    assert_eq!(scheduled % 60, 0, "a minute tick");
    assert!(daemon.log().contains("catching up"), "logged");
}

#[test]
fn jitter_delays_the_start() {
    let redis = Redis::start();
    let config = r#"
[[schedule]]
name = "spread"
cron = "* * * * * * *"
jitter = "5s"
overlap = "allow"
enqueue = { queue = "spread", name = "tick" }
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    poll(Duration::from_secs(20), "four ticks", || {
        (all_ids(&redis, "spread").len() >= 4).then_some(())
    });
    let delays: Vec<u64> = all_ids(&redis, "spread")
        .iter()
        .map(|id| {
            job_field(&redis, "spread", id, "delay")
                .parse()
                .unwrap_or(0)
        })
        .collect();
    assert!(delays.iter().all(|d| *d <= 5000), "{delays:?}");
    assert!(
        delays.iter().any(|d| *d > 0),
        "some start later: {delays:?}"
    );
}

#[test]
fn three_replicas_sixty_ticks_sixty_jobs() {
    let redis = Redis::start();
    let config = r#"
[[schedule]]
name = "beat"
cron = "* * * * * * *"
overlap = "allow"
enqueue = { queue = "beats", name = "beat" }
"#;
    let mut daemons: Vec<Daemon> = (0..3)
        .map(|_| Daemon::start(&redis.url(), config, None, &[]))
        .collect();
    for d in &daemons {
        d.wait_healthy();
    }
    poll(Duration::from_secs(90), "60 ticks", || {
        (ids_in(&redis, "beats", "wait").len() >= 60).then_some(())
    });
    for d in &daemons {
        d.signal(Signal::SIGTERM);
    }
    for d in &mut daemons {
        assert_eq!(d.wait_exit(Duration::from_secs(30)), 0);
    }
    let ids = ids_in(&redis, "beats", "wait");
    let secs: BTreeSet<i64> = ids
        .iter()
        .map(|i| i.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    let (first, last) = (*secs.first().unwrap(), *secs.last().unwrap());
    eprintln!(
        "3 replicas: {} jobs for {} ticks ({first}..={last})",
        ids.len(),
        last - first + 1
    );
    assert_eq!(ids.len(), secs.len(), "no tick added twice");
    assert_eq!(secs.len() as i64, last - first + 1, "no tick missed");
    assert!(ids.len() >= 60);
}

#[test]
fn replace_cancels_the_running_run_even_on_another_replica() {
    let redis = Redis::start();
    let config = r#"
[queues.slow.handlers.nap]
exec = "sleep 30"
attempts = 1
[[schedule]]
name = "fresh"
cron = "* * * * * * *"
overlap = "replace"
enqueue = { queue = "slow", name = "nap" }
"#;
    // Two replicas: whichever adds a tick, the run may be on the other one.
    let a = Daemon::start(&redis.url(), config, None, &[]);
    let b = Daemon::start(&redis.url(), config, None, &[]);
    a.wait_healthy();
    b.wait_healthy();
    let cancelled = poll(Duration::from_secs(30), "a replaced run", || {
        ids_in(&redis, "slow", "failed").into_iter().next()
    });
    assert_eq!(
        job_field(&redis, "slow", &cancelled, "failedReason"),
        "cancelled on request (a newer run replaced it)"
    );
    let log = format!("{}{}", a.log(), b.log());
    assert!(log.contains("replacing the previous run"), "{log}");
    assert!(log.contains("job cancelled on request"), "{log}");
}
