//! Check-ins (issue 29 points 6 and 8) against a local receiver: the healthchecks.io protocol
//! (`URL/start`, `URL`, `URL/fail` with the failure reason and last output lines), sent off the
//! job's path with bounded retries, the URL's secret kept out of the log; and failure webhooks
//! with the exit code and last output lines.

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
command = "for i in $(seq 1 14); do echo step $i; done; echo disk full >&2; exit 3"
attempts = 1
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
    // The body: the reason with the exit status, then the run's last output lines (not all).
    let fail_bodies = seen("/hc/secret-bad/fail");
    let body = &fail_bodies[0];
    assert!(body.contains("exit status 3: disk full"), "{fail_bodies:?}");
    assert!(
        body.contains("step 14") && body.contains("step 10"),
        "{body}"
    );
    assert!(!body.contains("step 1\n"), "only the last lines: {body}");
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
command = "for i in $(seq 1 14); do echo step $i; done; echo disk full >&2; exit 3"
attempts = 1

[[schedule]]
name = "builtin"
cron = "* * * * * * *"
notify = "http://127.0.0.1:{port}/builtin"
enqueue = {{ queue = "jobs", name = "broken", data = {{ reason = "no exit code here" }} }}
"#,
        port = hook.port
    );
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    let docs_at = |path: &str| -> Vec<serde_json::Value> {
        hook.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| serde_json::from_str(b).unwrap())
            .collect()
    };
    let docs = || docs_at("/ok");
    poll(Duration::from_secs(30), "a notification", || {
        (!docs().is_empty()).then_some(())
    });
    // Let several more runs fail (both entries fail each second): still one notification of
    // `fails` (rate-limited per entry).
    poll(Duration::from_secs(30), "four failed runs", || {
        (ids_in(&redis, "cron", "failed").len() >= 4).then_some(())
    });
    poll(Duration::from_secs(10), "their outcomes seen", || {
        daemon
            .log()
            .matches("job failed")
            .count()
            .ge(&8)
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
    // Without `public_url`: the entry's address on the dashboard, as a path.
    assert_eq!(d["dashboard"], "/#/schedules/fails", "{d}");
    // The exit code the command reported, and its last 10 output lines, oldest first.
    assert_eq!(d["exit_code"], 3, "{d}");
    let last: Vec<&str> = d["last_output"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert_eq!(last.len(), 10, "{last:?}");
    assert!(last.iter().any(|l| l.contains("step 14")), "{last:?}");
    assert!(!last.iter().any(|l| l.ends_with("step 1")), "{last:?}");
    // A handler that reports no exit code: null, not a guess.
    poll(
        Duration::from_secs(30),
        "the builtin's notification",
        || docs_at("/builtin").into_iter().next(),
    );
    let b = &docs_at("/builtin")[0];
    assert!(b["exit_code"].is_null(), "{b}");
    assert!(b["last_output"].is_array(), "{b}");
}

/// `GET /api/schedules` → `checkin` (issue 29 point 9): each entry's latest check-in as this
/// daemon sent it, one entry's receiver answering 200 and the other's 500.
#[test]
fn the_schedules_api_shows_each_entrys_latest_check_in_and_its_outcome() {
    let hook = TestHttp::start();
    let config = format!(
        r#"
[[schedule]]
name = "good"
cron = "* * * * * * *"
ping = "http://127.0.0.1:{port}/ok"
command = "true"

[[schedule]]
name = "bad"
cron = "*/4 * * * * * *"
ping = "http://127.0.0.1:{port}/hc/secret-bad"
command = "exit 3"
attempts = 1

[[schedule]]
name = "quiet"
cron = "0 3 * * *"
command = "true"
"#,
        port = hook.port
    );
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    let url = format!("http://127.0.0.1:{}/api/schedules", daemon.port);
    let checkin = |entry: &str| {
        let (code, rows) = http_json("GET", &url, None, None);
        assert_eq!(code, 200, "{rows}");
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == entry)
            .cloned()
            .unwrap();
        row["checkin"].clone()
    };
    // Every success of "good" is delivered (200); a start caught running goes to `/ok/start`,
    // which answers 500, so wait for a moment whose latest check-in is a success.
    let good = poll(Duration::from_secs(60), "a delivered success", || {
        let c = checkin("good");
        (c["kind"] == "success" && c["outcome"] == "delivered").then_some(c)
    });
    assert_eq!(good["status"], 200, "{good}");
    assert_eq!(good["service"], "healthchecks", "{good}");
    assert!(good["error"].is_null(), "{good}");
    assert!(good["job_id"].as_str().unwrap().starts_with("cron-good-"));
    assert_eq!(good["seen_by"], format!("test-{}", daemon.port), "{good}");
    chrono::DateTime::parse_from_rfc3339(good["at"].as_str().unwrap()).unwrap();
    // "bad" fails every 4 s; its `/fail` is refused three times (1 s, 2 s apart), then failed.
    let bad = poll(
        Duration::from_secs(60),
        "a check-in failed for good",
        || {
            let c = checkin("bad");
            (c["outcome"] == "failed").then_some(c)
        },
    );
    assert_eq!(bad["kind"], "fail", "{bad}");
    assert_eq!(bad["status"], 500, "{bad}");
    assert_eq!(bad["error"], "HTTP 500", "{bad}");
    assert_eq!(bad["attempts"], 3, "{bad}");
    // The URL's secret part is never shown.
    assert_eq!(bad["url"], "http://127.0.0.1/…", "{bad}");
    assert!(!bad.to_string().contains("secret-bad"), "{bad}");
    // No ping: no check-in state.
    assert!(checkin("quiet").is_null());
}

/// `CRONQ_PUBLIC_URL` (`[http] public_url`): the notification's dashboard link is a full URL to
/// the entry, also at the end of the Slack `text` (issue 29 point 8).
#[test]
fn with_a_public_url_the_notification_links_to_the_entry_in_full() {
    let hook = TestHttp::start();
    let config = format!(
        r#"
[[schedule]]
name = "fails"
cron = "* * * * * * *"
notify = "http://127.0.0.1:{port}/ok"
command = "exit 3"
attempts = 1
"#,
        port = hook.port
    );
    let redis = Redis::start();
    let env = [("CRONQ_PUBLIC_URL", "https://cron.example.com/ops/")];
    let daemon = Daemon::start(&redis.url(), &config, None, &env);
    daemon.wait_healthy();
    let doc = poll(Duration::from_secs(30), "a notification", || {
        let requests = hook.requests.lock().unwrap();
        let (_, body) = requests.iter().find(|(p, _)| p == "/ok")?;
        Some(serde_json::from_str::<serde_json::Value>(body).unwrap())
    });
    let link = "https://cron.example.com/ops/#/schedules/fails";
    assert_eq!(doc["dashboard"], link, "{doc}");
    assert!(doc["text"].as_str().unwrap().ends_with(link), "{doc}");
}
