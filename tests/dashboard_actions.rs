//! The job detail's issue-30 buttons in real headless Chromium: Cancel (tests/browser/cancel.mjs)
//! stops a running exec job, which then shows failed with who cancelled it; "Send back to
//! ORIGIN" (tests/browser/sendback.mjs) returns a dead letter to its origin queue.

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

#[test]
fn send_a_dead_letter_back_from_the_dashboard() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let redis = Redis::start();
    let token = "dash-token";
    let config = r#"
[queues.email]
dead_letter = "email-dead"
[queues.email.handlers.send]
exec = "test -e ok || exit 3"
attempts = 1
[queues.email-dead]
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[("API_TOKEN", token)]);
    daemon.wait_healthy();
    let (code, added) = http_json(
        "POST",
        &format!("http://127.0.0.1:{}/api/queues/email/jobs", daemon.port),
        Some(r#"{"name":"send","jobId":"mail-9"}"#),
        Some(token),
    );
    assert_eq!(code, 201, "{added}");
    poll(Duration::from_secs(20), "the dead letter", || {
        (job_state(&redis, "email-dead", "dl-email-mail-9-1") == "waiting").then_some(())
    });
    std::fs::write(daemon.dir.path().join("ok"), "").unwrap();
    let out = std::process::Command::new("node")
        .arg(browser_dir.join("sendback.mjs"))
        .arg(format!("http://127.0.0.1:{}", daemon.port))
        .arg(token)
        .arg("email-dead")
        .arg("dl-email-mail-9-1")
        .arg("email")
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        wait_finished(&redis, "email", "mail-9", Duration::from_secs(20)),
        "completed"
    );
    assert!(all_job_ids(&redis, "email-dead").is_empty());
}
