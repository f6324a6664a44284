//! Check-ins (issue 29 point 6) against a local receiver: the healthchecks.io protocol
//! (`URL/start`, `URL`, `URL/fail` with the failure reason), sent off the job's path with
//! bounded retries, and the URL's secret kept out of the log.

mod support;

use std::time::Duration;

use support::*;

#[test]
fn runs_check_in_start_success_and_fail_and_the_log_hides_the_key() {
    let hook = TestHttp::start();
    let config = format!(
        r#"
[queues.jobs.handlers.nap]
builtin = "sleep"
[queues.jobs.handlers.broken]
builtin = "fail"
attempts = 1

[[schedule]]
name = "works"
cron = "* * * * * * *"
ping = "http://127.0.0.1:{port}/hc/secret-ok"
enqueue = {{ queue = "jobs", name = "nap", data = {{ ms = 6000 }} }}

[[schedule]]
name = "fails"
cron = "* * * * * * *"
ping = "http://127.0.0.1:{port}/hc/secret-bad"
enqueue = {{ queue = "jobs", name = "broken", data = {{ reason = "disk full" }} }}
"#,
        port = hook.port
    );
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    let seen = |path: &str| {
        hook.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect::<Vec<_>>()
    };
    // The run lasts 6 s, three of the daemon's 2 s watch polls: a loaded machine still sees it
    // running (a run shorter than one poll sends no `/start`, README "Schedules").
    poll(
        Duration::from_secs(60),
        "start, success and fail check-ins",
        || {
            (!seen("/hc/secret-ok/start").is_empty()
                && !seen("/hc/secret-ok").is_empty()
                && !seen("/hc/secret-bad/fail").is_empty())
            .then_some(())
        },
    );
    let fail_bodies = seen("/hc/secret-bad/fail");
    assert!(fail_bodies[0].contains("disk full"), "{fail_bodies:?}");
    // The receiver answers 500 to these paths: retried, at most 3 times, then logged.
    poll(
        Duration::from_secs(20),
        "an undelivered check-in logged",
        || {
            daemon
                .log()
                .contains("check-in not delivered")
                .then_some(())
        },
    );
    let log = daemon.log();
    assert!(
        log.contains("http://127.0.0.1/…"),
        "redacted URL in the log"
    );
    assert!(
        !log.contains("secret-ok") && !log.contains("secret-bad"),
        "{log}"
    );
    // The job's own outcome is untouched by the failing check-ins.
    poll(Duration::from_secs(20), "a completed run", || {
        ids_in(&redis, "jobs", "completed").into_iter().next()
    });
}

#[test]
fn a_failing_entry_notifies_once_a_minute_with_a_slack_text() {
    let hook = TestHttp::start();
    let config = format!(
        r#"
[queues.jobs.handlers.broken]
builtin = "fail"
attempts = 1

[[schedule]]
name = "fails"
cron = "* * * * * * *"
notify = "http://127.0.0.1:{port}/ok"
enqueue = {{ queue = "jobs", name = "broken", data = {{ reason = "disk full" }} }}
"#,
        port = hook.port
    );
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    let docs = || -> Vec<serde_json::Value> {
        hook.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == "/ok")
            .map(|(_, b)| serde_json::from_str(b).unwrap())
            .collect()
    };
    poll(Duration::from_secs(30), "a notification", || {
        (!docs().is_empty()).then_some(())
    });
    // Let several more runs fail: still one notification (rate-limited per entry).
    poll(Duration::from_secs(30), "four failed runs", || {
        (ids_in(&redis, "jobs", "failed").len() >= 4).then_some(())
    });
    poll(Duration::from_secs(10), "their outcomes seen", || {
        daemon
            .log()
            .matches("job failed")
            .count()
            .ge(&4)
            .then_some(())
    });
    let docs = docs();
    assert_eq!(docs.len(), 1, "{docs:?}");
    let d = &docs[0];
    assert_eq!(d["event"], "failed");
    assert_eq!(d["entry"], "fails");
    assert!(d["job_id"].as_str().unwrap().starts_with("cron-fails-"));
    let text = d["text"].as_str().unwrap();
    assert!(
        text.contains("fails") && text.contains("disk full"),
        "{text}"
    );
    assert_eq!(
        d["dashboard"],
        format!("/#job-{}", d["job_id"].as_str().unwrap())
    );
}
