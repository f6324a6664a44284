//! Backfill (issue 29 point 4): an entry's ticks of a past range added now with their usual
//! deterministic ids, through the API and the CLI; repeating it adds nothing; a bad range is
//! refused with the fix.

mod support;

use std::time::Duration;

use support::*;

const CONFIG: &str = r#"
[queues.reports.handlers.build]
builtin = "noop"
[[schedule]]
name = "nightly"
cron = "0 3 * * *"
tz = "UTC"
enqueue = { queue = "reports", name = "build" }
"#;

#[test]
fn backfill_adds_each_past_tick_once_through_the_api_and_the_cli() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    let url = daemon
        .health_url()
        .replace("/health", "/api/schedules/nightly/backfill");
    let range = r#"{"from": "2026-01-01T00:00:00Z", "to": "2026-01-03T12:00:00Z"}"#;
    let (code, body) = http_json("POST", &url, Some(range), None);
    assert_eq!((code, body["added"].as_u64()), (200, Some(3)), "{body}");
    let (_, again) = http_json("POST", &url, Some(range), None);
    assert_eq!(again["added"], 0, "deterministic ids: nothing twice");
    // 2026-01-01T03:00:00Z = 1767236400.
    for secs in [1767236400, 1767322800, 1767409200] {
        let id = format!("cron-nightly-{secs}");
        poll(Duration::from_secs(20), "the backfilled run", || {
            (job_state(&redis, "reports", &id) == "completed").then_some(())
        });
    }
    let (code, err) = http(
        "POST",
        &url,
        Some(r#"{"from": "2026-01-03T00:00:00Z", "to": "2026-01-01T00:00:00Z"}"#),
        None,
    );
    assert_eq!(code, 400, "{err}");
    assert!(err.contains("from <= to"), "{err}");
    let (code, err) = http(
        "POST",
        &url,
        Some(r#"{"from": "yesterday", "to": "x"}"#),
        None,
    );
    assert_eq!(code, 400);
    assert!(err.contains("RFC 3339"), "{err}");

    let dir = TempDir::new("backfillcli");
    let cfg = dir.write("worker.toml", CONFIG);
    let cli = |from: &str, to: &str| {
        run_worker(
            &[
                "schedules",
                "backfill",
                "nightly",
                "--from",
                from,
                "--to",
                to,
                "--config",
                cfg.to_str().unwrap(),
            ],
            &[("REDIS_URL", &redis.url())],
            dir.path(),
        )
    };
    let (code, out, err) = cli("2026-01-01T00:00:00Z", "2026-01-04T12:00:00Z");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("added 1 run(s) of nightly"),
        "only Jan 4 is new: {out}"
    );
    let (code, _, err) = cli("2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z");
    assert_eq!(code, 1);
    assert!(err.contains("future"), "{err}");
}
