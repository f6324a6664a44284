//! The dead-man's switch (issue 29 point 7): each entry's last success in `GET
//! /api/schedules` and `/metrics`, and an entry past its `alert_after` without a success
//! named in `/health`'s body, turning the probe 503 only with `[cron] stale_fails_health`.

mod support;

use std::time::Duration;

use support::*;

fn config(extra_cron: &str) -> String {
    format!(
        r#"
[cron]
{extra_cron}
[queues.jobs.handlers.ok]
builtin = "noop"
[queues.jobs.handlers.broken]
builtin = "fail"
attempts = 1

[[schedule]]
name = "works"
cron = "* * * * * * *"
alert_after = "10s"
enqueue = {{ queue = "jobs", name = "ok" }}

[[schedule]]
name = "always-fails"
cron = "* * * * * * *"
alert_after = "3s"
enqueue = {{ queue = "jobs", name = "broken" }}
"#
    )
}

fn base(d: &Daemon) -> String {
    d.health_url().replace("/health", "")
}

#[test]
fn a_failing_entry_goes_stale_in_the_health_body_and_a_working_one_reports_its_success() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), &config(""), None, &[]);
    daemon.wait_healthy();
    let body = poll(
        Duration::from_secs(30),
        "the failing entry named stale",
        || {
            let (code, body) = daemon.health()?;
            let names: Vec<String> = body["stale_schedules"]
                .as_array()?
                .iter()
                .filter_map(|s| s["entry"].as_str().map(String::from))
                .collect();
            (names == ["always-fails"]).then_some((code, body))
        },
    );
    // Off by default: named, but the probe stays 200.
    assert_eq!(body.0, 200, "{}", body.1);
    assert_eq!(body.1["status"], "healthy");
    assert_eq!(body.1["stale_schedules"][0]["alert_after_s"], 3);
    let rows = poll(
        Duration::from_secs(30),
        "a known success of `works`",
        || {
            let url = format!("{}/api/schedules", base(&daemon));
            let (_, rows) = http_json("GET", &url, None, None);
            let works = rows.as_array()?.iter().find(|r| r["id"] == "works")?;
            let id = works["last_success"]["job_id"].as_str()?;
            id.starts_with("cron-works-").then_some(rows.clone())
        },
    );
    let works = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "works")
        .unwrap();
    assert_eq!(works["stale"], false);
    let fails = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "always-fails")
        .unwrap();
    assert!(
        fails["last_success"].is_null() && fails["stale"] == true,
        "{rows}"
    );
    let metrics = http("GET", &format!("{}/metrics", base(&daemon)), None, None).1;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("cronq_cron_last_success_timestamp_seconds{entry=\"works\"}"))
        .unwrap_or_else(|| panic!("no last-success series:\n{metrics}"));
    let at: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(at > 1.7e9, "{line}");
    assert!(
        !metrics.contains("entry=\"always-fails\""),
        "no success, no series"
    );
}

#[test]
fn stale_fails_health_turns_the_probe_503_naming_the_entry() {
    let redis = Redis::start();
    let daemon = Daemon::start(
        &redis.url(),
        &config("stale_fails_health = true"),
        None,
        &[],
    );
    daemon.wait_healthy();
    // (`wait_healthy` is not used: the probe may turn 503 before it would return.)
    let body = poll(
        Duration::from_secs(30),
        "a 503 for the stale entry alone",
        || {
            let (code, body) = daemon.health()?;
            let reason = body["reason"].as_str().unwrap_or_default().to_string();
            (code == 503 && reason.contains("always-fails") && !reason.contains("works"))
                .then_some(body)
        },
    );
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("always-fails") && reason.contains("stale_fails_health"),
        "{body}"
    );
    assert!(!reason.contains("works"), "{body}");
}
