//! A declared queue nobody here consumes is visible as such (issue 24): `/health` lists it with
//! `"consumed": false`, its counts and a hint, and stays healthy (Node workers may consume it);
//! the dashboard (real headless Chromium, tests/browser/unconsumed.mjs) says "no consumer here"
//! beside it instead of looking idle.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;

/// `jobs` is consumed; `ai` is declared (settings, no handlers) and consumed by nobody here.
const CONFIG: &str = r#"
[queues.jobs.handlers."*"]
builtin = "echo"
[queues.ai]
concurrency = 5
"#;

/// Adds a job through the API; it stays waiting when nobody consumes the queue.
fn add_job(port: u16, queue: &str, id: &str, token: &str) {
    let (code, body) = http_json(
        "POST",
        &format!("http://127.0.0.1:{port}/api/queues/{queue}/jobs"),
        Some(&format!(r#"{{"name":"summarise","jobId":"{id}"}}"#)),
        Some(token),
    );
    assert_eq!(code, 201, "{body}");
}

#[test]
fn health_lists_a_declared_queue_nobody_here_consumes_and_stays_healthy() {
    let redis = Redis::start();
    // Enqueued before the daemon starts (as a producer elsewhere would): `/health` reuses its
    // counts for up to 30 s, so the first probe must already see them.
    let dir = TempDir::new("unconsumed-health");
    let ids: Vec<String> = (0..3)
        .map(|_| enqueue(&redis, &dir, CONFIG, &["ai", "summarise"]))
        .collect();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    let (code, h) = daemon.health().expect("health answers");
    assert_eq!(code, 200, "{h}");
    assert_eq!(h["status"], "healthy", "{h}");
    let ai = &h["queues"]["ai"];
    assert_eq!(ai["consumed"], false, "{h}");
    assert_eq!(ai["waiting"], 3, "its waiting count: {h}");
    let hint = ai["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("no consumer here"), "{h}");
    assert!(hint.contains("\"*\""), "names the catch-all: {h}");
    assert_eq!(h["queues"]["jobs"]["consumed"], true, "{h}");
    assert!(h["queues"]["jobs"]["concurrency"].as_u64().is_some(), "{h}");
    // Health does not lose the jobs either: they wait for whoever consumes the queue.
    for id in &ids {
        assert_eq!(job_state(&redis, "ai", id), "waiting");
    }
}

#[test]
fn a_broken_key_of_an_unconsumed_queue_is_its_error_and_health_stays_200() {
    let redis = Redis::start();
    // Another tool wrote a string where BullMQ keeps the `wait` list.
    redis.cmd(&["SET", "bull:ai:wait", "not a list"]);
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    let (code, h) = daemon.health().expect("health answers");
    assert_eq!(code, 200, "{h}");
    assert_eq!(h["status"], "healthy", "{h}");
    let ai = &h["queues"]["ai"];
    assert_eq!(ai["consumed"], false, "{h}");
    assert!(
        ai["waiting"].is_null(),
        "no counts when they could not be read: {h}"
    );
    let error = ai["error"].as_str().unwrap_or_default();
    assert!(error.contains("bull:ai:wait"), "names the key: {h}");
}

#[test]
fn the_dashboard_says_no_consumer_here_beside_a_queue_with_waiting_jobs() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does) and install Debian's chromium"
    );
    let redis = Redis::start();
    let token = "orphan-token";
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[("API_TOKEN", token)]);
    daemon.wait_healthy();
    add_job(daemon.port, "ai", "ai-1", token);
    add_job(daemon.port, "jobs", "jobs-1", token);
    assert_eq!(
        wait_finished(&redis, "jobs", "jobs-1", Duration::from_secs(20)),
        "completed"
    );
    let shot = screenshots_dir().join("dashboard-no-consumer.png");
    let _ = std::fs::remove_file(&shot);
    let out = std::process::Command::new("node")
        .arg(browser_dir.join("unconsumed.mjs"))
        .arg(format!("http://127.0.0.1:{}", daemon.port))
        .arg(token)
        .arg("ai")
        .arg("jobs")
        .arg(&shot)
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{stderr}\ndaemon log:\n{}",
        daemon.log()
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    let text = |k: &str| seen[k].as_str().unwrap_or_default().to_string();
    assert!(text("orphanText").contains("no consumer here"), "{seen}");
    assert!(text("orphanText").contains("catch-all"), "the hint: {seen}");
    assert!(text("orphanName").contains("no consumer here"), "{seen}");
    assert!(!text("consumedText").contains("no consumer here"), "{seen}");
    assert!(!text("consumedName").contains("no consumer here"), "{seen}");
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
