//! `GET /api/schedules/timeline`: runs read back by their cron ids with their outcome, skipped
//! ticks from the scheduler's memory, and next fires ahead.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

#[test]
fn runs_skipped_ticks_and_next_fires() {
    let redis = Redis::start();
    // A run lasts 2.5 s while the entry fires every second: overlap = forbid skips ticks.
    let config = r#"
[defaults]
attempts = 1
[queues.slow.handlers.hold]
exec = "sleep 2.5"
[[schedule]]
name = "busy"
cron = "* * * * * * *"
enqueue = { queue = "slow", name = "hold" }
"#;
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let url = format!("http://127.0.0.1:{}/api/schedules/timeline", daemon.port);
    let t: Value = poll(
        Duration::from_secs(30),
        "a completed run and a skipped tick",
        || {
            let (code, t) = http_json("GET", &url, None, None);
            assert_eq!(code, 200, "{t}");
            let e = &t["entries"][0];
            let done = e["runs"]
                .as_array()?
                .iter()
                .any(|r| r["state"] == "completed");
            let skipped = e["marks"]
                .as_array()?
                .iter()
                .any(|m| m["kind"] == "skipped");
            (done && skipped).then_some(t)
        },
    );
    let e = &t["entries"][0];
    assert_eq!(e["id"], "busy");
    assert_eq!(e["queue"], "slow");
    let now = t["now"].as_i64().unwrap();
    for r in e["runs"].as_array().unwrap() {
        let id = r["jobId"].as_str().unwrap();
        let secs: i64 = id.strip_prefix("cron-busy-").unwrap().parse().unwrap();
        assert_eq!(r["scheduled"].as_i64(), Some(secs * 1000), "{r}");
        if r["state"] == "completed" {
            let took = r["finished"].as_u64().unwrap() - r["started"].as_u64().unwrap();
            assert!(took >= 2_400, "the run's span is its duration: {r}");
        }
    }
    let next = e["next"].as_array().unwrap();
    assert_eq!(next.len(), 48, "at most 48 next fires");
    assert!(next[0].as_i64().unwrap() > now - 1000 && next[0].as_i64().unwrap() <= now + 1000);
}
