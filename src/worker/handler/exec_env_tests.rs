//! What an exec job's environment holds and what its output copies show: the daemon's secrets
//! withheld and redacted (`config::job_env`), and data past the kernel's limits (`limits.rs`).

use std::sync::Arc;

use super::exec::Exec;
use super::limits::MAX_ARG_STRLEN;
use super::test_support::{job, run_exec};
use super::{JobError, RunResult};
use crate::config::{EnvPolicy, Secrets};

async fn run(e: Exec, data: serde_json::Value) -> (RunResult, Vec<String>) {
    run_exec(&e, &job("1", 1, data)).await
}

#[tokio::test]
async fn withheld_variables_are_removed_unless_the_crontab_sets_them_and_secrets_are_redacted() {
    // HOME stands for a withheld secret (it is set in every test environment); the crontab's
    // own LINE_VAR is set whatever the policy says.
    let policy = EnvPolicy {
        remove: vec!["HOME".into(), "LINE_VAR".into()],
        secrets: Arc::new(Secrets::new(["s3cretPW".to_string()])),
    };
    let e = Exec::new(
        "/bin/sh",
        r#"echo "home=${HOME-unset} line=$LINE_VAR path=${PATH:+set}"; echo "url redis://:s3cretPW@h" >&2; exit 1"#,
        vec![("LINE_VAR".into(), "mine".into())],
    )
    .with_policy(policy);
    let (r, lines) = run(e, serde_json::json!({})).await;
    assert_eq!(lines[0], "home=unset line=mine path=set");
    assert_eq!(lines[1], "stderr: url redis://:***@h");
    assert_eq!(
        r,
        Err(JobError::Retryable(
            "exit status 1: url redis://:***@h".into()
        ))
    );
}

#[tokio::test]
async fn data_too_big_for_the_environment_arrives_on_stdin_with_a_marker() {
    let big = "x".repeat(MAX_ARG_STRLEN + 10);
    let cmd = r#"echo "omitted=${JOB_DATA_OMITTED-no} bytes=$JOB_DATA_BYTES env=${#JOB_DATA}"; echo "stdin=$(wc -c)""#;
    let (r, lines) = run(Exec::new("/bin/sh", cmd, vec![]), serde_json::json!(big)).await;
    assert_eq!(r, Ok(serde_json::Value::Null), "{lines:?}");
    let bytes = big.len() + 2;
    assert_eq!(lines[0], format!("omitted=1 bytes={bytes} env=0"));
    assert_eq!(lines[1].replace(' ', ""), format!("stdin={bytes}"));
    // Small data: in the environment as before, no marker.
    let (_, lines) = run(Exec::new("/bin/sh", cmd, vec![]), serde_json::json!("ab")).await;
    assert_eq!(lines[0], "omitted=no bytes=4 env=4");
}

#[tokio::test]
async fn a_crontab_variable_the_kernel_refuses_fails_the_run_without_retry() {
    let big = "v".repeat(MAX_ARG_STRLEN);
    let e = Exec::new("/bin/sh", "true", vec![("HUGE".into(), big)]);
    let (r, _) = run(e, serde_json::json!({})).await;
    assert!(
        matches!(&r, Err(JobError::Fatal(m)) if m.contains("HUGE") && m.contains("E2BIG")),
        "{r:?}"
    );
}

#[tokio::test]
async fn an_e2big_at_start_fails_without_retry() {
    // Each string fits; together they pass ARG_MAX (2 MiB on a default stack limit).
    let env: Vec<(String, String)> = (0..40)
        .map(|i| (format!("PART{i}"), "p".repeat(MAX_ARG_STRLEN - 64)))
        .collect();
    let (r, _) = run(Exec::new("/bin/sh", "true", env), serde_json::json!({})).await;
    assert!(
        matches!(&r, Err(JobError::Fatal(m)) if m.contains("E2BIG")),
        "{r:?}"
    );
}
