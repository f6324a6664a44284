//! Crontab command lines keep running while the store is down (issue 24): a tick whose add
//! fails runs in the daemon at once (`[cron] when_store_down = "run"`, the default), as under
//! Supercronic; once Redis is back, ticks are enqueued again, and no tick runs twice. With
//! `"skip"` the outage's ticks are counted missed instead.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::*;

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A one-second line that writes its run's id (`cron-<entry>-<tick seconds>`).
const TAB: &str = "* * * * * * * echo \"$JOB_ID\" >> runs.log\n";

/// Tick seconds → how many times a run of that tick wrote to `runs.log`.
fn runs(daemon: &Daemon) -> BTreeMap<i64, usize> {
    let text = std::fs::read_to_string(daemon.dir.path().join("runs.log")).unwrap_or_default();
    let mut seen = BTreeMap::new();
    for secs in text
        .lines()
        .filter_map(|id| id.rsplit('-').next()?.parse().ok())
    {
        *seen.entry(secs).or_insert(0) += 1;
    }
    seen
}

fn tick_count(daemon: &Daemon, after: i64, before: i64) -> usize {
    runs(daemon)
        .keys()
        .filter(|s| **s > after && **s < before)
        .count()
}

#[test]
fn a_command_line_keeps_running_while_redis_is_down_and_no_tick_runs_twice() {
    let mut redis = Redis::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let daemon = Daemon::start(&redis.url(), "", Some(TAB), &[]);
    daemon.wait_healthy();
    poll(Duration::from_secs(10), "two runs from the queue", || {
        (ids_in(&redis, "cron", "completed").len() >= 2).then_some(())
    });

    let t_stop = unix_now();
    redis.stop();
    // Before: nothing ran until Redis was back (the ticks were counted missed).
    let local = poll(
        Duration::from_secs(15),
        "three runs while Redis is down",
        || {
            let n = tick_count(&daemon, t_stop + 1, i64::MAX);
            (n >= 3).then_some(n)
        },
    );
    let log = daemon.log();
    assert!(
        log.contains("store unreachable: crontab commands run in this daemon"),
        "{log}"
    );
    redis.restart();
    let t_up = unix_now();
    daemon.wait_healthy();
    let queued = poll(
        Duration::from_secs(20),
        "three runs from the queue after the outage",
        || {
            let done: BTreeSet<i64> = ids_in(&redis, "cron", "completed")
                .iter()
                .filter_map(|id| id.rsplit('-').next()?.parse().ok())
                .filter(|s| *s > t_up + 1)
                .collect();
            (done.len() >= 3).then_some(done)
        },
    );
    let seen = runs(&daemon);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "ticks run twice: {twice:?}");
    for s in &queued {
        assert_eq!(seen.get(s), Some(&1), "queued tick {s} ran once");
    }
    // A tick that ran locally is not in the queue as well.
    let in_queue: BTreeSet<i64> = all_job_ids(&redis, "cron")
        .iter()
        .filter_map(|id| id.rsplit('-').next()?.parse().ok())
        .collect();
    let local_ticks: Vec<i64> = seen
        .keys()
        .copied()
        .filter(|s| *s > t_stop + 1 && *s < t_up - 1)
        .collect();
    // A tick that ran locally is in the queue only as its record (written finished, with
    // `local = 1`), never as a job that ran: each tick wrote runs.log once (checked above).
    for s in local_ticks.iter().filter(|s| in_queue.contains(s)) {
        let id = format!("cron-{}-{s}", entry_of(&redis));
        let job = job_hash(&redis, &id);
        assert_eq!(
            job.get("local").map(String::as_str),
            Some("1"),
            "tick {s} ran locally and from the queue: {job:?}"
        );
    }
    eprintln!(
        "cron_outage: local_runs_seen={local} local_ticks={} queued_after={} twice=0",
        local_ticks.len(),
        queued.len()
    );
}

#[test]
fn with_skip_the_outage_ticks_are_missed_and_nothing_runs() {
    let mut redis = Redis::start();
    let config = "[cron]\nwhen_store_down = \"skip\"\n";
    let daemon = Daemon::start(&redis.url(), config, Some(TAB), &[]);
    daemon.wait_healthy();
    poll(Duration::from_secs(10), "a run from the queue", || {
        (!ids_in(&redis, "cron", "completed").is_empty()).then_some(())
    });
    let t_stop = unix_now();
    redis.stop();
    // /metrics reads the store, which is down: the log says when a tick was missed.
    poll(Duration::from_secs(15), "a tick missed", || {
        daemon
            .log()
            .contains("cron tick missed: could not enqueue")
            .then_some(())
    });
    assert!(!daemon.log().contains("\"local\":true"), "{}", daemon.log());
    assert_eq!(
        tick_count(&daemon, t_stop + 1, i64::MAX),
        0,
        "nothing ran locally"
    );
    redis.restart();
}

/// A line whose run outlasts its one-second tick, started with Redis down.
const SLOW: &str = "* * * * * * * sleep 2; echo \"$JOB_ID\" >> runs.log\n";

#[test]
fn overlap_forbid_holds_over_local_runs() {
    let mut redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), "", Some(SLOW), &[]);
    daemon.wait_healthy();
    redis.stop();
    // Before: nothing ran locally, so nothing was skipped for a local run.
    poll(
        Duration::from_secs(15),
        "a tick skipped for a local run",
        || {
            daemon
                .log()
                .contains("previous run (run locally while the store was down) not finished")
                .then_some(())
        },
    );
    // Never two local runs of the entry at once: each start is followed by its end.
    let log = daemon.log();
    let mut going = 0;
    for line in log.lines().filter(|l| l.contains("\"local\":true")) {
        if line.contains("\"job started\"") {
            going += 1;
        } else if line.contains("\"job completed\"") || line.contains("\"job failed\"") {
            going -= 1;
        }
        assert!(going <= 1, "two local runs at once:\n{log}");
    }
    redis.restart();
}

#[test]
fn shutdown_waits_for_a_local_run() {
    let mut redis = Redis::start();
    let mut daemon = Daemon::start(&redis.url(), "", Some(SLOW), &[]);
    daemon.wait_healthy();
    redis.stop();
    poll(Duration::from_secs(15), "a local run started", || {
        let log = daemon.log();
        (log.contains("\"local\":true") && log.contains("\"job started\"")).then_some(())
    });
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)), 0);
    // Before: the daemon exited without it (nothing waited for it).
    let log = daemon.log();
    assert!(
        log.lines()
            .any(|l| l.contains("\"local\":true") && l.contains("\"job completed\"")),
        "{log}"
    );
    assert!(!runs(&daemon).is_empty(), "the run wrote its line");
    redis.restart();
}

/// Per-holder voucher fields (`<entry>` U+001F `<WORKER_ID>` → until-ms) of the crontab queue.
fn holder_fields(redis: &Redis) -> BTreeMap<String, u64> {
    let mut conn = redis.conn();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*:cron:cronq:entries")
        .query(&mut conn)
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for key in keys {
        let all: BTreeMap<String, u64> = redis::cmd("HGETALL")
            .arg(&key)
            .query(&mut conn)
            .unwrap_or_default();
        out.extend(all.into_iter().filter(|(f, _)| f.contains('\u{1f}')));
    }
    out
}

const ALONE: &str = "[cron]\nwhen_store_down = \"run_if_alone\"\n";

#[test]
fn run_if_alone_two_daemons_alive_at_last_contact_neither_runs_locally() {
    let mut redis = Redis::start();
    let a = Daemon::start(&redis.url(), ALONE, Some(TAB), &[]);
    let b = Daemon::start(&redis.url(), ALONE, Some(TAB), &[]);
    a.wait_healthy();
    b.wait_healthy();
    // Both daemons vouch for the entry, each under its own WORKER_ID...
    let seen = poll(Duration::from_secs(20), "two holders vouching", || {
        let f = holder_fields(&redis);
        (f.len() == 2).then_some(f)
    });
    // ...and each refreshed after both were there, so each has seen the other alive.
    poll(Duration::from_secs(30), "both holders refreshed", || {
        let now = holder_fields(&redis);
        seen.iter()
            .all(|(f, until)| now.get(f).is_some_and(|u| u > until))
            .then_some(())
    });
    let t_stop = unix_now();
    redis.stop();
    for d in [&a, &b] {
        poll(Duration::from_secs(15), "a tick missed", || {
            d.log()
                .contains("cron tick missed: could not enqueue")
                .then_some(())
        });
    }
    // Before: `run_if_alone` did not exist (the config was refused); with "run" both ran.
    for d in [&a, &b] {
        assert!(!d.log().contains("\"local\":true"), "{}", d.log());
        assert_eq!(
            tick_count(d, t_stop + 1, i64::MAX),
            0,
            "nothing ran locally"
        );
    }
    redis.restart();
}

#[test]
fn run_if_alone_a_lone_daemon_runs_locally() {
    let mut redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), ALONE, Some(TAB), &[]);
    daemon.wait_healthy();
    poll(Duration::from_secs(20), "the daemon vouching", || {
        (holder_fields(&redis).len() == 1).then_some(())
    });
    let t_stop = unix_now();
    redis.stop();
    poll(
        Duration::from_secs(15),
        "two runs while Redis is down",
        || (tick_count(&daemon, t_stop + 1, i64::MAX) >= 2).then_some(()),
    );
    assert!(daemon.log().contains("\"local\":true"), "{}", daemon.log());
    redis.restart();
}

/// The entry id of the one crontab line (from a completed run's id `cron-<entry>-<secs>`).
fn entry_of(redis: &Redis) -> String {
    let id = ids_in(redis, "cron", "completed")
        .into_iter()
        .next()
        .unwrap_or_default();
    let id = id.strip_prefix("cron-").unwrap_or(&id);
    id.rsplit_once('-')
        .map(|(e, _)| e.to_string())
        .unwrap_or_default()
}

/// HGETALL of job `id` of the `cron` queue under the daemon's prefix.
fn job_hash(redis: &Redis, id: &str) -> BTreeMap<String, String> {
    let mut conn = redis.conn();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("*:cron:{id}"))
        .query(&mut conn)
        .unwrap_or_default();
    let Some(key) = keys.first() else {
        return BTreeMap::new();
    };
    redis::cmd("HGETALL")
        .arg(key)
        .query(&mut conn)
        .unwrap_or_default()
}

#[test]
fn a_local_run_is_recorded_in_completed_when_redis_returns_and_runs_once() {
    let mut redis = Redis::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let daemon = Daemon::start(&redis.url(), "", Some(TAB), &[]);
    daemon.wait_healthy();
    poll(Duration::from_secs(10), "a run from the queue", || {
        (!ids_in(&redis, "cron", "completed").is_empty()).then_some(())
    });
    let t_stop = unix_now();
    redis.stop();
    poll(
        Duration::from_secs(15),
        "two runs while Redis is down",
        || (tick_count(&daemon, t_stop + 1, i64::MAX) >= 2).then_some(()),
    );
    let text = std::fs::read_to_string(daemon.dir.path().join("runs.log")).unwrap_or_default();
    let local_id = text
        .lines()
        .find(|id| {
            id.rsplit('-')
                .next()
                .and_then(|s| s.parse::<i64>().ok())
                .is_some_and(|s| s > t_stop + 1)
        })
        .expect("a local run's id")
        .to_string();
    redis.restart();
    let restarted = std::time::Instant::now();
    daemon.wait_healthy();
    // Before: the local run was only logged; `completed` never held its id.
    poll(
        Duration::from_secs(20),
        "the local run in completed",
        || {
            ids_in(&redis, "cron", "completed")
                .contains(&local_id)
                .then_some(())
        },
    );
    eprintln!(
        "cron_outage: local run {local_id} in completed {:.2} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    let job = job_hash(&redis, &local_id);
    assert_eq!(job.get("local").map(String::as_str), Some("1"), "{job:?}");
    assert_eq!(job.get("atm").map(String::as_str), Some("1"), "{job:?}");
    assert!(
        job.contains_key("finishedOn") && job.contains_key("processedOn"),
        "{job:?}"
    );
    let data: serde_json::Value =
        serde_json::from_str(job.get("data").map(String::as_str).unwrap_or("null")).unwrap();
    assert_eq!(data["local"], serde_json::json!(true), "{job:?}");
    // A `completed` event on the stream, for QueueEvents.
    let mut conn = redis.conn();
    let streams: Vec<String> = redis::cmd("KEYS")
        .arg("*:cron:events")
        .query(&mut conn)
        .unwrap_or_default();
    let raw: redis::Value = redis::cmd("XRANGE")
        .arg(&streams[0])
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    let events = format!("{raw:?}");
    assert!(events.contains(&local_id), "no event for {local_id}");
    // Recorded, never run again: the tick ran exactly once.
    let secs: i64 = local_id.rsplit('-').next().unwrap().parse().unwrap();
    poll(
        Duration::from_secs(10),
        "two runs from the queue after",
        || (ids_in(&redis, "cron", "completed").len() >= 3).then_some(()),
    );
    assert_eq!(runs(&daemon).get(&secs), Some(&1), "tick {secs} ran once");
}
