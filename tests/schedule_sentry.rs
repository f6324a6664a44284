//! Sentry Crons check-ins (issue 29 point 6, `ping = "sentry"` / `"sentry:SLUG"`) against a
//! local receiver acting as the DSN's envelope endpoint: each run sends `in_progress`, then
//! `ok` or `error`, with the entry's crontab as the monitor's schedule.

mod support;

use std::time::Duration;

use support::*;

#[test]
fn runs_check_in_to_sentry_crons_with_their_schedule() {
    let hook = TestHttp::start();
    let dsn = format!("http://publickey@127.0.0.1:{}/42", hook.port);
    let config = r#"
[[schedule]]
name = "works"
cron = "* * * * * * *"
ping = "sentry"
command = "sleep 6"

[[schedule]]
name = "minutely"
cron = "* * * * *"
ping = "sentry:db-dump"
command = "exit 3"
attempts = 1
"#;
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), config, None, &[("SENTRY_DSN", dsn.as_str())]);
    daemon.wait_healthy();
    let check_ins = || -> Vec<serde_json::Value> {
        hook.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.starts_with("/api/42/envelope"))
            .flat_map(|(_, b)| {
                b.lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .filter(|v| v.get("monitor_slug").is_some())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let find = |slug: &str, status: &str| {
        check_ins()
            .into_iter()
            .find(|c| c["monitor_slug"] == slug && c["status"] == status)
    };
    // The 6 s run spans three 2 s watch polls; the minutely entry fires within a minute.
    poll(
        Duration::from_secs(100),
        "in_progress, ok and error check-ins",
        || {
            (find("works", "in_progress").is_some()
                && find("works", "ok").is_some()
                && find("db-dump", "error").is_some())
            .then_some(())
        },
    );
    let start = find("works", "in_progress").unwrap();
    // One run's start and end are one check-in (runs overlap, so match any pair).
    poll(
        Duration::from_secs(30),
        "a run's start and end with one id",
        || {
            let all = check_ins();
            let ids = |status: &str| -> Vec<serde_json::Value> {
                all.iter()
                    .filter(|c| c["monitor_slug"] == "works" && c["status"] == status)
                    .map(|c| c["check_in_id"].clone())
                    .collect()
            };
            let oks = ids("ok");
            ids("in_progress")
                .iter()
                .any(|s| oks.contains(s))
                .then_some(())
        },
    );
    // A seconds-field cron is no Sentry crontab: no monitor_config; a 5-field one is sent.
    assert!(start.get("monitor_config").is_none(), "{start}");
    let err = find("db-dump", "error").unwrap();
    assert_eq!(
        err["monitor_config"]["schedule"]["type"], "crontab",
        "{err}"
    );
    assert_eq!(
        err["monitor_config"]["schedule"]["value"], "* * * * *",
        "{err}"
    );
}

/// `ping = "sentry"` without `SENTRY_DSN`: one warning when the plan is read, naming the entry
/// and the fix, not one per run; the entry's check-in state says why (issue 29, polish).
#[test]
fn sentry_pings_without_a_dsn_warn_once_naming_the_entry() {
    let config = r#"
[[schedule]]
name = "monitored"
cron = "* * * * * * *"
ping = "sentry"
command = "true"
"#;
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let url = format!("http://127.0.0.1:{}/api/schedules", daemon.port);
    // Several runs each check in (and cannot): their outcome is in the API.
    poll(Duration::from_secs(30), "three completed runs", || {
        (ids_in(&redis, "cron", "completed").len() >= 3).then_some(())
    });
    let c = poll(Duration::from_secs(20), "the check-in state", || {
        let (_, rows) = http_json("GET", &url, None, None);
        let c = rows[0]["checkin"].clone();
        (c["outcome"] == "failed").then_some(c)
    });
    assert_eq!(c["service"], "sentry", "{c}");
    assert!(
        c["error"].as_str().unwrap().contains("set SENTRY_DSN"),
        "{c}"
    );
    let log = daemon.log();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("SENTRY_DSN")).collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("monitored"), "{}", warnings[0]);
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
}
