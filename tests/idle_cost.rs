//! What an idle daemon costs Redis (issue 18), and that the savings keep the guarantees: a job
//! a Node producer adds to an idle queue starts at once, and an idle daemon still stops at once
//! on SIGTERM (the long idle block is ended by `close`).

mod compat_support;
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use compat_support::node;
use nix::sys::signal::Signal;
use support::*;

const QUEUES: [&str; 4] = ["q1", "q2", "q3", "q4"];

/// Short, so a window holds many stalled checks: the engine's per-queue checks (and the
/// per-queue sweep gates) of the old code add up fast, the store's one gate does not.
const STALLED_INTERVAL: Duration = Duration::from_secs(1);

/// The identity heartbeat's refresh (`identity.rs`): two commands each.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

fn config() -> String {
    let mut text = format!(
        "[worker]\nconcurrency = 2\nstalled_interval = \"{}s\"\n",
        STALLED_INTERVAL.as_secs()
    );
    for q in QUEUES {
        text += &format!("[queues.{q}.handlers.noop]\nbuiltin = \"noop\"\n");
    }
    text
}

/// Calls of each command since the last `CONFIG RESETSTAT` (inside scripts too: that is what
/// Redis does, and what a per-command bill counts), minus this test's own INFO and RESETSTAT.
fn commands(redis: &Redis) -> BTreeMap<String, u64> {
    let info = redis.cmd(&["INFO", "commandstats"]);
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_string(), calls))
        })
        .filter(|(name, _)| name != "info" && name != "config|resetstat")
        .collect()
}

#[test]
fn an_idle_daemon_sends_few_commands_and_still_starts_a_node_job_at_once() {
    let redis = Redis::start();
    let mut daemon = Daemon::start(&redis.url(), &config(), None, &[]);
    daemon.wait_healthy();
    // From here on the daemon is idle.
    // Idle queues start idle (issue 26): one shared wait blocks on every queue's marker.
    poll(
        Duration::from_secs(10),
        "the idle queues' shared wait to block",
        || {
            let clients = redis.cmd(&["CLIENT", "LIST"]);
            (clients.matches("cmd=bzpopmin").count() >= 1).then_some(())
        },
    );

    // A measurement window, not a wait for an event: nothing happens in it by design.
    let window = Duration::from_secs(8);
    redis.cmd(&["CONFIG", "RESETSTAT"]);
    std::thread::sleep(window);
    let by_command = commands(&redis);
    let sent: u64 = by_command.values().sum();
    println!(
        "idle: {sent} commands in {window:?} for {} queues, stalled interval {STALLED_INTERVAL:?}: {by_command:?}",
        QUEUES.len()
    );
    // Idle, no script runs at all: no stalled check, no sweep, no fetch (the block is 4 min).
    // Before: the engine's stalled-check script, per queue per interval.
    let scripts = ["evalsha", "eval"]
        .iter()
        .map(|c| by_command.get(*c).copied().unwrap_or(0))
        .sum::<u64>();
    assert_eq!(scripts, 0, "scripts ran while idle: {by_command:?}");
    // What is left, counted by timers and not by speed (a slow machine only sends fewer):
    // one EXISTS per stalled interval for all queues together, two commands per heartbeat,
    // one tick of slack for each timer at the window's edges, and each queue's first check
    // (one EXISTS, at once when its consumer starts: it may land late on a loaded machine).
    // Before: 4 queues × (the stalled script, ~7 commands, plus 2 sweep gates) per interval:
    // about 250 here.
    let ticks = window.as_secs().div_ceil(STALLED_INTERVAL.as_secs()) + 1;
    let beats = window.as_secs().div_ceil(HEARTBEAT_EVERY.as_secs()) + 1;
    let allowed = ticks + 2 * beats + QUEUES.len() as u64;
    assert!(
        sent <= allowed,
        "{sent} commands in {window:?} (allowed {allowed}): {by_command:?}"
    );

    // A job a Node producer adds to the idle queue starts promptly: its marker ends the block.
    let out = node("add.mjs", &redis.url(), &["q3", "noop", "1"]);
    let ids: Vec<String> = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let id = &ids[0];
    assert_eq!(
        wait_finished(&redis, "q3", id, Duration::from_secs(10)),
        "completed"
    );
    let added: i64 = job_field(&redis, "q3", id, "timestamp").parse().unwrap();
    let started: i64 = job_field(&redis, "q3", id, "processedOn").parse().unwrap();
    println!(
        "node-added job started {} ms after it was added",
        started - added
    );
    // Generous against a loaded machine; the idle block it ends is 30 s.
    assert!(
        started - added < 2000,
        "started {} ms after added",
        started - added
    );

    // SIGTERM: `close` ends every idle block, so the daemon does not wait 30 s for them.
    let asked = Instant::now();
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(25)), 0);
    println!("idle daemon stopped {:?} after SIGTERM", asked.elapsed());
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
}

/// A `/health` probe used to count every queue (two commands plus seven per queue: 30 here).
/// Now an idle probe asks one `EXISTS` (is any silent queue's `wait` or `prioritized` not
/// empty?) and reuses counts up to 30 s old; and the verdict still finds a stuck queue: jobs
/// ready that no fetch takes (here: a job pushed to `wait` without BullMQ's marker, so the
/// queue's loop stays blocked).
#[test]
fn health_probes_cost_little_and_still_find_a_stuck_queue() {
    let redis = Redis::start();
    // A short lock: a queue is called stuck once its loop was silent that long.
    let config = config().replacen(
        "stalled_interval",
        "lock_duration = \"1s\"\nstalled_interval",
        1,
    );
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    // Idle queues start idle (issue 26): one shared wait blocks on every queue's marker.
    poll(
        Duration::from_secs(10),
        "the idle queues' shared wait to block",
        || {
            let clients = redis.cmd(&["CLIENT", "LIST"]);
            (clients.matches("cmd=bzpopmin").count() >= 1).then_some(())
        },
    );
    // The first probe counts every queue (nothing cached yet).
    assert_eq!(daemon.health().expect("health answers").0, 200);

    let probes = 10u64;
    redis.cmd(&["CONFIG", "RESETSTAT"]);
    let started = Instant::now();
    for _ in 0..probes {
        let (code, body) = daemon.health().expect("health answers");
        assert_eq!(code, 200, "{body}");
        assert!(body["queues"]["q1"]["waiting"].is_u64(), "{body}");
    }
    let took = started.elapsed();
    let by_command = commands(&redis);
    let sent: u64 = by_command.values().sum();
    println!("{probes} probes in {took:?}: {sent} commands: {by_command:?}");
    // Per probe ROLE + PING + one EXISTS; besides, the idle daemon's own traffic in the window
    // (see the test above) with slack for each timer's edges. Before: 30 per probe.
    let ticks = took.as_secs().div_ceil(STALLED_INTERVAL.as_secs()) + 1;
    let beats = took.as_secs().div_ceil(HEARTBEAT_EVERY.as_secs()) + 1;
    let allowed = probes * 3 + ticks + 2 * beats + QUEUES.len() as u64;
    assert!(
        sent <= allowed,
        "{sent} commands for {probes} probes (allowed {allowed}): {by_command:?}"
    );

    // A job in `wait` with no marker: the idle loops stay blocked, and once the lock duration
    // has passed with q2's loop silent, /health says which queue is stuck.
    redis.cmd(&[
        "HSET",
        "bull:q2:lost",
        "name",
        "noop",
        "data",
        "{}",
        "opts",
        "{}",
        "timestamp",
        "1",
    ]);
    redis.cmd(&["LPUSH", "bull:q2:wait", "lost"]);
    let body = poll(Duration::from_secs(15), "/health to name q2 stuck", || {
        let (code, body) = daemon.health()?;
        (code == 503).then_some(body)
    });
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("queue q2") && reason.contains("1 jobs ready"),
        "{body}"
    );
}
