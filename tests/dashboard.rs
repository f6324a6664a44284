//! The dashboard in real headless Chromium (Debian's `chromium`, driven by playwright-core from
//! tests/browser): sign in with the token, see a failed job with its error, click Retry, see it
//! complete through the live event stream; then the charts and the timeline. Screenshots go to
//! target/screenshots/; `CRONQ_REFRESH_DOCS=1` (scripts/refresh-screenshots.sh) also copies the
//! charts test's two to docs/, so the README's pictures change only on purpose.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;

#[test]
fn retry_a_failed_job_from_the_dashboard() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does) and install Debian's chromium"
    );
    let redis = Redis::start();
    let token = "dash-token";
    // Fails on its first run, succeeds when retried (a file marks the first attempt).
    let config = r#"
[defaults]
attempts = 1
[queues.reports.handlers.build]
exec = "if [ -e first.done ]; then echo '{\"attempt\":\"second\"}'; else touch first.done; echo 'first attempt fails' >&2; exit 1; fi"
[[schedule]]
name = "weekly-report"
cron = "0 6 * * 1"
enqueue = { queue = "reports", name = "build" }
"#;
    // The config by its relative name (the daemon runs in its own directory): the schedule's
    // source shows as `worker.toml:6`, not a temporary path, in the screenshot.
    let daemon = Daemon::start(
        &redis.url(),
        config,
        None,
        &[("API_TOKEN", token), ("WORKER_CONFIG", "worker.toml")],
    );
    daemon.wait_healthy();
    let (code, added) = http_json(
        "POST",
        &format!("http://127.0.0.1:{}/api/queues/reports/jobs", daemon.port),
        Some(r#"{"name":"build","data":{"week":47},"jobId":"report-47"}"#),
        Some(token),
    );
    assert_eq!(code, 201, "{added}");
    assert_eq!(
        wait_finished(&redis, "reports", "report-47", Duration::from_secs(20)),
        "failed"
    );

    // Not dashboard.png: that name is the charts test's, which the README shows.
    let shot = screenshots_dir().join("dashboard-retry.png");
    let _ = std::fs::remove_file(&shot);
    let out = std::process::Command::new("node")
        .arg(browser_dir.join("dashboard.mjs"))
        .arg(format!("http://127.0.0.1:{}", daemon.port))
        .arg(token)
        .arg("reports")
        .arg("report-47")
        .arg(&shot)
        // The page must not show this (the daemon's scratch directory) anywhere.
        .arg(daemon.dir.path())
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{stderr}\ndaemon log:\n{}",
        daemon.log()
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    assert_eq!(job_state(&redis, "reports", "report-47"), "completed");
    assert_eq!(
        job_field(&redis, "reports", "report-47", "returnvalue"),
        r#"{"attempt":"second"}"#
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
}

/// Where screenshots go: `target/screenshots/` (under `CARGO_TARGET_DIR` when set), created.
fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The charts and the schedules timeline in real Chromium (tests/browser/charts.mjs): jobs run
/// (two schedules firing every second, one always completing and one always failing, plus jobs
/// added through the API), then the page draws throughput points, runs in their outcome
/// colours, and opens a failed run's job from the timeline. Screenshots at desktop width and
/// at 390 px go to target/screenshots/.
#[test]
fn charts_and_the_schedules_timeline() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let redis = Redis::start();
    let token = "chart-token";
    let config = r#"
[defaults]
attempts = 1
[queues.reports.handlers.build]
builtin = "echo"
[queues.reports.handlers.broken]
builtin = "fail"
[[schedule]]
name = "good"
cron = "* * * * * * *"
enqueue = { queue = "reports", name = "build" }
[[schedule]]
name = "bad"
cron = "* * * * * * *"
enqueue = { queue = "reports", name = "broken" }
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[("API_TOKEN", token)]);
    daemon.wait_healthy();
    let base = format!("http://127.0.0.1:{}", daemon.port);
    for i in 0..5 {
        let body = format!(r#"{{"name":"build","data":{{"n":{i}}}}}"#);
        let (code, _) = http_json(
            "POST",
            &format!("{base}/api/queues/reports/jobs"),
            Some(&body),
            Some(token),
        );
        assert_eq!(code, 201);
    }
    // Both entries have finished runs before the page is opened.
    poll(
        Duration::from_secs(20),
        "finished runs of both entries",
        || {
            let (_, t) = http_json(
                "GET",
                &format!("{base}/api/schedules/timeline"),
                None,
                Some(token),
            );
            let runs = |id: &str, state: &str| {
                t["entries"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|e| e["id"] == id)
                    .flat_map(|e| e["runs"].as_array().cloned().unwrap_or_default())
                    .filter(|r| r["state"] == state)
                    .count()
            };
            (runs("good", "completed") > 0 && runs("bad", "failed") > 0).then_some(())
        },
    );
    let shots = screenshots_dir();
    let out = std::process::Command::new("node")
        .arg(browser_dir.join("charts.mjs"))
        .args([&base, token, "reports", "good", "bad"])
        .arg(&shots)
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{stderr}\ndaemon log:\n{}",
        daemon.log()
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    for shot in ["dashboard.png", "dashboard-mobile.png"] {
        assert!(
            std::fs::metadata(shots.join(shot)).unwrap().len() > 10_000,
            "{shot} is a real screenshot"
        );
        if std::env::var_os("CRONQ_REFRESH_DOCS").is_some_and(|v| v == "1") {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("docs")
                .join(shot);
            std::fs::copy(shots.join(shot), &docs).unwrap();
            eprintln!("dashboard: refreshed {}", docs.display());
        }
    }
}
