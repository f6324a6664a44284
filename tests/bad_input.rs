//! Bad input: jobs written straight into Redis by a careless or foreign producer, unknown job
//! names, invalid config and crontab files, invalid and oversized API requests. Each gets a
//! clear message naming the place; the daemon and the other jobs carry on.

mod fault_support;
mod support;

use std::time::Duration;

use fault_support::*;
use support::*;

const CONFIG: &str = r#"
[defaults]
attempts = 1
remove_on_complete = false
remove_on_fail = false
[queues.in.handlers.echo]
builtin = "echo"
[queues.in.handlers.sh]
exec = "cat > /dev/null; echo ok"
"#;

#[test]
fn garbage_written_into_redis_fails_only_its_own_job() {
    let redis = Redis::start();
    let dir = TempDir::new("garbage");
    let add = |name: &str| enqueue(&redis, &dir, CONFIG, &["in", name, "--data", "{}"]);
    let set = |id: &str, field: &str, value: &str| {
        redis.cmd(&["HSET", &format!("bull:in:{id}"), field, value]);
    };
    let not_json = add("echo");
    set(&not_json, "data", "not json {");
    let huge = add("sh");
    // 4 MB of JSON: too big for the environment of an exec handler (JOB_DATA); it reaches the
    // command on stdin only (it used to fail every attempt with E2BIG).
    set(
        &huge,
        "data",
        &format!("{{\"blob\":\"{}\"}}", "x".repeat(4 << 20)),
    );
    let bad_opts = add("echo");
    set(&bad_opts, "opts", "{{{ not json");
    let wrong_types = add("echo");
    set(
        &wrong_types,
        "opts",
        r#"{"attempts":"three","backoff":42,"removeOnComplete":"sometimes"}"#,
    );
    let no_name = add("echo");
    redis.cmd(&["HDEL", &format!("bull:in:{no_name}"), "name"]);
    let string_data = add("echo");
    set(&string_data, "data", r#""just a string""#);
    let unknown = add("no-such-handler");
    // An id in `wait` with no job hash at all.
    redis.cmd(&["LPUSH", "bull:in:wait", "ghost-1"]);
    let good = add("echo");

    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    let limit = Duration::from_secs(20);
    let reason = |id: &str| job_field(&redis, "in", id, "failedReason");
    assert_eq!(wait_finished(&redis, "in", &good, limit), "completed");

    assert_eq!(wait_finished(&redis, "in", &not_json, limit), "failed");
    assert!(
        reason(&not_json).contains("not valid JSON"),
        "{}",
        reason(&not_json)
    );
    assert_eq!(
        wait_finished(&redis, "in", &huge, limit),
        "completed",
        "{}",
        reason(&huge)
    );
    assert_eq!(wait_finished(&redis, "in", &unknown, limit), "failed");
    assert_eq!(reason(&unknown), "no handler for in/no-such-handler");
    assert_eq!(wait_finished(&redis, "in", &no_name, limit), "failed");
    assert!(
        reason(&no_name).starts_with("no handler for in/"),
        "{}",
        reason(&no_name)
    );
    // Data that is JSON but not an object reaches the handler as it is.
    assert_eq!(
        wait_finished(&redis, "in", &string_data, limit),
        "completed"
    );
    assert_eq!(
        job_field(&redis, "in", &string_data, "returnvalue"),
        r#""just a string""#
    );
    // Options the engine cannot read: the job still ends (either way), never stays active.
    let bad_opts_state = wait_finished(&redis, "in", &bad_opts, limit);
    let wrong_types_state = wait_finished(&redis, "in", &wrong_types, limit);

    // And the daemon is fine: healthy, no panic, a new job runs.
    let after = api_add(
        daemon.port,
        "in",
        &serde_json::json!({"name": "echo", "data": {"a": 1}}),
    );
    assert_eq!(wait_finished(&redis, "in", &after, limit), "completed");
    let (code, body) = daemon.health().unwrap();
    assert_eq!(code, 200, "{body}");
    let log = daemon.log();
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(count(&redis, "in", "active"), 0);
    eprintln!(
        "bad_input/redis: not_json=failed({:?}) huge_4mb=failed({:?}) bad_opts={bad_opts_state}({:?}) \
         wrong_type_opts={wrong_types_state}({:?}) no_name=failed string_data=completed ghost_in_wait={} good=completed",
        reason(&not_json),
        reason(&huge),
        reason(&bad_opts),
        reason(&wrong_types),
        job_state(&redis, "in", "ghost-1"),
    );
}

/// Starts a daemon with `config` (and `crontab`); expects exit 2 and returns its log.
fn refused(config: &str, crontab: Option<&str>) -> String {
    let redis = Redis::start();
    let mut d = Daemon::start(&redis.url(), config, crontab, &[]);
    assert_eq!(d.wait_exit(Duration::from_secs(10)), 2, "{}", d.log());
    d.log()
}

#[test]
fn invalid_config_and_crontab_stop_start_up_with_file_and_line() {
    let cases = [
        ("[worker]\nconcurrency = \"many\"\n", "worker.toml:2"),
        ("[worker]\n\nconcurency = 3\n", "worker.toml:3"),
        ("[worker]\nshutdown_timeout = \"soon\"\n", "worker.toml"),
        // Issue 14 item 2: Redis refuses a 0 ms lock on every job; refused at start instead.
        (
            "[worker]\nlock_duration = \"0s\"\n",
            "worker.toml:2: [worker] lock_duration",
        ),
        (
            "[queues.q.handlers.x]\nexec = \"true\"\nbuiltin = \"noop\"\n",
            "worker.toml",
        ),
        (
            "[queues.q.handlers.x]\nbuiltin = \"teleport\"\n",
            "worker.toml",
        ),
    ];
    let mut shown = Vec::new();
    for (config, place) in cases {
        let log = refused(config, None);
        assert!(log.contains(place), "{config:?} → {log}");
        assert!(!log.contains("hunter2"), "a password in an error: {log}");
        shown.push(log.lines().last().unwrap_or("").to_string());
    }
    // A bad Redis URL in the file (no REDIS_URL in the environment to override it).
    let dir = TempDir::new("badurl");
    let cfg = dir.write("worker.toml", "[redis]\nurl = \"http://u:hunter2@h\"\n");
    let (code, _, err) = run_worker(
        &[],
        &[
            ("WORKER_CONFIG", cfg.to_str().unwrap()),
            ("CRONTAB", "/dev/null"),
            ("WORKER_LISTEN", "127.0.0.1:0"),
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("worker.toml") && err.contains("redis://"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "a password in an error: {err}");
    shown.push(err.lines().last().unwrap_or("").to_string());
    eprintln!(
        "bad_input/config: {} files refused with exit 2: {shown:#?}",
        shown.len()
    );
}

#[test]
fn an_invalid_crontab_line_stops_start_up_with_file_and_line() {
    let log = refused("", Some("* * * * * * * true\nthis is not a cron line\n"));
    assert!(log.contains("crontab:2"), "{log}");
    eprintln!("bad_input/crontab: {}", log.lines().last().unwrap_or(""));
}

#[test]
fn invalid_api_requests_get_4xx_json_naming_the_field() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    let url = format!("http://127.0.0.1:{}/api/queues/in/jobs", daemon.port);
    let cases: [(&str, &str); 10] = [
        (r#"{"data":{}}"#, "name"),
        (r#"{"name":""}"#, "name"),
        (r#"{"name":"echo","attempts":"three"}"#, "attempts"),
        (r#"{"name":"echo","attempts":0}"#, "attempts"),
        (r#"{"name":"echo","backoff":"sometimes"}"#, "backoff"),
        (r#"{"name":"echo","priority":99999999}"#, "priority"),
        (r#"{"name":"echo","delay":"soon"}"#, "delay"),
        (r#"{"name":"echo","jobId":"a:b"}"#, "jobId"),
        (r#"{"name":"echo","colour":"red"}"#, "body"),
        ("not json at all", "body"),
    ];
    for (body, field) in cases {
        let (code, reply) = http_json("POST", &url, Some(body), None);
        assert_eq!(code, 400, "{body} → {reply}");
        assert_eq!(reply["error"]["code"], "bad_request", "{body} → {reply}");
        let got = reply["error"]["field"].as_str().unwrap_or("");
        let message = reply["error"]["message"].as_str().unwrap_or("");
        // A missing field is reported at the body, its name in the message.
        assert!(
            got == field
                || (field == "body" && !got.is_empty())
                || (got == "body" && message.contains(&format!("`{field}`"))),
            "{body}: field {got:?}, want {field:?}: {reply}"
        );
        assert!(!reply["error"]["message"].as_str().unwrap().is_empty());
    }
    let (code, reply) = http_json("GET", &format!("{url}?state=failed&limit=0"), None, None);
    assert_eq!(
        (code, reply["error"]["field"].as_str()),
        (400, Some("limit")),
        "{reply}"
    );
    let (code, reply) = http_json("GET", &format!("{url}?state=sideways"), None, None);
    assert_eq!(code, 400, "{reply}");
    assert!(reply["error"]["field"].is_string(), "{reply}");

    // 2 MiB body, over the 1 MiB limit: refused with JSON, and the daemon stays up.
    let big = format!(
        r#"{{"name":"echo","data":{{"blob":"{}"}}}}"#,
        "x".repeat(2 << 20)
    );
    let (code_big, reply) = http_json("POST", &url, Some(&big), None);
    assert!(
        (400..500).contains(&code_big),
        "oversized body → {code_big} {reply}"
    );
    assert!(reply["error"]["field"].is_string(), "{reply}");
    let (code, _) = daemon.health().unwrap();
    assert_eq!(code, 200);
    eprintln!("bad_input/api: 12 invalid requests → 400 naming the field; 2 MiB body → {code_big} {reply}");
}
