//! Pausing one schedule entry (issue 29 point 5): kept in the store, so a pause made through
//! one daemon's API stops the entry on every daemon of the same Redis, and survives a restart
//! on the embedded store; resumed from the CLI; shown by `GET /api/schedules`.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use support::*;

const CONFIG: &str = r#"
[[schedule]]
name = "beat"
cron = "* * * * * * *"
overlap = "allow"
enqueue = { queue = "beats", name = "beat" }
"#;

fn base(d: &Daemon) -> String {
    d.health_url().replace("/health", "")
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn ticks(redis: &Redis) -> BTreeSet<i64> {
    ids_in(redis, "beats", "wait")
        .iter()
        .map(|i| i.rsplit('-').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn a_pause_through_one_replica_stops_the_entry_on_both_and_the_cli_resumes_it() {
    let redis = Redis::start();
    let a = Daemon::start(&redis.url(), CONFIG, None, &[]);
    let b = Daemon::start(&redis.url(), CONFIG, None, &[]);
    a.wait_healthy();
    b.wait_healthy();
    poll(Duration::from_secs(20), "ticks flowing", || {
        (ticks(&redis).len() >= 2).then_some(())
    });
    let body = r#"{"note": "INC-42 disk full"}"#;
    let (code, paused) = http_json(
        "POST",
        &format!("{}/api/schedules/beat/pause", base(&a)),
        Some(body),
        None,
    );
    assert_eq!(code, 200, "{paused}");
    let since_s = paused["since_ms"].as_i64().unwrap() / 1000;
    // Both daemons skip ticks for the pause (whichever would have added them).
    poll(
        Duration::from_secs(20),
        "both replicas skip paused ticks",
        || {
            (a.log().matches("tick skipped: entry paused").count() >= 2
                && b.log().matches("tick skipped: entry paused").count() >= 2)
                .then_some(())
        },
    );
    let after: Vec<i64> = ticks(&redis)
        .into_iter()
        .filter(|t| *t > since_s + 1)
        .collect();
    assert!(after.is_empty(), "ticks added while paused: {after:?}");
    // The other replica's API says so, with the note.
    let (_, rows) = http_json("GET", &format!("{}/api/schedules", base(&b)), None, None);
    assert_eq!(rows[0]["paused"]["note"], "INC-42 disk full", "{rows}");
    // A bad note or an unknown entry are refused with the reason.
    let (code, err) = http(
        "POST",
        &format!("{}/api/schedules/beat/pause", base(&b)),
        Some(r#"{"note":"a\nb"}"#),
        None,
    );
    assert_eq!(code, 400, "{err}");
    assert!(err.contains("one line"), "{err}");
    let (code, _) = http(
        "POST",
        &format!("{}/api/schedules/nope/pause", base(&b)),
        None,
        None,
    );
    assert_eq!(code, 404);

    // Resume from the command line (straight to Redis): ticks come again.
    let dir = TempDir::new("pausecli");
    let cfg = dir.write("worker.toml", CONFIG);
    let resumed_at = now_s();
    let (code, out, err) = run_worker(
        &[
            "schedules",
            "resume",
            "beat",
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[("REDIS_URL", &redis.url())],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("resumed beat"), "{out}");
    poll(Duration::from_secs(20), "a tick after the resume", || {
        ticks(&redis).iter().any(|t| *t > resumed_at).then_some(())
    });
    let (_, rows) = http_json("GET", &format!("{}/api/schedules", base(&a)), None, None);
    assert!(rows[0]["paused"].is_null(), "{rows}");
}

#[test]
fn a_pause_on_the_embedded_store_outlives_a_restart() {
    let dir = TempDir::new("pauseembedded");
    let db = dir.path().join("cronq.db");
    let db = db.to_str().unwrap();
    let mut first = Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", db)]);
    first.wait_healthy();
    let (code, body) = http(
        "POST",
        &format!("{}/api/schedules/beat/pause", base(&first)),
        None,
        None,
    );
    assert_eq!(code, 200, "{body}");
    first.signal(Signal::SIGTERM);
    assert_eq!(first.wait_exit(Duration::from_secs(30)), 0);

    let second = Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", db)]);
    second.wait_healthy();
    let (_, rows) = http_json(
        "GET",
        &format!("{}/api/schedules", base(&second)),
        None,
        None,
    );
    assert!(rows[0]["paused"]["since_ms"].as_i64().is_some(), "{rows}");
    poll(
        Duration::from_secs(20),
        "paused ticks skipped after the restart",
        || (second.log().matches("tick skipped: entry paused").count() >= 2).then_some(()),
    );
    let (code, body) = http_json(
        "POST",
        &format!("{}/api/schedules/beat/resume", base(&second)),
        None,
        None,
    );
    assert_eq!(
        (code, body["was_paused"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
}
