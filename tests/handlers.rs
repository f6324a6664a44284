//! exec and http handlers complete and fail as specified, retries follow the backoff, unknown
//! names and bad data fail without retry while the pool keeps going.

mod support;

use std::time::Duration;

use support::*;

fn config(http_port: u16) -> String {
    format!(
        r#"
[worker]
concurrency = 4
[defaults]
attempts = 1
[queues.jobs.handlers.ok-exec]
exec = "cat > /dev/null; echo working; echo '{{\"done\":true}}'"
[queues.jobs.handlers.fail-exec]
exec = "echo nope >&2; exit 4"
attempts = 3
backoff = "exponential:200"
[queues.jobs.handlers.ok-http]
http = {{ url = "http://127.0.0.1:{http_port}/ok" }}
[queues.jobs.handlers.text-http]
http = {{ url = "http://127.0.0.1:{http_port}/text" }}
[queues.jobs.handlers.missing-http]
http = {{ url = "http://127.0.0.1:{http_port}/notfound" }}
attempts = 3
[queues.jobs.handlers.down-http]
http = {{ url = "http://127.0.0.1:{http_port}/error" }}
attempts = 2
backoff = "fixed:100"
"#
    )
}

#[test]
fn handlers_complete_fail_and_retry_as_specified() {
    let redis = Redis::start();
    let http = TestHttp::start();
    let dir = TempDir::new("handlers");
    let cfg = config(http.port);
    let add = |name: &str, data: &str| enqueue(&redis, &dir, &cfg, &["jobs", name, "--data", data]);
    let ok_exec = add("ok-exec", r#"{"n":1}"#);
    let fail_exec = add("fail-exec", "{}");
    let ok_http = add("ok-http", r#"{"to":"a@b.c"}"#);
    let text_http = add("text-http", "{}");
    let missing = add("missing-http", "{}");
    let down = add("down-http", "{}");
    let unknown = add("no-such-name", "{}");
    // A foreign producer wrote data that is not JSON: only that job fails.
    let bad = add("ok-exec", "{}");
    redis.cmd(&["HSET", &format!("bull:jobs:{bad}"), "data", "not json {"]);

    // Per-job lines of queue jobs are at debug (the info trace is the per-minute summary).
    let daemon = Daemon::start(
        &redis.url(),
        &cfg,
        None,
        &[("RUST_LOG", "info,cronq::worker::dispatch=debug")],
    );
    let limit = Duration::from_secs(30);
    let f = |id: &str, field: &str| job_field(&redis, "jobs", id, field);

    assert_eq!(wait_finished(&redis, "jobs", &ok_exec, limit), "completed");
    assert_eq!(f(&ok_exec, "returnvalue"), r#"{"done":true}"#);
    assert_eq!(f(&ok_exec, "atm"), "1");
    let logs = redis.cmd(&["LRANGE", &format!("bull:jobs:{ok_exec}:logs"), "0", "-1"]);
    assert!(logs.contains("working"), "logs: {logs}");

    assert_eq!(wait_finished(&redis, "jobs", &ok_http, limit), "completed");
    assert_eq!(f(&ok_http, "returnvalue"), r#"{"received":{"to":"a@b.c"}}"#);
    assert_eq!(
        wait_finished(&redis, "jobs", &text_http, limit),
        "completed"
    );
    assert_eq!(f(&text_http, "returnvalue"), r#""plain words""#);

    assert_eq!(wait_finished(&redis, "jobs", &missing, limit), "failed");
    assert_eq!(f(&missing, "atm"), "1", "a 4xx is not retried");
    assert!(
        f(&missing, "failedReason").contains("HTTP 404"),
        "{}",
        f(&missing, "failedReason")
    );

    assert_eq!(wait_finished(&redis, "jobs", &down, limit), "failed");
    assert_eq!(f(&down, "atm"), "2", "a 5xx is retried up to attempts");
    let hits = http
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == "/error")
        .count();
    assert_eq!(hits, 2);

    assert_eq!(wait_finished(&redis, "jobs", &unknown, limit), "failed");
    assert_eq!(
        f(&unknown, "failedReason"),
        "no handler for jobs/no-such-name"
    );
    assert_eq!(f(&unknown, "atm"), "1", "an unknown name is not retried");

    assert_eq!(wait_finished(&redis, "jobs", &bad, limit), "failed");
    assert!(
        f(&bad, "failedReason").contains("not valid JSON"),
        "{}",
        f(&bad, "failedReason")
    );

    assert_eq!(wait_finished(&redis, "jobs", &fail_exec, limit), "failed");
    assert_eq!(f(&fail_exec, "atm"), "3");
    assert_eq!(f(&fail_exec, "failedReason"), "exit status 4: nope");
    // Exponential backoff from 200 ms: the `delayed` events put the retries 200 then 400 ms out.
    let gaps = backoff_gaps(&redis, "jobs", &fail_exec);
    assert_eq!(gaps.len(), 2, "two retries: {gaps:?}");
    // The due time comes from the worker's clock, the stream id from Redis's: allow a few ms of skew.
    assert!(
        (190..300).contains(&gaps[0]) && (390..500).contains(&gaps[1]),
        "backoff gaps {gaps:?}"
    );

    let log = daemon.log();
    assert!(log.contains("\"message\":\"job completed\""), "{log}");
    assert!(log.contains("\"duration_ms\""), "{log}");
}

/// For each `delayed` event of job `id`: its due time minus the event's own time (ms).
fn backoff_gaps(redis: &Redis, queue: &str, id: &str) -> Vec<i64> {
    let mut conn = redis.conn();
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("bull:{queue}:events"))
        .arg("-")
        .arg("+")
        .query::<redis::streams::StreamRangeReply>(&mut conn)
        .unwrap()
        .ids
        .into_iter()
        .map(|e| {
            let fields = e
                .map
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        redis::from_redis_value::<String>(v.clone()).unwrap_or_default(),
                    )
                })
                .collect();
            (e.id, fields)
        })
        .collect();
    entries
        .iter()
        .filter(|(_, f)| {
            f.contains(&("event".into(), "delayed".into()))
                && f.contains(&("jobId".into(), id.into()))
        })
        .map(|(sid, f)| {
            let at: i64 = sid.split('-').next().unwrap().parse().unwrap();
            let due: i64 = f
                .iter()
                .find(|(k, _)| k == "delay")
                .unwrap()
                .1
                .parse()
                .unwrap();
            due - at
        })
        .collect()
}
