//! What an idle daemon costs Redis (issue 18), and that the savings keep the guarantees: a job
//! a Node producer adds to an idle queue starts at once, and an idle daemon still stops at once
//! on SIGTERM (the long idle block is ended by `close`).

mod compat_support;
mod support;

use std::time::{Duration, Instant};

use compat_support::node;
use nix::sys::signal::Signal;
use support::*;

const QUEUES: [&str; 4] = ["q1", "q2", "q3", "q4"];

fn config() -> String {
    let mut text = String::from("[worker]\nconcurrency = 2\n");
    for q in QUEUES {
        text += &format!("[queues.{q}.handlers.noop]\nbuiltin = \"noop\"\n");
    }
    text
}

/// Calls of every command since the last `CONFIG RESETSTAT` (inside scripts too: that is what
/// Redis does, and what a per-command bill counts), minus this test's own INFO.
fn commands(redis: &Redis) -> u64 {
    let info = redis.cmd(&["INFO", "commandstats"]);
    info.lines()
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
        .saturating_sub(1) // the CONFIG RESETSTAT itself
}

#[test]
fn an_idle_daemon_sends_few_commands_and_still_starts_a_node_job_at_once() {
    let redis = Redis::start();
    let mut daemon = Daemon::start(&redis.url(), &config(), None, &[]);
    daemon.wait_healthy();
    // Every queue's loop has fetched once and blocks: from here on it is idle.
    poll(
        Duration::from_secs(10),
        "every queue's loop to block",
        || {
            let clients = redis.cmd(&["CLIENT", "LIST"]);
            (clients.matches("cmd=bzpopmin").count() >= QUEUES.len()).then_some(())
        },
    );

    // A measurement window, not a wait for an event: nothing happens in it by design.
    let window = Duration::from_secs(10);
    redis.cmd(&["CONFIG", "RESETSTAT"]);
    std::thread::sleep(window);
    let sent = commands(&redis);
    let per_s_per_queue = sent as f64 / window.as_secs_f64() / QUEUES.len() as f64;
    println!(
        "idle: {sent} commands in {window:?} for {} queues ({per_s_per_queue:.2} per second per queue)",
        QUEUES.len()
    );
    // Before issue 18: about 4.3 per second per queue (a fetch script and a 2 s block each).
    // Now about 0 in this window (the block is 30 s). Far from both.
    assert!(per_s_per_queue < 1.0, "{sent} commands in {window:?}");

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
