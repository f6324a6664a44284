//! Issue 29's schedule policies end to end: overlap `buffer_one` (one tick waits behind the
//! running run, the rest are skipped and counted), `catch_up_mode = "all"` (each missed tick
//! runs, one after another), and `--test-crontab` showing and checking the policies of
//! crontab lines (`[cron]` defaults, `[cron.entries."crontab:LINE"]`).

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::*;

fn secs_of(id: &str) -> i64 {
    id.rsplit('-').next().unwrap().parse().unwrap()
}

fn all_ids(redis: &Redis, queue: &str) -> BTreeSet<String> {
    ["wait", "active", "delayed", "completed", "failed"]
        .iter()
        .flat_map(|s| ids_in(redis, queue, s))
        .collect()
}

fn field_ms(redis: &Redis, queue: &str, id: &str, field: &str) -> i64 {
    job_field(redis, queue, id, field).parse().unwrap_or(0)
}

#[test]
fn buffer_one_runs_the_held_tick_right_after_the_running_one_never_alongside() {
    let redis = Redis::start();
    let config = r#"
[queues.slow]
concurrency = 5
[queues.slow.handlers.nap]
builtin = "sleep"
attempts = 1

[[schedule]]
name = "nap"
cron = "* * * * * * *"
overlap = "buffer_one"
enqueue = { queue = "slow", name = "nap", data = { ms = 3000 } }
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    // Three completed runs: the first, the tick held behind it, the one held behind that.
    let done = poll(Duration::from_secs(60), "three completed runs", || {
        let done: BTreeSet<String> = ids_in(&redis, "slow", "completed").into_iter().collect();
        (done.len() >= 3).then_some(done)
    });
    let secs: Vec<i64> = done.iter().map(|i| secs_of(i)).collect();
    let log = daemon.log();
    eprintln!("buffer_one: runs at {secs:?}");
    // The tick right after the first run's was held, not skipped: it is the second run.
    assert_eq!(
        secs[1],
        secs[0] + 1,
        "the next tick was held: {secs:?}\n{log}"
    );
    // No two runs at once: each started after the previous finished.
    let mut ids: Vec<&String> = done.iter().collect();
    ids.sort_by_key(|i| secs_of(i));
    for pair in ids.windows(2) {
        let finished = field_ms(&redis, "slow", pair[0], "finishedOn");
        let started = field_ms(&redis, "slow", pair[1], "processedOn");
        assert!(
            started >= finished,
            "{} started at {started}, before {} finished at {finished}",
            pair[1],
            pair[0]
        );
    }
    assert!(
        log.contains("tick held until the previous run finishes"),
        "{log}"
    );
    assert!(
        log.contains("1 tick(s) already held (overlap = buffer_one)"),
        "{log}"
    );
    let metrics = http(
        "GET",
        &daemon.health_url().replace("/health", "/metrics"),
        None,
        None,
    )
    .1;
    let skipped = metrics
        .lines()
        .find(|l| l.starts_with("cronq_cron_skipped_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        skipped >= 1.0,
        "skips beyond the buffer are counted:\n{metrics}"
    );
}

#[test]
fn catch_up_all_runs_each_missed_tick_one_after_another() {
    let redis = Redis::start();
    let config = r#"
[queues.report]
concurrency = 5
[queues.report.handlers.build]
builtin = "sleep"
[[schedule]]
name = "every-minute"
cron = "* * * * *"
catch_up = "10m"
catch_up_mode = "all"
catch_up_max = 3
enqueue = { queue = "report", name = "build", data = { ms = 300 } }
"#;
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let done = poll(Duration::from_secs(30), "three caught-up runs", || {
        let done: Vec<String> = ids_in(&redis, "report", "completed");
        (done.len() >= 3).then_some(done)
    });
    let mut secs: Vec<i64> = done.iter().map(|i| secs_of(i)).collect();
    secs.sort();
    eprintln!("catch-up all: {secs:?} (started {started})");
    // The three newest minute ticks before start, each run (`once` would run one).
    assert!(secs.iter().all(|s| s % 60 == 0), "{secs:?}");
    assert_eq!(secs[1] - secs[0], 60, "{secs:?}");
    assert_eq!(secs[2] - secs[1], 60, "{secs:?}");
    assert!(secs[0] <= started, "{secs:?}");
    assert!(
        all_ids(&redis, "report").len() <= 4,
        "capped at catch_up_max"
    );
    // One after another.
    let mut ids = done.clone();
    ids.sort_by_key(|i| secs_of(i));
    for pair in ids.windows(2) {
        let finished = field_ms(&redis, "report", &pair[0], "finishedOn");
        let began = field_ms(&redis, "report", &pair[1], "processedOn");
        assert!(began >= finished, "{pair:?}: {began} < {finished}");
    }
    assert!(daemon.log().contains("catch_up_mode = all"));
}

#[test]
fn test_crontab_shows_each_lines_policies_and_checks_the_entry_tables() {
    let dir = TempDir::new("policies");
    let tab = dir.write(
        "crontab",
        "0 3 * * * echo nightly\n*/5 * * * * echo often\n",
    );
    let config = dir.write(
        "worker.toml",
        "[cron]\njitter = \"10m\"\njitter_mode = \"fixed\"\n\n\
         [cron.entries.\"crontab:2\"]\noverlap = \"buffer_all\"\nbuffer_max = 4\n\
         catch_up = \"1h\"\ncatch_up_mode = \"all\"\nalert_after = \"2h\"\n\
         ping = \"https://hc-ping.com/secret-uuid\"\n",
    );
    let args = [
        "--test-crontab",
        tab.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    let (code, out, err) = run_worker(&args, &[("TZ", "UTC")], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("policy:")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("overlap=forbid") && lines[0].contains("jitter=10m fixed (+"),
        "{out}"
    );
    assert!(
        lines[1].contains("overlap=buffer_all (max 4)")
            && lines[1].contains("catch_up=1h all (max 10)")
            && lines[1].contains("alert_after=2h")
            && lines[1].contains("ping=https://hc-ping.com/…")
            && !out.contains("secret-uuid"),
        "{out}"
    );
    // The same fixed delay on every run of the test: it is hashed, not drawn.
    let (_, again, _) = run_worker(&args, &[("TZ", "UTC")], dir.path());
    assert_eq!(out.lines().nth(1), again.lines().nth(1));

    // A table naming no line fails, with its place and the fix.
    let bad = dir.write(
        "bad.toml",
        "[cron.entries.\"crontab:9\"]\noverlap = \"allow\"\n",
    );
    let args = [
        "--test-crontab",
        tab.to_str().unwrap(),
        "--config",
        bad.to_str().unwrap(),
    ];
    let (code, _, err) = run_worker(&args, &[], dir.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.toml:") && err.contains("crontab:9") && err.contains("crontab:LINE"),
        "{err}"
    );
    // A bad value fails at its line.
    let bad = dir.write("bad2.toml", "[cron]\n\noverlap = \"queue\"\n");
    let args = [
        "--test-crontab",
        tab.to_str().unwrap(),
        "--config",
        bad.to_str().unwrap(),
    ];
    let (code, _, err) = run_worker(&args, &[], dir.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("bad2.toml:3") && err.contains("buffer_one"),
        "{err}"
    );
}
