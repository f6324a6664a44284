//! The exec baseline: spawns `/bin/sh -c COMMAND` N times from a plain tokio program, at most
//! CONCURRENCY at once, and waits for each; no queue, no pipes, no logs.
//!
//! `bench-spawner N CONCURRENCY [COMMAND] [--piped]` (default `true`) prints
//! `{"n":…,"concurrency":…,"elapsed_ms":…,"per_s":…}`. `--piped` spawns the way cronq's exec
//! handler does (own process group, stdin/stdout/stderr piped and drained, a few env vars), to
//! separate what the handler's semantics cost from what the queue costs.

use std::process::Stdio;
use tokio::process::Command;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: bench-spawner N CONCURRENCY [COMMAND]");
        std::process::exit(2);
    }
    let n: usize = args[1].parse().expect("N is a number");
    let concurrency: usize = args[2].parse().expect("CONCURRENCY is a number");
    let command = args.get(3).cloned().unwrap_or_else(|| "true".into());
    let piped = args.iter().any(|a| a == "--piped");

    let (failed, elapsed) = cronq_bench_baselines::run_bounded(n, concurrency, || {
        let command = command.clone();
        async move {
            if piped {
                run_piped(&command).await
            } else {
                let status = Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&command)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .await;
                matches!(status, Ok(s) if s.success())
            }
        }
    })
    .await;
    let elapsed = elapsed.as_secs_f64();
    println!(
        "{{\"n\":{n},\"concurrency\":{concurrency},\"failed\":{failed},\"elapsed_ms\":{:.1},\"per_s\":{:.1},\"cpu_us_per_job\":{:.1}}}",
        elapsed * 1000.0,
        n as f64 / elapsed,
        self_cpu_s() * 1e6 / n as f64
    );
}

/// What cronq's exec handler does around the process: own process group, JSON on stdin, stdout
/// and stderr read to the end, a few variables in the environment.
async fn run_piped(command: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut child) = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .env("JOB_ID", "1")
        .env("JOB_DATA", "{}")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
    else {
        return false;
    };
    let mut stdin = child.stdin.take().expect("piped");
    tokio::spawn(async move {
        let _ = stdin.write_all(b"{}").await;
    });
    let (mut out, mut err) = (
        child.stdout.take().expect("piped"),
        child.stderr.take().expect("piped"),
    );
    let readers = tokio::spawn(async move {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let _ = tokio::join!(out.read_to_end(&mut a), err.read_to_end(&mut b));
    });
    let status = child.wait().await;
    let _ = readers.await;
    matches!(status, Ok(s) if s.success())
}

/// This process's own user + system CPU seconds (all threads, not the children), from
/// /proc/self/stat, the same reading run.py takes of cronq.
fn self_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, in clock ticks of 1/100 s (USER_HZ on Linux).
    (ticks(11) + ticks(12)) / 100.0
}
