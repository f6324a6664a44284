//! The dashboard's schedule rows in real headless Chromium (tests/browser/schedules.mjs): an
//! entry whose last tick predates the daemon reads "never ran", Pause and Resume work from its
//! row, and "Backfill…" adds its ticks of a past range; each entry shows its last success and
//! its latest check-in, delivered or failed; `#/schedules/ID` highlights the entry (issue 29
//! points 8 and 9).

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

#[test]
fn never_ran_pause_resume_backfill_and_check_ins_from_the_dashboard() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does) and install Debian's chromium"
    );
    let redis = Redis::start();
    let token = "dash-token";
    // "pinged" checks in at a receiver answering 200 to `/ok`, "refused" at one answering 500
    // (every 10 s, so its three attempts end well before its next run checks in again).
    let hook = TestHttp::start();
    let config = format!(
        r#"
[[schedule]]
name = "nightly"
cron = "0 3 * * *"
command = "true"

[[schedule]]
name = "pinged"
cron = "*/3 * * * * * *"
ping = "http://127.0.0.1:{port}/ok"
command = "true"

[[schedule]]
name = "refused"
cron = "*/10 * * * * * *"
ping = "http://127.0.0.1:{port}/hc/key"
command = "exit 3"
attempts = 1
"#,
        port = hook.port
    );
    let daemon = Daemon::start(&redis.url(), &config, None, &[("API_TOKEN", token)]);
    daemon.wait_healthy();
    let out = std::process::Command::new("node")
        .arg(browser_dir.join("schedules.mjs"))
        .arg(format!("http://127.0.0.1:{}", daemon.port))
        .arg(token)
        .arg("nightly")
        .arg("pinged")
        .arg("refused")
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
    assert!(
        seen["never_ran"]
            .as_str()
            .unwrap()
            .contains("never ran (first seen"),
        "{seen}"
    );
    assert!(
        seen["paused_note"].as_str().unwrap().contains("paused"),
        "{seen}"
    );
    // Three days back to now holds exactly three 03:00 ticks.
    assert!(
        seen["backfill"]
            .as_str()
            .unwrap()
            .contains("backfill of nightly: added 3"),
        "{seen}"
    );
    let text = |k: &str| seen[k].as_str().unwrap().to_string();
    assert!(text("good_checkin").contains("s ago"), "{seen}");
    assert!(text("good_success").contains(" ago ("), "{seen}");
    assert!(
        text("bad_checkin").starts_with("check-in failed: HTTP 500 (fail, "),
        "{seen}"
    );
    assert!(text("target").contains("nightly"), "{seen}");
    assert_eq!(seen["target_in_view"], true, "{seen}");
    // The page's backfill added real runs, with the entry's deterministic ids, which complete.
    let done = poll(Duration::from_secs(20), "three backfilled runs", || {
        let ids: Vec<String> = ids_in(&redis, "cron", "completed")
            .into_iter()
            .filter(|id| id.starts_with("cron-nightly-"))
            .collect();
        (ids.len() >= 3).then_some(ids)
    });
    assert_eq!(done.len(), 3, "{done:?}");
    // Resumed: the store holds no pause for it.
    let (code, rows) = http_json(
        "GET",
        &format!("http://127.0.0.1:{}/api/schedules", daemon.port),
        None,
        Some(token),
    );
    assert_eq!(code, 200, "{rows}");
    let nightly = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "nightly");
    assert!(nightly.unwrap()["paused"].is_null(), "{rows}");
}
