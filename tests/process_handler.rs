//! The persistent handler kinds through the daemon, on the examples shipped in examples/: the
//! Python line-protocol consumer, and the NestJS-style processor whose application context is
//! created once per process and reused by the next jobs.

mod support;

use std::time::Duration;

use support::*;

fn example(path: &str) -> String {
    format!("{}/examples/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn run_one(
    redis: &Redis,
    dir: &TempDir,
    config: &str,
    queue: &str,
    name: &str,
    data: &str,
) -> serde_json::Value {
    let id = enqueue(redis, dir, config, &[queue, name, "--data", data]);
    assert_eq!(
        wait_finished(redis, queue, &id, Duration::from_secs(30)),
        "completed",
        "{queue}/{name}: {}",
        job_field(redis, queue, &id, "failedReason")
    );
    serde_json::from_str(&job_field(redis, queue, &id, "returnvalue")).unwrap()
}

#[test]
fn the_python_example_consumes_jobs_over_the_line_protocol() {
    let redis = Redis::start();
    let config = format!(
        "[queues.reports.handlers.render]\nprocess = {{ command = \"exec python3 {}\" }}\n",
        example("process-python/consume.py")
    );
    let _daemon = Daemon::start(&redis.url(), &config, None, &[]);
    let dir = TempDir::new("process-python");
    let value = run_one(
        &redis,
        &dir,
        &config,
        "reports",
        "render",
        r#"{"sections":[1,2,3]}"#,
    );
    assert_eq!(value, serde_json::json!({"pages": 3}));
}

#[test]
fn the_nest_example_creates_its_context_once_and_reuses_it() {
    let redis = Redis::start();
    let config = format!(
        "[worker]\nconcurrency = 1\n[queues.email.handlers.\"*\"]\nnode = {{ file = \"{}\", instances = 1 }}\n",
        example("nest-processor/src/email.processor.cjs")
    );
    let _daemon = Daemon::start(&redis.url(), &config, None, &[]);
    let dir = TempDir::new("nest-example");
    // The mail service lives in the context: its count goes on only if the context is the same.
    for n in 1..=3 {
        let value = run_one(
            &redis,
            &dir,
            &config,
            "email",
            "welcome",
            r#"{"to":"a@example.com"}"#,
        );
        assert_eq!(value, serde_json::json!({"sent": n}));
    }
    let id = enqueue(&redis, &dir, &config, &["email", "welcome", "--data", "{}"]);
    assert_eq!(
        wait_finished(&redis, "email", &id, Duration::from_secs(30)),
        "failed"
    );
    assert_eq!(
        job_field(&redis, "email", &id, "atm"),
        "1",
        "an UnrecoverableError is not retried"
    );
}

#[test]
fn at_sigterm_the_running_job_finishes_then_the_processes_get_term() {
    let redis = Redis::start();
    let dir = TempDir::new("process-drain");
    let mark = dir.path().join("term-received");
    let release = dir.path().join("release");
    let config = format!(
        "[worker]\nconcurrency = 2\n[queues.q.handlers.n]\nprocess = {{ command = \"exec python3 {}/tests/fixtures/process/consumer.py\" }}\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut daemon = Daemon::start(
        &redis.url(),
        &config,
        None,
        &[
            ("CONSUMER_TERM_MARK", mark.to_str().unwrap()),
            ("SHUTDOWN_TIMEOUT", "30s"),
        ],
    );
    daemon.wait_healthy();
    let data = serde_json::json!({"do": "wait_file", "path": release}).to_string();
    let id = enqueue(&redis, &dir, &config, &["q", "n", "--data", &data]);
    poll(Duration::from_secs(20), "the job to be active", || {
        (job_state(&redis, "q", &id) == "active").then_some(())
    });
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    // Draining: the job is still running, and its process has had no TERM.
    poll(
        Duration::from_secs(10),
        "the daemon to say it drains",
        || daemon.log().contains("draining").then_some(()),
    );
    assert_eq!(job_state(&redis, "q", &id), "active");
    assert!(!mark.exists(), "the process got TERM while its job ran");
    std::fs::write(&release, "go").unwrap();
    assert_eq!(
        daemon.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        daemon.log()
    );
    assert_eq!(job_state(&redis, "q", &id), "completed");
    poll(
        Duration::from_secs(10),
        "the process to record its TERM",
        || {
            std::fs::read_to_string(&mark)
                .ok()
                .filter(|t| !t.trim().is_empty())
        },
    );
}

#[test]
fn processes_get_the_environment_of_exec_jobs_without_the_daemons_secrets_unless_passed() {
    let redis = Redis::start();
    let consumer = format!(
        "exec python3 {}/tests/fixtures/process/consumer.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let config = format!(
        "[queues.q.handlers.plain]\nprocess = {{ command = \"{consumer}\" }}\n\
         [queues.q.handlers.passed]\nprocess = {{ command = \"{consumer}\" }}\npass_env = [\"API_TOKEN\"]\n"
    );
    let token = "t0ken-for-the-process-test";
    let _daemon = Daemon::start(&redis.url(), &config, None, &[("API_TOKEN", token)]);
    let dir = TempDir::new("process-env");
    let data = r#"{"do":"env"}"#;
    let plain = run_one(&redis, &dir, &config, "q", "plain", data);
    assert_eq!(plain, serde_json::json!({"API_TOKEN": null}));
    let passed = run_one(&redis, &dir, &config, "q", "passed", data);
    // Passed to the process; its value is still hidden in what is copied out of the job.
    assert_eq!(passed, serde_json::json!({"API_TOKEN": "***"}));
}

/// `{"type":"data"}` replaces the stored data and `opts` carries the stored options, on every
/// store: Redis in BullMQ's layout, Redis in Bull's, and the embedded file.
#[test]
fn a_data_message_updates_the_stored_data_and_the_job_gets_its_options_on_every_store() {
    let consumer = format!(
        "exec python3 {}/tests/fixtures/process/consumer.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let handler = format!("[queues.q.handlers.n]\nprocess = {{ command = \"{consumer}\" }}\n");
    let bull = format!("[queues.q]\nlayout = \"bull\"\n{handler}");
    for (kind, config, label) in [
        (StoreKind::Redis, handler.as_str(), "bullmq layout"),
        (StoreKind::Redis, bull.as_str(), "bull layout"),
        (StoreKind::Embedded, handler.as_str(), "embedded"),
    ] {
        let stack = Stack::start(kind, config, &[]);
        let (code, out, err) = stack.cli(&[
            "enqueue",
            "q",
            "n",
            "--data",
            r#"{"do":"update"}"#,
            "--attempts",
            "2",
            "--backoff",
            "fixed:1000",
        ]);
        assert_eq!(code, 0, "{label}: {err}");
        let id = out.trim().to_string();
        let job = poll(Duration::from_secs(30), "the job to complete", || {
            let (status, job) = stack.api("GET", &format!("/api/queues/q/jobs/{id}"), None);
            (status == 200 && job["state"] == "completed").then_some(job)
        });
        assert_eq!(
            job["data"],
            serde_json::json!({"do": "update", "updated": true}),
            "{label}: {job}"
        );
        let opts = &job["returnvalue"]["opts"];
        assert_eq!(opts["attempts"], 2, "{label}: {job}");
        assert_eq!(opts["backoff"]["delay"], 1000, "{label}: {job}");
    }
}

/// An exec handler's `cronq:data JSON` stdout line replaces the stored data, as a `data`
/// message does; it is neither kept as a log line nor taken as the return value.
#[test]
fn an_exec_cronq_data_line_updates_the_stored_data() {
    let redis = Redis::start();
    let config = "[queues.q.handlers.e]\nexec = \"echo before; echo '{\\\"r\\\":1}'; echo 'cronq:data {\\\"step\\\":2}'\"\n";
    let _daemon = Daemon::start(&redis.url(), config, None, &[]);
    let dir = TempDir::new("exec-data");
    let id = enqueue(&redis, &dir, config, &["q", "e", "--data", r#"{"step":1}"#]);
    assert_eq!(
        wait_finished(&redis, "q", &id, Duration::from_secs(30)),
        "completed"
    );
    let data: serde_json::Value =
        serde_json::from_str(&job_field(&redis, "q", &id, "data")).unwrap();
    assert_eq!(data, serde_json::json!({"step": 2}));
    let logs = redis.cmd(&["LRANGE", &format!("bull:q:{id}:logs"), "0", "-1"]);
    assert!(
        logs.contains("before") && !logs.contains("cronq:data"),
        "{logs}"
    );
    // The return value is still the last line of output, not the request.
    assert_eq!(job_field(&redis, "q", &id, "returnvalue"), r#"{"r":1}"#);
}
