//! Job metrics end to end, on both stores: jobs run by the daemon are counted per minute as
//! BullMQ's Worker `metrics` option counts them (Redis: BullMQ's own keys), and
//! `GET /api/queues/{q}/metrics` buckets them with the durations and waits the daemon measured.

mod compat_support;
mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

const CONFIG: &str = r#"
[defaults]
attempts = 1
[queues.m.handlers.ok]
builtin = "echo"
[queues.m.handlers.no]
builtin = "fail"
"#;

fn run_jobs_and_read_metrics(daemon: &Daemon) -> Value {
    let base = format!("http://127.0.0.1:{}", daemon.port);
    for (i, name) in ["ok", "ok", "ok", "no"].iter().enumerate() {
        let body = format!(r#"{{"name":"{name}","jobId":"j{i}"}}"#);
        let (code, _) = http_json(
            "POST",
            &format!("{base}/api/queues/m/jobs"),
            Some(&body),
            None,
        );
        assert_eq!(code, 201);
    }
    poll(Duration::from_secs(20), "4 runs in the metrics", || {
        let (code, m) = http_json(
            "GET",
            &format!("{base}/api/queues/m/metrics?range=1h"),
            None,
            None,
        );
        assert_eq!(code, 200, "{m}");
        let runs: u64 = m["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["runs"].as_u64().unwrap())
            .sum();
        (m["completedTotal"] == 3 && m["failedTotal"] == 1 && runs == 4).then_some(m)
    })
}

fn check(m: &Value) {
    let buckets = m["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 60, "one bucket per minute of the hour");
    assert_eq!(m["bucketMs"], 60_000);
    let completed: u64 = buckets
        .iter()
        .map(|b| b["completed"].as_u64().unwrap())
        .sum();
    let failed: u64 = buckets.iter().map(|b| b["failed"].as_u64().unwrap()).sum();
    assert_eq!((completed, failed), (3, 1), "{m}");
    let with_runs: Vec<&Value> = buckets
        .iter()
        .filter(|b| b["runs"].as_u64() > Some(0))
        .collect();
    for b in with_runs {
        let d = &b["durationMs"];
        assert!(
            d["p50"].as_u64().unwrap() <= d["p99"].as_u64().unwrap(),
            "{b}"
        );
        assert!(b["waitMs"]["p95"].is_u64(), "{b}");
    }
    for w in buckets.windows(2) {
        assert_eq!(
            w[1]["start"].as_i64().unwrap() - w[0]["start"].as_i64().unwrap(),
            60_000
        );
    }
}

#[test]
fn redis_counts_land_in_bullmq_keys_and_the_api() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    let m = run_jobs_and_read_metrics(&daemon);
    check(&m);
    assert_eq!(
        redis.cmd(&["HGET", "bull:m:metrics:completed", "count"]),
        "3"
    );
    assert_eq!(redis.cmd(&["HGET", "bull:m:metrics:failed", "count"]), "1");
    // Bad input names the field and the fix.
    let (code, body) = http(
        "GET",
        &format!(
            "http://127.0.0.1:{}/api/queues/m/metrics?range=2h",
            daemon.port
        ),
        None,
        None,
    );
    assert_eq!(code, 400);
    assert!(
        body.contains("range") && body.contains("use 1h, 24h or 14d"),
        "{body}"
    );
}

#[test]
fn embedded_store_keeps_the_same_series() {
    let dir = TempDir::new("metrics");
    let db = dir.path().join("cronq.db").display().to_string();
    let daemon = Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", db.as_str())]);
    daemon.wait_healthy();
    let m = run_jobs_and_read_metrics(&daemon);
    check(&m);
    let (code, day) = http_json(
        "GET",
        &format!(
            "http://127.0.0.1:{}/api/queues/m/metrics?range=14d",
            daemon.port
        ),
        None,
        None,
    );
    assert_eq!(code, 200);
    assert_eq!(day["buckets"].as_array().unwrap().len(), 168);
    assert_eq!(day["bucketMs"], 7_200_000);
}

#[test]
fn metrics_points_zero_records_no_series() {
    let redis = Redis::start();
    let config = format!("[worker]\nmetrics_points = 0\n{CONFIG}");
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    let base = format!("http://127.0.0.1:{}", daemon.port);
    let (code, _) = http_json(
        "POST",
        &format!("{base}/api/queues/m/jobs"),
        Some(r#"{"name":"ok","jobId":"z"}"#),
        None,
    );
    assert_eq!(code, 201);
    assert_eq!(
        wait_finished(&redis, "m", "z", Duration::from_secs(20)),
        "completed"
    );
    assert_eq!(redis.cmd(&["EXISTS", "bull:m:metrics:completed"]), "0");
}

/// Node's `queue.getMetrics()` (the real `bullmq` package, tests/compat/metrics.mjs) counts
/// the jobs cronq ran, and the per-minute list it then reads maps onto the API's minutes.
#[test]
fn node_get_metrics_sees_cronqs_counts() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    compat_support::node("metrics.mjs", &redis.url(), &[]);
    let (code, m) = http_json(
        "GET",
        &format!("http://127.0.0.1:{}/api/queues/m/metrics", daemon.port),
        None,
        None,
    );
    assert_eq!(code, 200);
    assert_eq!(
        (m["completedTotal"].as_u64(), m["failedTotal"].as_u64()),
        (Some(6), Some(2))
    );
    // The open minute holds the sixth job.
    let open = open_metrics_minute(&redis, "m");
    assert_eq!(completed_in_minute(&m, open), Some(1), "{m}");
    // All five earlier ones two minutes back, unless a minute turned while they ran.
    assert_eq!(completed_before_minute(&m, open), 5, "{m}");
    assert!(
        completed_in_minute(&m, open - 120_000).unwrap_or(0) >= 1,
        "{m}"
    );
}
