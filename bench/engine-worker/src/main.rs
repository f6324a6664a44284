//! The bare-engine contender: a plain `bullmq-official` Worker whose processor returns at once.
//!
//! `bench-engine-worker REDIS_URL QUEUE CONCURRENCY [N] [stamp|exec]`
//!
//! With `stamp`, the processor returns `{"t":MS}`, the wall-clock time (ms, sub-ms
//! resolution) at which it was called: the job's return value then says when it started.
//! With `exec`, it runs `/bin/sh -c true` (plain tokio spawn, no pipes) and returns when that
//! exits: the best any BullMQ-based exec runner could do, for the exec benchmark.
//!
//! Prints `ready` once the worker runs, then exits after N jobs completed (N = 0: runs until
//! SIGTERM/SIGINT), printing `{"completed":…,"elapsed_ms":…}` (elapsed from ready, for
//! information only: run.py times every contender from the jobs' own timestamps in Redis).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bullmq::options::RedisConnectionOptions;
use bullmq::worker::{CancellationToken, WorkerEvent};
use bullmq::{Job, Worker, WorkerOptions};
use tokio::signal::unix::{signal, SignalKind};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: bench-engine-worker REDIS_URL QUEUE CONCURRENCY [N]");
        std::process::exit(2);
    }
    let (url, queue) = (&args[1], &args[2]);
    let concurrency: usize = args[3].parse().expect("CONCURRENCY is a number");
    let n: u64 = args.get(4).map_or(0, |s| s.parse().expect("N is a number"));
    let stamp = args.get(5).is_some_and(|s| s == "stamp");
    let exec = args.get(5).is_some_and(|s| s == "exec");

    let opts = WorkerOptions::new()
        .connection(RedisConnectionOptions::new().url(url.clone()))
        .concurrency(concurrency);
    let worker = Worker::with_options(
        queue,
        move |_job: Job, _cancel: CancellationToken| async move {
            if exec {
                let status = tokio::process::Command::new("/bin/sh")
                    .args(["-c", "true"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .await;
                return match status {
                    Ok(s) if s.success() => Ok(serde_json::Value::Null),
                    _ => Err(bullmq::Error::ProcessingError("sh -c true failed".into())),
                };
            }
            if !stamp {
                return Ok(serde_json::Value::Null);
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            Ok(serde_json::json!({ "t": now.as_secs_f64() * 1000.0 }))
        },
        opts,
    )
    .await
    .expect("starting the worker");
    let started = Instant::now();
    println!("ready");

    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut completed = 0u64;
    loop {
        tokio::select! {
            event = worker.next_event() => match event {
                Some(WorkerEvent::Completed { .. }) => {
                    completed += 1;
                    if n > 0 && completed >= n {
                        break;
                    }
                }
                Some(WorkerEvent::Closed) | None => break,
                Some(_) => {}
            },
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!("{{\"completed\":{completed},\"elapsed_ms\":{elapsed_ms:.1}}}");
    let _ = worker.close(5_000).await;
}
