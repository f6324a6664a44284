//! Bull 3/4 interoperability against the real `bull` npm package (4.16.5, pinned in
//! tests/compat/package-lock.json): a queue with `layout = "bull"` is served in Bull's own
//! Redis layout. Each test starts its own redis-server and cronq daemon; the Node side is a
//! script in tests/compat/bull/ that asserts what Node observes (exit 0 = every check held).

mod compat_support;
mod support;

use compat_support::node;
use support::*;

/// Queue `legacy` in Bull's layout: plain = builtin echo, boom = builtin fail, report = exec
/// that reports progress and logs a line.
const HANDLERS: &str = r#"
[worker]
concurrency = 4
[queues.legacy]
layout = "bull"
[queues.legacy.handlers.plain]
builtin = "echo"
[queues.legacy.handlers.boom]
builtin = "fail"
[queues.legacy.handlers.report]
exec = '''echo 'cronq:progress 50'; echo "working on $JOB_ID"; echo '{"done":true}' '''
"#;

#[test]
fn bull_producer_jobs_run_by_cronq_look_right_from_bull() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), HANDLERS, None, &[]);
    daemon.wait_healthy();
    node("bull/producer.mjs", &redis.url(), &[]);
    // Nothing of BullMQ's layout was written for the Bull queue.
    assert_eq!(redis.cmd(&["EXISTS", "bull:legacy:events"]), "0");
}

#[test]
fn jobs_from_enqueue_the_api_and_the_crontab_on_a_bull_queue_run_on_a_bull_node_worker() {
    let redis = Redis::start();
    // `legacy` is declared (its layout) but has no handlers: cronq only produces there.
    let config = "[worker]\nconcurrency = 1\n[queues.legacy]\nlayout = \"bull\"\n[queues.other.handlers.x]\nbuiltin = \"noop\"\n";
    let crontab = "* * * * * * * enqueue legacy tick {\"from\":\"cron\"}\n";
    let daemon = Daemon::start(&redis.url(), config, Some(crontab), &[]);
    daemon.wait_healthy();
    let dir = TempDir::new("bull-enqueue");
    let first = enqueue(
        &redis,
        &dir,
        config,
        &[
            "legacy",
            "plain",
            "--data",
            r#"{"a":1}"#,
            "--job-id",
            "custom-a",
            "--attempts",
            "4",
            "--backoff",
            "fixed:1000",
            "--priority",
            "2",
        ],
    );
    assert_eq!(first, "custom-a");
    let later = enqueue(
        &redis,
        &dir,
        config,
        &["legacy", "later", "--delay", "300ms"],
    );
    let (code, body) = http_json(
        "POST",
        &format!("http://127.0.0.1:{}/api/queues/legacy/jobs", daemon.port),
        Some(r#"{"name":"api","data":{"b":2},"attempts":2}"#),
        None,
    );
    assert_eq!(code, 201, "{body}");
    let api = body["id"].as_str().unwrap().to_string();
    // Three produced jobs and at least one cron tick.
    let out = node("bull/worker.mjs", &redis.url(), &["plain,later,api,tick"]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let by_id = |id: &str| {
        lines
            .iter()
            .find(|l| l["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("job {id} not run by Bull: {out}"))
            .clone()
    };
    let m = by_id(&first);
    assert_eq!(m["name"], "plain");
    assert_eq!(m["data"], serde_json::json!({"a": 1}));
    assert_eq!(m["opts"]["attempts"], 4);
    assert_eq!(m["opts"]["priority"], 2);
    assert_eq!(
        m["opts"]["backoff"],
        serde_json::json!({"type": "fixed", "delay": 1000})
    );
    let l = by_id(&later);
    assert_eq!(l["name"], "later");
    assert!(
        l["processedOn"].as_u64().unwrap() >= l["timestamp"].as_u64().unwrap() + 300,
        "{l}"
    );
    let a = by_id(&api);
    assert_eq!(
        (a["name"].as_str(), &a["data"]),
        (Some("api"), &serde_json::json!({"b": 2}))
    );
    assert_eq!(a["opts"]["attempts"], 2);
    assert!(
        lines
            .iter()
            .any(|l| l["name"] == "tick" && l["data"]["from"] == "cron"),
        "a cron tick reached Bull: {out}"
    );
    let done = redis.cmd(&["ZSCORE", "bull:legacy:completed", &first]);
    assert!(!done.is_empty(), "completed by Bull");
    assert_eq!(redis.cmd(&["ZCARD", "bull:legacy:priority"]), "0");
}

#[test]
fn a_queue_whose_keys_show_the_other_layout_gets_one_warning_naming_the_setting() {
    let redis = Redis::start();
    // `mis` is left in Bull's layout (a paused Bull queue), `other` in BullMQ's.
    redis.cmd(&["SET", "bull:mis:meta-paused", "1"]);
    redis.cmd(&["RPUSH", "bull:mis:paused", "1"]);
    redis.cmd(&["XADD", "bull:other:events", "*", "event", "added"]);
    let config = r#"
[queues.mis.handlers.plain]
builtin = "echo"
[queues.other]
layout = "bull"
[queues.other.handlers.plain]
builtin = "echo"
[queues.fine]
layout = "bull"
[queues.fine.handlers.plain]
builtin = "echo"
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let log = poll(
        std::time::Duration::from_secs(10),
        "both layout warnings",
        || {
            let log = daemon.log();
            (log.contains("[queues.mis] layout = \\\"bull\\\"")
                && log.contains("[queues.other] layout = \\\"bullmq\\\""))
            .then_some(log)
        },
    );
    // Counted by line: a JSON line carries its text twice (`msg` and `message`).
    let warnings = log
        .lines()
        .filter(|l| l.contains("queue mis is set to"))
        .count();
    assert_eq!(warnings, 1, "{log}");
    assert!(!log.contains("queue fine is set to"), "{log}");
}

#[test]
fn a_bull_node_worker_and_cronq_share_a_queue_and_run_each_job_once() {
    let redis = Redis::start();
    let dir = TempDir::new("bull-fleet");
    let ran = dir.path().join("cronq-ran");
    let config = format!(
        r#"
[worker]
concurrency = 2
[queues.fleet]
layout = "bull"
[queues.fleet.handlers.work]
exec = '''sleep 0.02; echo "$JOB_ID" >> {}; echo '{{"by":"cronq"}}' '''
"#,
        ran.display()
    );
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    let out = node("bull/fleet.mjs", &redis.url(), &["120"]);
    let by_node: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("node "))
        .map(String::from)
        .collect();
    let by_cronq: Vec<String> = std::fs::read_to_string(&ran)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    let mut all: Vec<String> = by_node.iter().chain(&by_cronq).cloned().collect();
    all.sort();
    let runs = all.len();
    all.dedup();
    assert_eq!(
        runs,
        120,
        "each job ran once: {} by node, {} by cronq",
        by_node.len(),
        by_cronq.len()
    );
    assert_eq!(all.len(), 120);
    assert!(
        !by_node.is_empty() && !by_cronq.is_empty(),
        "both sides took work"
    );
    assert!(daemon.log().matches("job outcome not written").count() == 0);
}

#[test]
fn bull_board_bull_adapter_lists_the_queue_and_shows_job_details() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), HANDLERS, None, &[]);
    daemon.wait_healthy();
    node("bull/board.mjs", &redis.url(), &[]);
}

/// `worker ARGS…` against `redis` with `config`; panics unless it exits 0.
fn cli(redis: &Redis, dir: &TempDir, config: &str, args: &[&str]) -> String {
    let cfg = dir.write("cli.toml", config);
    let (code, out, err) = run_worker(
        args,
        &[
            ("REDIS_URL", &redis.url()),
            ("WORKER_CONFIG", cfg.to_str().unwrap()),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "worker {args:?} failed: {err}");
    out
}

#[test]
fn cli_pause_promote_retry_remove_and_clean_use_bulls_layout() {
    let redis = Redis::start();
    let config = "[queues.ops]\nlayout = \"bull\"\n\
                  [queues.ops.handlers.ok]\nbuiltin = \"echo\"\n\
                  [queues.ops.handlers.no]\nbuiltin = \"fail\"\n";
    let dir = TempDir::new("bull-ops");
    let key = |k: &str| format!("bull:ops:{k}");

    // Pause before any worker: jobs land in Bull's `paused` list; resume renames it back.
    cli(&redis, &dir, config, &["pause", "ops"]);
    assert_eq!(redis.cmd(&["EXISTS", &key("meta-paused")]), "1");
    let held = enqueue(&redis, &dir, config, &["ops", "ok", "--data", "{}"]);
    assert_eq!(
        redis.cmd(&["LRANGE", &key("paused"), "0", "-1"]).trim(),
        held
    );
    cli(&redis, &dir, config, &["resume", "ops"]);
    assert_eq!(redis.cmd(&["EXISTS", &key("meta-paused")]), "0");
    assert_eq!(redis.cmd(&["LRANGE", &key("wait"), "0", "-1"]).trim(), held);

    // Promote: delayed → wait.
    let later = enqueue(&redis, &dir, config, &["ops", "ok", "--delay", "1h"]);
    cli(&redis, &dir, config, &["promote", "ops", &later]);
    assert_eq!(redis.cmd(&["ZCARD", &key("delayed")]), "0");
    assert!(redis
        .cmd(&["LRANGE", &key("wait"), "0", "-1"])
        .contains(&later));

    // A failing job, retried from the CLI, runs again (two traces).
    let bad = enqueue(
        &redis,
        &dir,
        config,
        &[
            "ops",
            "no",
            "--data",
            r#"{"reason":"nope"}"#,
            "--attempts",
            "1",
        ],
    );
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let failed = |redis: &Redis| redis.cmd(&["ZSCORE", &key("failed"), &bad]);
    poll(
        std::time::Duration::from_secs(20),
        "the job to fail",
        || (!failed(&redis).trim().is_empty()).then_some(()),
    );
    cli(&redis, &dir, config, &["retry", "ops", &bad]);
    poll(
        std::time::Duration::from_secs(20),
        "the retried job to fail again",
        || {
            let trace = job_field(&redis, "ops", &bad, "stacktrace");
            let n = serde_json::from_str::<Vec<String>>(&trace)
                .map(|v| v.len())
                .unwrap_or(0);
            (n == 2 && !failed(&redis).trim().is_empty()).then_some(())
        },
    );

    // Remove and clean.
    cli(&redis, &dir, config, &["remove", "ops", &bad]);
    assert_eq!(redis.cmd(&["EXISTS", &key(&bad)]), "0");
    assert_eq!(redis.cmd(&["ZCARD", &key("failed")]), "0");
    poll(
        std::time::Duration::from_secs(20),
        "both ok jobs to complete",
        || (redis.cmd(&["ZCARD", &key("completed")]) == "2").then_some(()),
    );
    cli(
        &redis,
        &dir,
        config,
        &["clean", "ops", "--state", "completed", "--older-than", "0s"],
    );
    assert_eq!(redis.cmd(&["ZCARD", &key("completed")]), "0");
    assert_eq!(redis.cmd(&["EXISTS", &key(&held)]), "0");
}
