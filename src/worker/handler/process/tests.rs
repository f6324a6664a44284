//! The pool against a real line-protocol process (tests/fixtures/process/consumer.py): answers,
//! stays across jobs, and is replaced when it crashes, hangs, breaks the protocol or passes its
//! limits, the job failing by the usual rules each time.

use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Pool;
use crate::config::{EnvPolicy, ProcessProgram, ProcessSpec, Secrets};
use crate::worker::handler::test_support::cancel_once_logged;
use crate::worker::handler::{JobError, JobInput, LogSender, PrintingRun, RunResult};

fn consumer() -> String {
    format!(
        "exec python3 -u {}/tests/fixtures/process/consumer.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn pool(instances: Option<usize>, max_jobs: Option<u64>, max_memory_mib: Option<u64>) -> Pool {
    let spec = ProcessSpec {
        label: "queues.q.handlers.n".into(),
        program: ProcessProgram::Shell {
            command: consumer(),
        },
        instances: instances.and_then(NonZeroUsize::new),
        max_jobs,
        max_memory_mib,
    };
    let policy = EnvPolicy {
        remove: Vec::new(),
        secrets: Arc::new(Secrets::new(["hunter2-very-secret".to_string()])),
    };
    Pool::new(spec, policy)
}

fn job(id: u32, data: serde_json::Value) -> JobInput {
    crate::worker::handler::test_support::job(&id.to_string(), 2, data)
}

/// Runs one job; its result and log lines.
async fn run_with(
    pool: &Pool,
    j: JobInput,
    cancel: &CancellationToken,
) -> (RunResult, Vec<String>) {
    let (tx, mut rx) = mpsc::channel(1000);
    let logs = LogSender::quiet(tx);
    let r = pool
        .run(PrintingRun {
            job: &j,
            logs: &logs,
            cancel,
        })
        .await;
    let mut lines = Vec::new();
    while let Ok(l) = rx.try_recv() {
        lines.push(l);
    }
    (r, lines)
}

async fn run(pool: &Pool, id: u32, data: serde_json::Value) -> (RunResult, Vec<String>) {
    run_with(pool, job(id, data), &CancellationToken::new()).await
}

fn pid(r: &RunResult) -> u64 {
    r.as_ref().expect("completed")["pid"].as_u64().unwrap()
}

#[tokio::test]
async fn one_process_answers_twenty_jobs_with_progress_logs_and_results() {
    let p = pool(None, None, None);
    let (first, logs) = run(&p, 1, serde_json::json!({"x": 1})).await;
    assert_eq!(first.as_ref().unwrap()["data"], serde_json::json!({"x": 1}));
    assert_eq!(first.as_ref().unwrap()["attemptsMade"], 1);
    assert_eq!(
        logs,
        vec!["cronq:progress 50".to_string(), "working on 1".into()]
    );
    for i in 2..=20 {
        let (r, _) = run(&p, i, serde_json::json!({})).await;
        assert_eq!(pid(&r), pid(&first), "job {i} ran in another process");
    }
}

#[tokio::test]
async fn errors_are_retryable_unless_unrecoverable_and_the_process_stays() {
    let p = pool(None, None, None);
    let (before, _) = run(&p, 1, serde_json::json!({})).await;
    let (r, logs) = run(&p, 2, serde_json::json!({"do": "fail"})).await;
    assert_eq!(r, Err(JobError::Retryable("it broke".into())));
    assert!(
        logs.contains(&"stack: Error: it broke".to_string()),
        "{logs:?}"
    );
    let (r, _) = run(&p, 3, serde_json::json!({"do": "never"})).await;
    assert_eq!(r, Err(JobError::Fatal("bad input".into())));
    let (after, _) = run(&p, 4, serde_json::json!({})).await;
    assert_eq!(pid(&after), pid(&before));
}

/// On a fresh pool: a plain job, then one with `data`, then a plain one again. The middle run's
/// result and logs, and whether the last job ran in a new process (the middle one's replaced).
async fn between_plain_jobs(data: serde_json::Value) -> (RunResult, Vec<String>, bool) {
    let p = pool(None, None, None);
    let (before, _) = run(&p, 1, serde_json::json!({})).await;
    let (r, logs) = run(&p, 2, data).await;
    let (after, _) = run(&p, 3, serde_json::json!({})).await;
    (r, logs, pid(&after) != pid(&before))
}

#[tokio::test]
async fn a_crash_mid_job_is_retryable_with_its_stderr_and_the_next_job_gets_a_new_process() {
    let (r, logs, replaced) = between_plain_jobs(serde_json::json!({"do": "crash"})).await;
    let says = |m: &str| m.contains("exit status 3") && m.contains("about to crash");
    assert!(
        matches!(&r, Err(JobError::Retryable(m)) if says(m)),
        "{r:?}"
    );
    assert!(
        logs.contains(&"stderr: about to crash".to_string()),
        "{logs:?}"
    );
    assert!(replaced, "the crashed process was replaced");
}

#[tokio::test]
async fn a_line_that_is_not_json_fails_the_job_naming_it_and_the_process_is_replaced() {
    let (r, _, replaced) = between_plain_jobs(serde_json::json!({"do": "garbage"})).await;
    let says =
        |m: &str| m.contains("queues.q.handlers.n") && m.contains("Warning: \\u{1b}[31m not json");
    assert!(matches!(&r, Err(JobError::Fatal(m)) if says(m)), "{r:?}");
    assert!(replaced, "the process that broke the protocol was replaced");
}

#[tokio::test]
async fn a_hung_job_is_cancelled_its_process_ended_and_replaced() {
    let p = pool(Some(1), None, None);
    let (before, _) = run(&p, 1, serde_json::json!({})).await;
    let j = job(2, serde_json::json!({"do": "hang"}));
    // Cancel (as a timeout does) once the process says it hangs.
    let r = cancel_once_logged(&p, &j, "hanging", |p, run| Box::pin(p.run(run))).await;
    assert_eq!(r, Err(JobError::Cancelled));
    let old = pid(&before) as i32;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while super::memory::group_alive_pid(old) {
        assert!(
            std::time::Instant::now() < deadline,
            "the hung process outlived its job"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // With instances = 1, the next job gets the only slot back, on a new process.
    let (after, _) = run(&p, 3, serde_json::json!({})).await;
    assert_ne!(pid(&after), pid(&before));
}

#[tokio::test]
async fn max_jobs_replaces_the_process_after_that_many_jobs() {
    let p = pool(None, Some(3), None);
    let mut pids = Vec::new();
    for i in 0..6 {
        pids.push(pid(&run(&p, i, serde_json::json!({})).await.0));
    }
    assert_eq!(pids[0], pids[2]);
    assert_ne!(pids[2], pids[3]);
    assert_eq!(pids[3], pids[5]);
}

#[tokio::test]
async fn max_memory_replaces_a_process_that_grew_past_it() {
    let p = pool(None, None, Some(48));
    let (small, _) = run(&p, 1, serde_json::json!({})).await;
    let (same, _) = run(&p, 2, serde_json::json!({})).await;
    assert_eq!(pid(&small), pid(&same), "a small process was replaced");
    let (grown, _) = run(&p, 3, serde_json::json!({"do": "grow"})).await;
    assert_eq!(pid(&grown), pid(&small));
    let (after, _) = run(&p, 4, serde_json::json!({})).await;
    assert_ne!(pid(&after), pid(&grown), "a process over max_memory stayed");
}

#[tokio::test]
async fn secrets_are_hidden_in_what_the_process_prints() {
    let p = pool(None, None, None);
    let (r, logs) = run(&p, 1, serde_json::json!({"do": "secret"})).await;
    assert!(r.is_ok());
    // The log message is ordered before the answer; the stderr line may come after it (two
    // pipes), and then goes to the daemon's log only: redacted wherever it lands.
    assert!(logs.contains(&"log says ***".to_string()), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains("hunter2")), "{logs:?}");
}

#[tokio::test]
async fn instances_bounds_the_processes_of_concurrent_jobs() {
    let p = pool(Some(2), None, None);
    let runs = (0..8).map(|i| run(&p, i, serde_json::json!({})));
    let results = futures::future::join_all(runs).await;
    let pids: std::collections::BTreeSet<u64> = results.iter().map(|(r, _)| pid(r)).collect();
    assert!(!pids.is_empty() && pids.len() <= 2, "{pids:?}");
}
