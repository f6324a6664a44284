//! The embedded store's file going bad under a running daemon is told, not hidden: a deleted
//! file refuses adds (they would land in the unlinked file and be gone at the next start) and
//! `/health` names it; a corrupted file makes `/health` unhealthy with SQLite's words.

mod fault_support;
mod support;

use std::time::Duration;

use support::*;

const CONFIG: &str = r#"
[queues.work.handlers.echo]
builtin = "echo"
"#;

fn add(daemon: &Daemon) -> (u16, String) {
    http(
        "POST",
        &format!("http://127.0.0.1:{}/api/queues/work/jobs", daemon.port),
        Some(r#"{"name":"echo","data":{}}"#),
        None,
    )
}

/// The first unhealthy reason `/health` gives that contains `needle`.
fn unhealthy_reason(daemon: &Daemon, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = daemon.health();
        if let Some((503, body)) = &seen {
            let reason = body["reason"].as_str().unwrap_or_default();
            if reason.contains(needle) {
                return reason.to_string();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/health never said unhealthy with {needle:?}; last: {seen:?}\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Before: adds answered 201 into the unlinked file (gone at the next start) and `/health`
/// said "no answer within 2s". After: adds are refused naming the file, `/health` 503 says why.
#[test]
fn a_deleted_store_file_refuses_adds_and_health_says_so() {
    let dir = TempDir::new("embedded-deleted");
    let db = dir.path().join("cronq.db").display().to_string();
    let daemon = Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", &db)]);
    daemon.wait_healthy();
    assert_eq!(add(&daemon).0, 201);
    std::fs::remove_file(&db).unwrap();
    let (code, text) = add(&daemon);
    assert_ne!(
        code, 201,
        "an add into a deleted file would be lost: {text}"
    );
    assert!(
        text.contains("deleted or replaced") && text.contains(&db),
        "{text}"
    );
    let reason = unhealthy_reason(&daemon, "deleted or replaced");
    assert!(reason.contains(&db), "{reason}");
}

/// Before: every add and listing failed 500 while `/health` answered 200 (its PING was
/// `SELECT 1`, which reads no page). After: 503 with SQLite's own words.
#[test]
fn a_corrupted_store_file_makes_health_unhealthy() {
    let dir = TempDir::new("embedded-corrupt");
    let db = dir.path().join("cronq.db").display().to_string();
    let mut first = Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", &db)]);
    first.wait_healthy();
    assert_eq!(add(&first).0, 201);
    first.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(first.wait_exit(Duration::from_secs(20)), 0);
    // Everything into the main file first (the WAL would otherwise hold the live pages).
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    // Garbage over every page but the first (header and schema), as a bad disk would leave it.
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 4096, "more than one page");
    bytes[4096..].fill(0x5a);
    std::fs::write(&db, bytes).unwrap();
    let daemon = Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", &db)]);
    let reason = unhealthy_reason(&daemon, "malformed");
    assert!(reason.starts_with("embedded:"), "{reason}");
    let (code, text) = add(&daemon);
    assert_ne!(code, 201, "{text}");
}
