//! Events of a `layout = "bull"` queue: cronq's own SSE stream (`/api/events`) serves them
//! from Bull's pub/sub channels in the shapes BullMQ queues have, with ids a reconnecting
//! client resumes from; Bull's `global:*` listeners receive what cronq publishes; and an idle
//! Bull queue costs Redis next to nothing. Each test starts its own redis-server and daemon.

mod compat_support;
mod support;

use support::*;

/// Queue `legacy` in Bull's layout: plain = builtin echo, boom = builtin fail, report = exec
/// that reports progress 50 and returns `{"done":true}`.
const CONFIG: &str = r#"
[worker]
concurrency = 2
lock_duration = "2s"
stalled_interval = "1s"
[queues.legacy]
layout = "bull"
[queues.legacy.handlers.plain]
builtin = "echo"
[queues.legacy.handlers.boom]
builtin = "fail"
[queues.legacy.handlers.report]
exec = '''echo 'cronq:progress 50'; echo '{"done":true}' '''
"#;

fn add(daemon: &Daemon, body: &str) -> String {
    let (code, v) = http_json(
        "POST",
        &format!("http://127.0.0.1:{}/api/queues/legacy/jobs", daemon.port),
        Some(body),
        None,
    );
    assert_eq!(code, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

fn sse(daemon: &Daemon, last: Option<&str>) -> Sse {
    Sse::open(
        &format!("http://127.0.0.1:{}/api/events?queue=legacy", daemon.port),
        last,
        None,
    )
}

/// `(event, jobId)` of each event, in order.
fn pairs(events: &[SseEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|(_, n, d)| (n.clone(), d["jobId"].as_str().unwrap_or("").to_string()))
        .collect()
}

fn order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').expect("an id like <ms>-<seq>");
    (ms.parse().unwrap(), seq.parse().unwrap())
}

#[test]
fn sse_shows_a_bull_queues_events_and_resumes_without_duplicates_or_gaps() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    // Stays connected the whole test: the reference the resumed client is compared with.
    let mut steady = sse(&daemon, None);
    let mut first = sse(&daemon, None);

    let report = add(&daemon, r#"{"name":"report","data":{}}"#);
    let boom = add(
        &daemon,
        r#"{"name":"boom","data":{"reason":"no paper"},"attempts":1}"#,
    );
    let (mut completed, mut failed) = (false, false);
    let events = first.until(|(_, name, data)| {
        completed |= name == "completed" && data["jobId"] == report.as_str();
        failed |= name == "failed" && data["jobId"] == boom.as_str();
        completed && failed
    });
    let of = |id: &str| -> Vec<String> {
        events
            .iter()
            .filter(|(_, _, d)| d["jobId"] == id)
            .map(|(_, n, _)| n.clone())
            .collect()
    };
    assert_eq!(
        of(&report),
        ["waiting", "active", "progress", "completed"],
        "{events:?}"
    );
    assert_eq!(of(&boom), ["waiting", "active", "failed"], "{events:?}");
    let get = |id: &str, name: &str| {
        events
            .iter()
            .find(|(_, n, d)| n == name && d["jobId"] == id)
            .unwrap()
            .2
            .clone()
    };
    assert_eq!(get(&report, "progress")["data"], "50");
    assert_eq!(get(&report, "completed")["returnvalue"], r#"{"done":true}"#);
    assert_eq!(get(&report, "completed")["queue"], "legacy");
    assert_eq!(get(&report, "active")["prev"], "waiting");
    assert!(
        get(&boom, "failed")["failedReason"]
            .as_str()
            .unwrap()
            .contains("no paper"),
        "{events:?}"
    );
    for w in events.windows(2) {
        assert!(order(&w[1].0) > order(&w[0].0), "ids grow: {events:?}");
    }
    let resume_from = events.last().unwrap().0.clone();
    drop(first);

    // Missed while disconnected; delivered on reconnect, once each.
    let later: Vec<String> = (0..3)
        .map(|i| {
            add(
                &daemon,
                &format!(r#"{{"name":"plain","data":{{"i":{i}}}}}"#),
            )
        })
        .collect();
    let last = later.last().unwrap().clone();
    let reference = steady.until(|(_, n, d)| n == "completed" && d["jobId"] == last.as_str());
    let expected: Vec<(String, String)> = pairs(
        &reference
            .iter()
            .filter(|(id, _, _)| order(id) > order(&resume_from))
            .cloned()
            .collect::<Vec<_>>(),
    );
    for id in &later {
        for name in ["waiting", "active", "completed"] {
            assert!(
                expected.contains(&(name.to_string(), id.clone())),
                "{name} of {id} in {expected:?}"
            );
        }
    }
    let mut again = sse(&daemon, Some(&resume_from));
    let resumed = again.until(|(_, n, d)| n == "completed" && d["jobId"] == last.as_str());
    assert_eq!(pairs(&resumed), expected, "no duplicates, no gaps");
    assert!(order(&resumed[0].0) > order(&resume_from));

    // A delayed add is announced too (Bull names no job in it, only the due time).
    add(&daemon, r#"{"name":"plain","data":{},"delay":60000}"#);
    let delayed = again.until(|(_, n, _)| n == "delayed");
    assert!(
        delayed.last().unwrap().2["delay"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
}

/// Calls of every command since the last `CONFIG RESETSTAT` (inside scripts too, as Redis
/// counts them), minus this test's own INFO and the RESETSTAT.
fn commands(redis: &Redis) -> (u64, String) {
    let info = redis.cmd(&["INFO", "commandstats"]);
    let sent = info
        .lines()
        .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum::<u64>()
        .saturating_sub(1);
    (sent, info)
}

#[test]
fn an_idle_bull_queue_sends_redis_almost_nothing() {
    let redis = Redis::start();
    // Default lock and stalled intervals (30 s): an idle queue's only periodic work is the
    // blocking wait and the stalled check.
    let config =
        "[queues.legacy]\nlayout = \"bull\"\n[queues.legacy.handlers.plain]\nbuiltin = \"echo\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    poll(
        std::time::Duration::from_secs(10),
        "the Bull queue's loop to block",
        || {
            let clients = redis.cmd(&["CLIENT", "LIST"]);
            clients.contains("cmd=blmove").then_some(())
        },
    );
    // A measurement window, not a wait for an event: nothing happens in it by design.
    let window = std::time::Duration::from_secs(6);
    redis.cmd(&["CONFIG", "RESETSTAT"]);
    std::thread::sleep(window);
    let (sent, info) = commands(&redis);
    println!("idle Bull queue: {sent} commands in {window:?}\n{info}");
    // Before: a take script every 200 ms and a promote script every 500 ms, each with the
    // commands inside it: 130 in this window (the promote poll alone: 12 scripts of 3
    // commands). Now 4, none of them the queue's; even if a blocking wait's end (every 15 s)
    // and a stalled check (every 30 s) fell in the window, about 14.
    assert!(sent <= 24, "{sent} commands in {window:?}:\n{info}");
}

#[test]
fn bull_global_listeners_get_waiting_active_progress_and_stalled_from_cronq() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    compat_support::node("bull/globals.mjs", &redis.url(), &[]);
}

/// Job metrics of a Bull queue: cronq writes the per-minute series Bull 4 keeps, Node's
/// `getMetrics()` reads it (tests/compat/bull/metrics.mjs), and so do cronq's charts.
#[test]
fn bull_queue_job_metrics_are_written_as_bull_keeps_them_and_charted() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    compat_support::node("bull/metrics.mjs", &redis.url(), &[]);
    let (code, m) = http_json(
        "GET",
        &format!("http://127.0.0.1:{}/api/queues/legacy/metrics", daemon.port),
        None,
        None,
    );
    assert_eq!(code, 200, "{m}");
    assert_eq!(
        (m["completedTotal"].as_u64(), m["failedTotal"].as_u64()),
        (Some(6), Some(2)),
        "{m}"
    );
    let b = m["buckets"].as_array().unwrap();
    let open = open_metrics_minute(&redis, "legacy");
    // The open minute holds the sixth job; the five before it are in earlier minutes.
    assert_eq!(completed_in_minute(&m, open), Some(1), "{m}");
    assert_eq!(completed_before_minute(&m, open), 5, "{m}");
    let failed: u64 = b.iter().map(|x| x["failed"].as_u64().unwrap()).sum();
    assert_eq!(failed, 2, "{m}");
    // Prometheus: the queue's per-state gauges and the runs cronq measured.
    let (_, text) = http(
        "GET",
        &format!("http://127.0.0.1:{}/metrics", daemon.port),
        None,
        None,
    );
    for needle in [
        "cronq_queue_jobs{queue=\"legacy\",state=\"completed\"} 6",
        "cronq_queue_jobs{queue=\"legacy\",state=\"failed\"} 2",
        "cronq_job_duration_seconds_bucket{le=\"+Inf\",queue=\"legacy\",name=\"plain\"} 6",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

/// After a Redis restart the queue's subscription and blocking wait come back by themselves:
/// Bull's global listeners, the delay timer (re-armed by Bull's announcements) and an SSE client
/// connected across the restart all work again.
#[test]
fn after_a_redis_restart_bull_events_delays_and_sse_work_again() {
    let mut redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    let mut steady = sse(&daemon, None);
    redis.restart();
    poll(
        std::time::Duration::from_secs(20),
        "the Bull queue's subscription and blocking wait to come back",
        || {
            let clients = redis.cmd(&["CLIENT", "LIST"]);
            (clients.contains("psub=4") && clients.contains("cmd=blmove")).then_some(())
        },
    );
    compat_support::node("bull/globals.mjs", &redis.url(), &[]);
    let seen = steady.until(|(_, n, _)| n == "completed");
    assert!(
        seen.iter().any(|(_, n, _)| n == "active"),
        "the SSE client kept across the restart sees new events: {seen:?}"
    );
}

/// A Redis without `BLMOVE` (before 6.2; here the command is renamed away): one warning that
/// names the fix, and the queue still runs jobs by polling.
#[test]
fn without_blmove_a_bull_queue_warns_once_and_polls() {
    let redis = Redis::start_with(&["--rename-command", "BLMOVE", ""]);
    let daemon = Daemon::start(&redis.url(), CONFIG, None, &[]);
    daemon.wait_healthy();
    for i in 0..3 {
        let id = add(
            &daemon,
            &format!(r#"{{"name":"plain","data":{{"i":{i}}}}}"#),
        );
        poll(
            std::time::Duration::from_secs(20),
            "the job to complete",
            || {
                let done = redis.cmd(&["ZSCORE", "bull:legacy:completed", &id]);
                (!done.is_empty()).then_some(())
            },
        );
    }
    let log = daemon.log();
    // Counted by line: a JSON line carries its text twice (`msg` and `message`).
    let warnings = log.lines().filter(|l| l.contains("has no BLMOVE")).count();
    assert_eq!(warnings, 1, "{log}");
    assert!(log.contains("upgrade Redis"), "{log}");
}

/// The mapping read against what Bull itself publishes: a stock Bull producer and worker run
/// the jobs (cronq only declares the queue), and cronq's SSE client sees them in BullMQ's shapes.
#[test]
fn sse_maps_events_published_by_bull_itself() {
    let redis = Redis::start();
    let config =
        "[queues.legacy]\nlayout = \"bull\"\n[queues.other.handlers.x]\nbuiltin = \"noop\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let mut client = sse(&daemon, None);
    let out = compat_support::node("bull/eventsworker.mjs", &redis.url(), &[]);
    let ids: serde_json::Value = serde_json::from_str(out.trim()).expect("the ids line");
    let (p, f) = (ids["p"].as_str().unwrap(), ids["f"].as_str().unwrap());
    let (mut done, mut failed) = (false, false);
    let events = client.until(|(_, n, d)| {
        done |= n == "completed" && d["jobId"] == p;
        failed |= n == "failed" && d["jobId"] == f;
        done && failed
    });
    let find = |name: &str, id: &str| {
        events
            .iter()
            .find(|(_, n, d)| n == name && d["jobId"] == id)
            .unwrap_or_else(|| panic!("no {name} of {id} in {events:?}"))
            .2
            .clone()
    };
    find("waiting", p);
    assert_eq!(find("active", p)["prev"], "waiting");
    assert_eq!(find("progress", p)["data"], "42");
    assert_eq!(find("completed", p)["returnvalue"], r#"{"ok":1}"#);
    assert_eq!(find("failed", f)["failedReason"], "bad");
}
