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

#[test]
fn a_crontab_variable_the_kernel_refuses_fails_once_with_a_clear_reason() {
    let redis = Redis::start();
    let huge = "v".repeat(130 * 1024);
    let crontab = format!("HUGE_VAR={huge}\n* * * * * * * echo never\n");
    let d = Daemon::start(&redis.url(), "", Some(&crontab), &[]);
    d.wait_healthy();
    let id = poll(Duration::from_secs(20), "a failed run", || {
        ids_in(&redis, "cron", "failed").into_iter().next()
    });
    let reason = job_field(&redis, "cron", &id, "failedReason");
    assert!(reason.contains("HUGE_VAR"), "{reason}");
    assert!(reason.contains("E2BIG"), "{reason}");
    assert_eq!(job_field(&redis, "cron", &id, "ats"), "1");
}
