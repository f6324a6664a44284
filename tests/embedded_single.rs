//! One daemon per embedded store file: a second daemon started on a file another daemon
//! consumes exits 2 at start with a message naming the file's absolute path, instead of waiting
//! as a standby; the first daemon keeps serving.

mod support;

use std::time::Duration;

use support::*;

const LIMIT: Duration = Duration::from_secs(20);

const CONFIG: &str = r#"
[queues.q.handlers.echo]
builtin = "echo"
"#;

#[test]
fn a_second_daemon_on_the_same_file_exits_2_naming_the_file() {
    let data = TempDir::new("single");
    let db = data.path().join("jobs.db");
    let db_arg = db.to_str().unwrap();
    let first = Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", db_arg)]);
    first.wait_healthy();
    // The lock file gets the holder's pid once its lock is taken (its first consume).
    let lock = data.path().join("jobs.db.lock");
    poll(LIMIT, "the first daemon to take the file's lock", || {
        let pid = std::fs::read_to_string(&lock).ok()?;
        (pid.trim() == first.pid().to_string()).then_some(())
    });

    let mut second = Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", db_arg)]);
    assert_eq!(second.wait_exit(LIMIT), 2, "log: {}", second.log());
    let log = second.log();
    let absolute = std::fs::canonicalize(&db).unwrap();
    assert!(
        log.contains(absolute.to_str().unwrap()) && log.contains("another worker daemon"),
        "the refusal names the file's absolute path and the holder: {log}"
    );
    assert!(
        log.contains(&format!("pid {}", first.pid())),
        "names the holder's pid: {log}"
    );

    let (code, _) = first.health().expect("the first daemon still answers");
    assert_eq!(code, 200, "the first daemon keeps serving");
}
