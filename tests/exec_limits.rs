//! The kernel's limits meet job data where it enters (issue 25): data between Linux's 128 KiB
//! per-string limit and the API's 1 MiB used to make every run of an exec handler fail to start
//! (E2BIG on `JOB_DATA`), retried as if transient. It now reaches the command on stdin, with
//! `JOB_DATA_OMITTED=1` and `JOB_DATA_BYTES`; a crontab variable the kernel refuses fails the
//! run at once, without retry, naming the variable.

mod support;

use std::time::Duration;

use support::*;

#[test]
fn data_past_the_environment_limit_runs_on_stdin() {
    let redis = Redis::start();
    let config = "[queues.big.handlers.load]\n\
                  exec = \"echo omitted=${JOB_DATA_OMITTED-no} bytes=$JOB_DATA_BYTES; echo stdin=$(wc -c)\"\n\
                  attempts = 3\n";
    let d = Daemon::start(&redis.url(), config, None, &[]);
    d.wait_healthy();
    let blob = "x".repeat(300 * 1024);
    let body = format!(r#"{{"name":"load","data":{{"blob":"{blob}"}},"jobId":"big-1"}}"#);
    let url = format!("http://127.0.0.1:{}/api/queues/big/jobs", d.port);
    let (code, text) = http("POST", &url, Some(&body), None);
    assert_eq!(code, 201, "{text}");
    assert_eq!(
        wait_finished(&redis, "big", "big-1", Duration::from_secs(20)),
        "completed",
        "{}",
        job_field(&redis, "big", "big-1", "failedReason")
    );
    let bytes = blob.len() + r#"{"blob":""}"#.len();
    let logs = redis.cmd(&["LRANGE", "bull:big:big-1:logs", "0", "-1"]);
    assert_eq!(
        logs,
        format!("omitted=1 bytes={bytes}\nstdin={bytes}"),
        "the command saw the whole data on stdin"
    );
    assert_eq!(job_field(&redis, "big", "big-1", "ats"), "1");
}

/// A crontab variable the kernel would refuse (E2BIG at every run) is caught where it enters:
/// the daemon refuses to start, naming the variable, as `-test` does (`tests/cli.rs`). The
/// run-time guard for what still slips through (a variable from the environment) is
/// `exec_env_tests`.
#[test]
fn a_crontab_variable_the_kernel_refuses_stops_the_start_naming_it() {
    let redis = Redis::start();
    let huge = "v".repeat(130 * 1024);
    let crontab = format!("HUGE_VAR={huge}\n* * * * * * * echo never\n");
    let mut d = Daemon::start(&redis.url(), "", Some(&crontab), &[]);
    assert_eq!(d.wait_exit(Duration::from_secs(20)), 2);
    let log = d.log();
    assert!(log.contains("HUGE_VAR"), "{log}");
    assert!(ids_in(&redis, "cron", "failed").is_empty());
}
