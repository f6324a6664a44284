//! An idle daemon on the embedded store uses no CPU: no fetch loop polls the file. Jobs another
//! process adds (`worker enqueue`) still start promptly (a file-change notification wakes the
//! loop), delayed jobs still run (a timer armed to the next due time), and once they are done
//! the daemon is idle again (no timer left behind).

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::*;

const LIMIT: Duration = Duration::from_secs(20);

/// How long the idle daemon is watched.
const WINDOW: Duration = Duration::from_secs(3);

/// Four queues, as a typical deployment; each loop polling every 250 ms would wake its thread
/// 4 × 4 × 3 = 48 times in the window, and the writer thread as often.
const CONFIG: &str = r#"
[worker]
concurrency = 2
[queues.q1.handlers.echo]
builtin = "echo"
[queues.q2.handlers.echo]
builtin = "echo"
[queues.q3.handlers.echo]
builtin = "echo"
[queues.q4.handlers.echo]
builtin = "echo"
"#;

/// Most context switches allowed over the window, every thread of the daemon together. An idle
/// daemon has none; a few are allowed for things outside the queues (the runtime retiring an
/// idle blocking thread). The 250 ms poll this replaces would make at least 48.
const MAX_SWITCHES: u64 = 10;

/// Most CPU clock ticks (utime + stime, 10 ms each) allowed over the window.
const MAX_TICKS: u64 = 1;

/// CPU ticks (utime + stime, /proc/PID/stat) and context switches of every thread of `pid`.
fn cpu(pid: i32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let after: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks = after[11].parse::<u64>().unwrap() + after[12].parse::<u64>().unwrap();
    let mut switches = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status = task.unwrap().path().join("status");
        // A thread may end between listing and reading.
        let Ok(text) = std::fs::read_to_string(status) else {
            continue;
        };
        for line in text.lines() {
            if line.starts_with("voluntary_ctxt_switches")
                || line.starts_with("nonvoluntary_ctxt_switches")
            {
                switches += line
                    .split_whitespace()
                    .nth(1)
                    .unwrap()
                    .parse::<u64>()
                    .unwrap();
            }
        }
    }
    (ticks, switches)
}

/// The daemon's CPU ticks and context switches over [`WINDOW`] with nothing to do.
fn idle_cost(daemon: &Daemon) -> (u64, u64) {
    let (t0, s0) = cpu(daemon.pid());
    std::thread::sleep(WINDOW); // measuring a duration, not waiting for an event
    let (t1, s1) = cpu(daemon.pid());
    (t1 - t0, s1 - s0)
}

fn cli(dir: &Path, db: &str, cfg: &Path, args: &[&str]) -> String {
    let env = [("CRONQ_DATA", db), ("WORKER_CONFIG", cfg.to_str().unwrap())];
    let (code, out, err) = run_worker(args, &env, dir);
    assert_eq!(code, 0, "worker {args:?}: {err}");
    out
}

fn job(dir: &Path, db: &str, cfg: &Path, queue: &str, id: &str) -> Value {
    serde_json::from_str(&cli(dir, db, cfg, &["job", queue, id, "--json"])).unwrap()
}

fn completed(dir: &Path, db: &str, cfg: &Path, queue: &str, id: &str) -> Value {
    poll(LIMIT, &format!("job {queue}/{id} to complete"), || {
        let j = job(dir, db, cfg, queue, id);
        (j["state"] == "completed").then_some(j)
    })
}

#[test]
fn an_idle_daemon_uses_no_cpu_yet_runs_other_processes_and_delayed_jobs() {
    let dir = TempDir::new("embedded-idle");
    // The file in a folder of its own: the CLI's scratch files stay out of the watched folder.
    let db = dir
        .path()
        .join("data")
        .join("cronq.db")
        .display()
        .to_string();
    let cfg = dir.write("cli.toml", CONFIG);
    let daemon = Daemon::start_embedded(CONFIG, None, &[("CRONQ_DATA", &db)]);
    daemon.wait_healthy();

    let (ticks, switches) = idle_cost(&daemon);
    println!("idle for {WINDOW:?}: {ticks} CPU ticks, {switches} context switches");
    assert!(
        switches <= MAX_SWITCHES && ticks <= MAX_TICKS,
        "an idle daemon woke {switches} times and used {ticks} ticks in {WINDOW:?}"
    );

    // Another process adds a job: the daemon notices without polling.
    let id = cli(
        dir.path(),
        &db,
        &cfg,
        &["enqueue", "q3", "echo", "--data", r#"{"n":1}"#],
    );
    let done = completed(dir.path(), &db, &cfg, "q3", id.trim());
    assert_eq!(done["returnvalue"], serde_json::json!({"n": 1}));
    let waited = done["processedOn"].as_i64().unwrap() - done["timestamp"].as_i64().unwrap();
    println!("a job `worker enqueue` added started {waited} ms after its add");

    // A delayed job runs when due, not before.
    let id = cli(
        dir.path(),
        &db,
        &cfg,
        &["enqueue", "q1", "echo", "--delay", "1500"],
    );
    let done = completed(dir.path(), &db, &cfg, "q1", id.trim());
    let started = done["processedOn"].as_i64().unwrap();
    assert!(
        started >= done["timestamp"].as_i64().unwrap() + 1500,
        "the delayed job ran early: {done}"
    );

    // And nothing keeps ticking afterwards.
    let (ticks, switches) = idle_cost(&daemon);
    println!("idle again: {ticks} CPU ticks, {switches} context switches");
    assert!(
        switches <= MAX_SWITCHES && ticks <= MAX_TICKS,
        "after the jobs, the daemon woke {switches} times and used {ticks} ticks in {WINDOW:?}"
    );
}
