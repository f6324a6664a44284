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
    // The lock file gets the holder (`pid N on host H`) once its lock is taken (at start).
    let lock = data.path().join("jobs.db.lock");
    poll(LIMIT, "the first daemon to take the file's lock", || {
        let pid = std::fs::read_to_string(&lock).ok()?;
        pid.starts_with(&format!("pid {} ", first.pid()))
            .then_some(())
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

/// 25.27: two daemons started in the same instant on one file. The start check used to read
/// who held the lock, so both could pass it and the loser waited as a silent standby; now the
/// check is taking the lock, so in every round exactly one runs and the other exits 2.
#[test]
fn two_daemons_starting_at_once_on_one_file_exactly_one_runs() {
    const ROUNDS: usize = 10;
    for round in 0..ROUNDS {
        let data = TempDir::new("single-race");
        let db = data.path().join("jobs.db");
        let db_arg = db.to_str().unwrap();
        let mut pair = [
            Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", db_arg)]),
            Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", db_arg)]),
        ];
        // Whichever lost exits; which one is up to the kernel.
        let loser = poll(LIMIT, "one of the two daemons to exit", || {
            pair.iter_mut().position(|d| d.try_exit().is_some())
        });
        let winner = 1 - loser;
        let code = pair[loser].try_exit().unwrap();
        let log = pair[loser].log();
        assert_eq!(code, 2, "round {round}: the loser exits 2; log: {log}");
        assert!(
            log.contains("already in use") && log.contains(&format!("pid {}", pair[winner].pid())),
            "round {round}: the refusal says the file is in use and names the holder: {log}"
        );
        pair[winner].wait_healthy();
        assert!(
            pair[winner].try_exit().is_none(),
            "round {round}: the winner keeps running; log: {}",
            pair[winner].log()
        );
    }
}
