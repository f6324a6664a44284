//! The dashboard in real headless Chromium against ids and names a foreign producer wrote
//! (issue 25): a job id that is a relative URL, a bidi override, queue names that are not
//! queue names; in the open-API mode (loopback, no token), where the dashboard's POSTs must
//! carry the JSON content type. The script is tests/browser/hostile.mjs.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

#[test]
fn hostile_ids_and_names_cannot_steer_the_dashboard() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does) and install Debian's chromium"
    );
    let redis = Redis::start();
    let config = r#"
[defaults]
attempts = 1
[queues.email.handlers.send]
builtin = "fail"
[queues.misc.handlers.tidy]
builtin = "echo"
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let base = format!("http://127.0.0.1:{}", daemon.port);
    // Allowed by the job-id rule (BullMQ's): no ':' and not an integer. Retried from the page,
    // a raw URL would resolve to /api/queues/misc/pause.
    let hostile = "../../misc/pause?";
    for id in [hostile, "bidi-source"] {
        let body = serde_json::json!({"name": "send", "jobId": id}).to_string();
        let (code, added) = http_json(
            "POST",
            &format!("{base}/api/queues/email/jobs"),
            Some(&body),
            None,
        );
        assert_eq!(code, 201, "{added}");
        assert_eq!(
            wait_finished(&redis, "email", id, Duration::from_secs(20)),
            "failed"
        );
    }
    // What another producer may write, which our rule refuses: a bidi override in an id, and
    // queue names that break the name rule.
    let bidi = "\u{202e}gnp.exe";
    redis.cmd(&[
        "RENAME",
        "bull:email:bidi-source",
        &format!("bull:email:{bidi}"),
    ]);
    redis.cmd(&["ZREM", "bull:email:failed", "bidi-source"]);
    redis.cmd(&["ZADD", "bull:email:failed", "1", bidi]);
    redis.cmd(&["SET", "bull:<img src=x onerror=window.__pwned=1>:id", "1"]);
    redis.cmd(&["HSET", "bull:ev/../il:meta", "opts.maxLenEvents", "100"]);

    let finished_before = job_field(&redis, "email", hostile, "finishedOn");
    let out = std::process::Command::new("node")
        .arg(browser_dir.join("hostile.mjs"))
        .args([&base, "email", hostile, "misc", bidi])
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
    eprintln!("dashboard: {}", stdout.trim());
    assert_eq!(redis.cmd(&["HGET", "bull:misc:meta", "paused"]), "");
    // The click retried the job it was shown on: it ran (and failed) again.
    poll(
        Duration::from_secs(20),
        "the hostile job to run again",
        || {
            let now = job_field(&redis, "email", hostile, "finishedOn");
            (now != finished_before && job_state(&redis, "email", hostile) == "failed")
                .then_some(())
        },
    );
}
