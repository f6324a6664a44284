//! The dashboard's Cancel button in real headless Chromium (tests/browser/cancel.mjs): a
//! running exec job is stopped from the job's detail and shows failed with who cancelled it.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

#[test]
fn cancel_a_running_job_from_the_dashboard() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does) and install Debian's chromium"
    );
    let redis = Redis::start();
    let token = "dash-token";
    let config = r#"
[queues.reports.handlers.build]
exec = "echo started; sleep 60"
attempts = 3
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[("API_TOKEN", token)]);
    daemon.wait_healthy();
    let (code, added) = http_json(
        "POST",
        &format!("http://127.0.0.1:{}/api/queues/reports/jobs", daemon.port),
        Some(r#"{"name":"build","jobId":"report-48"}"#),
        Some(token),
    );
    assert_eq!(code, 201, "{added}");
    poll(Duration::from_secs(20), "the job to run", || {
        (job_state(&redis, "reports", "report-48") == "active").then_some(())
    });
    let out = std::process::Command::new("node")
        .arg(browser_dir.join("cancel.mjs"))
        .arg(format!("http://127.0.0.1:{}", daemon.port))
        .arg(token)
        .arg("reports")
        .arg("report-48")
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{stderr}\ndaemon log:\n{}",
        daemon.log()
    );
    assert_eq!(job_state(&redis, "reports", "report-48"), "failed");
    // Failed for good (3 attempts allowed, none more made), naming who cancelled it.
    assert!(job_field(&redis, "reports", "report-48", "failedReason")
        .starts_with("cancelled on request (by the API of worker test-"));
    assert!(ids_in(&redis, "reports", "wait").is_empty());
    assert!(ids_in(&redis, "reports", "delayed").is_empty());
}
