//! One job per tick, whatever the replica count: two daemons on one Redis run a one-second
//! crontab entry; every second in the window has exactly one job, and the replicas' second
//! adds were refused as duplicates. Command lines run through the `cron` queue.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::*;

const CRONTAB: &str = "# every second, seconds-first 7-field form\n* * * * * * * enqueue ticks tick {\"from\":\"crontab\"}\n";

#[test]
fn two_replicas_add_each_tick_once() {
    let redis = Redis::start();
    // The ticks are consumed: with the default overlap = forbid, a tick whose previous run still
    // waits would be skipped.
    let cfg = "[queues.ticks.handlers.tick]\nbuiltin = \"noop\"\n";
    let mut a = Daemon::start(&redis.url(), cfg, Some(CRONTAB), &[]);
    let mut b = Daemon::start(&redis.url(), cfg, Some(CRONTAB), &[]);
    a.wait_healthy();
    b.wait_healthy();
    poll(Duration::from_secs(30), "six ticks", || {
        (all_job_ids(&redis, "ticks").len() >= 6).then_some(())
    });
    a.signal(Signal::SIGTERM);
    b.signal(Signal::SIGTERM);
    let (ca, cb) = (
        a.wait_exit(Duration::from_secs(20)),
        b.wait_exit(Duration::from_secs(20)),
    );
    if ca != 0 {
        eprintln!("A LOG:\n{}", a.log());
    }
    if cb != 0 {
        eprintln!("B LOG:\n{}", b.log());
    }
    assert_eq!((ca, cb), (0, 0));

    let ids = all_job_ids(&redis, "ticks");
    let secs: BTreeSet<i64> = ids
        .iter()
        .map(|id| id.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(secs.len(), ids.len(), "one job per tick: {ids:?}");
    let (first, last) = (*secs.first().unwrap(), *secs.last().unwrap());
    assert_eq!(
        secs.len() as i64,
        last - first + 1,
        "no tick missed: {secs:?}"
    );
    assert!(ids.iter().all(|id| id.starts_with("cron-")), "{ids:?}");
    assert_eq!(job_field(&redis, "ticks", &ids[0], "name"), "tick");
    assert_eq!(
        job_field(&redis, "ticks", &ids[0], "data"),
        r#"{"from":"crontab"}"#
    );
    let events = redis.cmd(&["XRANGE", "bull:ticks:events", "-", "+"]);
    assert!(
        events.contains("duplicated"),
        "the second replica's adds were refused as duplicates"
    );
}

#[test]
fn command_lines_run_through_the_cron_queue() {
    let redis = Redis::start();
    let tab = "GREETING=hello\n* * * * * * * echo \"$GREETING from $JOB_QUEUE\"\n";
    let daemon = Daemon::start(&redis.url(), "", Some(tab), &[]);
    daemon.wait_healthy();
    let id = poll(Duration::from_secs(20), "a completed cron job", || {
        ids_in(&redis, "cron", "completed").into_iter().next()
    });
    let logs = redis.cmd(&["LRANGE", &format!("bull:cron:{id}:logs"), "0", "-1"]);
    assert_eq!(logs.trim(), "hello from cron");
    let data: serde_json::Value =
        serde_json::from_str(&job_field(&redis, "cron", &id, "data")).unwrap();
    assert!(
        data.get("command").is_none(),
        "the command never travels in the job: {data}"
    );
    assert!(
        data["source"].as_str().unwrap().ends_with("crontab:2"),
        "{data}"
    );
}
