//! Crontab command lines run as Supercronic runs them (issue 24): once per tick, a failure
//! logged and the next tick run normally; every entry at its time whatever the job worker's
//! concurrency; and a queue that is declared is consumed (a catch-all handler) or warned about.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::*;

fn cron_ids(redis: &Redis, queue: &str) -> BTreeSet<String> {
    ["wait", "active", "delayed", "completed", "failed"]
        .iter()
        .flat_map(|s| ids_in(redis, queue, s))
        .collect()
}

#[test]
fn a_failing_line_runs_once_per_tick_and_the_next_tick_runs() {
    let redis = Redis::start();
    // `[defaults] attempts = 3` configures the job worker; it must not re-run a crontab line.
    let config = "[defaults]\nattempts = 3\nbackoff = \"fixed:500\"\n";
    let tab = "* * * * * * * echo ran >> runs.log; exit 3\n";
    let mut daemon = Daemon::start(&redis.url(), config, Some(tab), &[]);
    daemon.wait_healthy();
    poll(Duration::from_secs(30), "three failed runs", || {
        (ids_in(&redis, "cron", "failed").len() >= 3).then_some(())
    });
    daemon.signal(Signal::SIGTERM);
    daemon.wait_exit(Duration::from_secs(30));
    let failed = ids_in(&redis, "cron", "failed");
    for id in &failed {
        assert_eq!(job_field(&redis, "cron", id, "atm"), "1", "{id} ran once");
    }
    assert!(
        ids_in(&redis, "cron", "delayed").is_empty(),
        "no retry pending"
    );
    let log = daemon.log();
    assert!(
        !log.contains("tick skipped"),
        "a failure never skips the next tick"
    );
    assert!(
        log.contains("will_retry\":false"),
        "failure logged as final"
    );
    let runs = std::fs::read_to_string(daemon.dir.path().join("runs.log")).unwrap();
    assert_eq!(
        runs.lines().count(),
        cron_ids(&redis, "cron").len(),
        "one run per tick's job"
    );
}

#[test]
fn entries_due_together_run_together_whatever_worker_concurrency() {
    let redis = Redis::start();
    let tab = "*/4 * * * * * * sleep 3\n*/4 * * * * * * sleep 3.0\n";
    let mut daemon = Daemon::start(&redis.url(), "", Some(tab), &[("WORKER_CONCURRENCY", "1")]);
    daemon.wait_healthy();
    // Both entries of one tick, finished (their start times are then both written).
    let (a, b) = poll(Duration::from_secs(40), "both runs of one tick", || {
        let done = ids_in(&redis, "cron", "completed");
        let secs = |id: &String| id.rsplit('-').next().unwrap().to_string();
        done.iter().find_map(|a| {
            done.iter()
                .find(|b| *b != a && secs(a) == secs(b))
                .map(|b| (a.clone(), b.clone()))
        })
    });
    daemon.signal(Signal::SIGTERM);
    daemon.wait_exit(Duration::from_secs(30));
    let started = |id: &str| -> i64 {
        job_field(&redis, "cron", id, "processedOn")
            .parse()
            .unwrap()
    };
    let apart = (started(&a) - started(&b)).abs();
    eprintln!("two entries of one tick started {apart} ms apart");
    // One after the other they start 3 s apart; together, within the fetch loop's turn.
    assert!(apart < 1500, "{a} and {b} started {apart} ms apart");
}

#[test]
fn a_catch_all_handler_takes_every_name_and_a_handlerless_queue_is_named() {
    let redis = Redis::start();
    let config = r#"
[queues.jobs.handlers."*"]
builtin = "echo"
[queues.ai]
concurrency = 5
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let dir = TempDir::new("catch-all");
    for name in ["__default__", "brand-new-name"] {
        let id = enqueue(&redis, &dir, config, &["jobs", name, "--data", "{\"n\":1}"]);
        assert_eq!(
            wait_finished(&redis, "jobs", &id, Duration::from_secs(20)),
            "completed",
            "{name}: {}",
            job_field(&redis, "jobs", &id, "failedReason")
        );
    }
    // A job waits on the declared queue nobody here consumes: `worker status` says so.
    enqueue(&redis, &dir, config, &["ai", "summarise"]);
    let cfg = dir.write("status.toml", config);
    let (code, out, err) = run_worker(
        &["status"],
        &[
            ("REDIS_URL", &redis.url()),
            ("WORKER_CONFIG", cfg.to_str().unwrap()),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let row = |q: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(q))
            .unwrap_or_else(|| panic!("no {q} row: {out}"))
            .to_string()
    };
    assert!(row("ai").contains("no consumer here"), "{out}");
    assert!(!row("jobs").contains("no consumer here"), "{out}");
    let log = daemon.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("[queues.ai] has no handlers"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning naming the queue: {log}");
}

#[test]
fn run_now_obeys_forbid_and_shows_as_the_latest_run() {
    let redis = Redis::start();
    let config = r#"
[[schedule]]
name = "report"
cron = "0 0 1 1 * 2099"
command = "sleep 30"
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let base = format!("http://127.0.0.1:{}", daemon.port);
    let trigger = || {
        http(
            "POST",
            &format!("{base}/api/schedules/report/trigger"),
            None,
            None,
        )
    };
    let (code, body) = trigger();
    assert_eq!(code, 201, "{body}");
    let first: serde_json::Value = serde_json::from_str(&body).unwrap();
    let first = first["id"].as_str().unwrap().to_string();
    poll(Duration::from_secs(20), "the manual run to start", || {
        (job_state(&redis, "cron", &first) == "active").then_some(())
    });
    // Two more clicks while it runs: refused, naming the running job.
    for _ in 0..2 {
        let (code, body) = trigger();
        assert_eq!(code, 409, "{body}");
        assert!(body.contains(&first), "{body}");
    }
    let runs = ids_in(&redis, "cron", "active").len() + ids_in(&redis, "cron", "wait").len();
    assert_eq!(runs, 1, "one run at a time");
    let (code, rows) = http_get(&format!("{base}/api/schedules")).unwrap();
    assert_eq!(code, 200);
    let row = &rows[0];
    assert_eq!(row["last"]["job_id"], first.as_str(), "{row}");
    assert_eq!(row["last"]["state"], "active", "{row}");
}

#[test]
fn a_tick_skipped_for_a_pending_retry_says_so() {
    let redis = Redis::start();
    let config = r#"
[[schedule]]
name = "flaky"
cron = "* * * * * * *"
command = "exit 1"
attempts = 2
backoff = "fixed:20s"
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    // A tick may also be skipped while the first run is still active (a loaded machine): the
    // skip that matters is the one behind the pending retry, which must say so.
    let line = poll(Duration::from_secs(20), "a skip line for the retry", || {
        daemon
            .log()
            .lines()
            .find(|l| l.contains("tick skipped") && !l.contains("\"previous_state\":\"active\""))
            .map(str::to_string)
    });
    assert!(line.contains("waits to retry after a failure"), "{line}");
    assert!(line.contains("\"failed_attempts\":1"), "{line}");
}

#[test]
fn a_tick_of_an_entry_not_held_here_is_handed_back_on_the_embedded_store_too() {
    let config = r#"
[[schedule]]
name = "held"
cron = "0 0 1 1 * 2099"
command = "true"
"#;
    let stack = Stack::start(StoreKind::Embedded, config, &[]);
    // What another crontab's scheduler adds: data naming its entry and tick.
    let scheduled = chrono::Utc::now().to_rfc3339();
    let body = serde_json::json!({
        "name": "not-held",
        "data": {"entry": "not-held", "source": "crontab:1", "scheduled": scheduled},
        "jobId": "cron-not-held-1",
    });
    let (code, added) = stack.api("POST", "/api/queues/cron/jobs", Some(body));
    assert_eq!(code, 201, "{added}");
    poll(Duration::from_secs(20), "two hand-backs", || {
        (stack.daemon.log().matches("handed back").count() >= 2).then_some(())
    });
    let (_, job) = stack.api("GET", "/api/queues/cron/jobs/cron-not-held-1", None);
    let state = job["state"].as_str().unwrap_or_default();
    assert!(["delayed", "waiting", "active"].contains(&state), "{job}");
    assert_eq!(job["attemptsMade"], 0, "no attempt counted: {job}");
}
