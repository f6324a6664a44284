//! Issue 14 item 10: 10,000 entries due at the same instant. The scheduler used to spawn one
//! task per entry, all talking to the store at once, and `/health` queued behind them (0.7 to
//! 1.2 s at each minute boundary, RSS 50 → 266 MB). Now one task adds the tick's entries, at
//! most 16 at a time. Latency figures are in the README; this test asserts the behaviour,
//! never a speed: while a 10,000-entry tick is held mid-flight (the test holds the embedded
//! store's write lock, so no add can finish), `/health` answers and at most 16 adds are in
//! flight; once the lock is released, every entry of the tick is added.

mod support;

use std::time::Duration;

use chrono::{Timelike, Utc};
use support::*;

const ENTRIES: u64 = 10_000;

fn metric(d: &Daemon, name: &str) -> Option<u64> {
    let (code, body) = http(
        "GET",
        &format!("http://127.0.0.1:{}/metrics", d.port),
        None,
        None,
    );
    if code != 200 {
        return None;
    }
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn health_answers_while_a_ten_thousand_entry_tick_is_mid_flight() {
    // One fixed minute, 30 to 90 s away: no tick can fire before the lock below is held.
    let at = Utc::now() + chrono::Duration::seconds(90);
    let (minute, hour) = (at.minute(), at.hour());
    let mut tab = String::from("CRON_TZ=UTC\n");
    for i in 0..ENTRIES {
        tab.push_str(&format!("{minute} {hour} * * * enqueue bulk job{i}\n"));
    }
    let d = Daemon::start_embedded("", Some(&tab), &[("RUST_LOG", "warn")]);
    d.wait_healthy();
    let db = d.dir.path().join("data/cronq.db");
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();

    let pending = poll(
        Duration::from_secs(120),
        "the tick's 10,000 adds to be pending",
        || metric(&d, "cronq_cron_pending").filter(|n| *n == ENTRIES),
    );
    let (code, body) = d.health().expect("/health answers during the tick");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "healthy", "{body}");
    let in_flight = metric(&d, "cronq_cron_adds_in_flight").unwrap();
    assert!(
        (1..=16).contains(&in_flight),
        "{in_flight} adds in flight: the store must see at most 16 at once"
    );
    assert_eq!(
        metric(&d, "cronq_cron_pending"),
        Some(pending),
        "/health answered while the whole tick was still pending"
    );
    assert_eq!(metric(&d, "cronq_cron_fires_total"), Some(0));

    lock.execute_batch("ROLLBACK").unwrap();
    poll(
        Duration::from_secs(55),
        "every entry of the tick to be added",
        || metric(&d, "cronq_cron_fires_total").filter(|n| *n == ENTRIES),
    );
    assert_eq!(metric(&d, "cronq_cron_pending"), Some(0));
    assert_eq!(metric(&d, "cronq_cron_adds_in_flight"), Some(0));
    let log = d.log();
    assert!(!log.contains("panicked"), "{log}");
}
