//! BullMQ sandboxed processor files run unchanged by cronq's `node` handler, against the real
//! `bullmq` npm package (tests/compat): ESM and CommonJS files, progress seen by QueueEvents,
//! logs, return values, retries of thrown errors, UnrecoverableError, a timeout, a crash
//! mid-job, the processor loaded once per process; and at SIGTERM the processes end with the
//! daemon.

mod compat_support;
mod support;

use std::time::Duration;

use compat_support::{compat_dir, node};
use nix::sys::signal::Signal;
use support::*;

fn config(queue: &str, file: &str) -> String {
    let file = compat_dir().join("processors").join(file);
    let file = file.display();
    let mut text = String::from("[worker]\nconcurrency = 4\n");
    for name in ["report", "boom", "never", "crash", "hang"] {
        text.push_str(&format!(
            "[queues.{queue}.handlers.{name}]\nnode = {{ file = \"{file}\", instances = 2 }}\n"
        ));
        if name == "hang" {
            text.push_str("timeout = \"1s\"\n");
        }
    }
    text
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

fn scenario(queue: &str, file: &str, kind: &str) {
    let redis = Redis::start();
    let mut daemon = Daemon::start(&redis.url(), &config(queue, file), None, &[]);
    daemon.wait_healthy();
    let out = node("sandboxed.mjs", &redis.url(), &[queue, kind]);
    let line = out
        .lines()
        .find(|l| l.starts_with("{\"pids\""))
        .unwrap_or_else(|| panic!("no pid line in {out}"));
    let pids: Vec<i32> = serde_json::from_str::<serde_json::Value>(line).unwrap()["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap() as i32)
        .collect();
    assert!(
        pids.iter().any(|p| alive(*p)),
        "no processor process is running: {pids:?}"
    );
    // Drain: no job runs, so the processes get TERM right after the pools drain.
    daemon.signal(Signal::SIGTERM);
    assert_eq!(
        daemon.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        daemon.log()
    );
    poll(
        Duration::from_secs(10),
        "processor processes to end",
        || (!pids.iter().any(|p| alive(*p))).then_some(()),
    );
}

#[test]
fn an_esm_processor_file_runs_unchanged() {
    scenario("esm", "email.mjs", "esm");
}

#[test]
fn a_commonjs_processor_file_runs_unchanged() {
    scenario("cjs", "email.cjs", "cjs");
}

#[test]
fn a_module_exports_default_function_is_found() {
    let redis = Redis::start();
    let file = compat_dir().join("processors/default_prop.cjs");
    let config = format!(
        "[queues.dp.handlers.go]\nnode = {{ file = \"{}\" }}\n",
        file.display()
    );
    let daemon = Daemon::start(&redis.url(), &config, None, &[]);
    daemon.wait_healthy();
    let dir = TempDir::new("sandboxed-dp");
    let id = enqueue(&redis, &dir, &config, &["dp", "go"]);
    assert_eq!(
        wait_finished(&redis, "dp", &id, Duration::from_secs(30)),
        "completed"
    );
    let value: serde_json::Value =
        serde_json::from_str(&job_field(&redis, "dp", &id, "returnvalue")).unwrap();
    assert_eq!(value["via"], "module.exports.default");
}

#[test]
fn a_missing_node_is_a_clear_error_at_start_naming_the_handler() {
    let dir = TempDir::new("sandboxed-nonode");
    let file = compat_dir().join("processors/email.mjs");
    let config = format!(
        "[queues.q.handlers.mail]\nnode = {{ file = \"{}\" }}\n",
        file.display()
    );
    dir.write("worker.toml", &config);
    let (code, _out, err) = run_worker(
        &["--config", "worker.toml"],
        &[("PATH", "/nonexistent")],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert!(err.contains("[queues.q.handlers.mail] node"), "{err}");
    assert!(err.contains("node_binary"), "{err}");
}
