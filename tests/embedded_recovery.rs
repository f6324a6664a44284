//! The embedded store's own guarantees: a daemon killed with SIGKILL mid-job loses nothing (the
//! next start puts the job it left active back, counting a stall, and runs everything pending;
//! past `max_stalled_count` the job fails), the CLI tools never steal a running job, and a
//! second daemon on the same file is refused with a message naming the file.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use support::*;

const LIMIT: Duration = Duration::from_secs(20);

/// A handler whose first run hangs (writing its pid) and whose later runs complete.
fn config(dir: &Path, max_stalled: u32) -> String {
    let flag = dir.join("ran-once").display().to_string();
    let pid = dir.join("hang.pid").display().to_string();
    format!(
        r#"
[worker]
concurrency = 1
max_stalled_count = {max_stalled}
[defaults]
attempts = 2
[queues.work.handlers.hangs-once]
exec = "if [ -e {flag} ]; then echo '{{\"second\":true}}'; else touch {flag}; echo $$ > {pid}; exec sleep 60; fi"
[queues.work.handlers.echo]
builtin = "echo"
"#
    )
}

/// The CLI on the embedded file `db` with `cfg`.
struct Cli<'a> {
    dir: &'a TempDir,
    env: Vec<(&'static str, String)>,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_worker(args, &env, self.dir.path())
    }

    fn enqueue(&self, name: &str) -> String {
        let (code, out, err) = self.run(&["enqueue", "work", name]);
        assert_eq!(code, 0, "{err}");
        out.trim().to_string()
    }

    fn job(&self, id: &str) -> Value {
        let (code, out, err) = self.run(&["job", "work", id, "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    }
}

/// Starts a daemon, runs the hanging job and queues three more, kills the daemon with SIGKILL
/// mid-job; returns the CLI, the hanging job's id and the pending ids.
fn crash_mid_job<'a>(dir: &'a TempDir, cfg: &str) -> (Cli<'a>, String, Vec<String>) {
    let db = dir.path().join("cronq.db").display().to_string();
    let cfg_path = dir.write("cli.toml", cfg);
    let cli = Cli {
        dir,
        env: vec![
            ("CRONQ_DATA", db.clone()),
            ("WORKER_CONFIG", cfg_path.display().to_string()),
        ],
    };
    let mut first = Daemon::start_embedded(cfg, None, &[("CRONQ_DATA", &db)]);
    first.wait_healthy();
    let hung = cli.enqueue("hangs-once");
    let pending: Vec<String> = (0..3).map(|_| cli.enqueue("echo")).collect();
    let pid_file = dir.path().join("hang.pid");
    let pid: i32 = poll(LIMIT, "the handler to start", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    });
    assert_eq!(cli.job(&hung)["state"], "active");
    first.signal(Signal::SIGKILL);
    first.wait_exit(LIMIT);
    // The handler's process group outlives a SIGKILLed daemon; end it (it is ours).
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    // Tools open the file but never recover: the job stays active until a daemon starts.
    assert_eq!(cli.job(&hung)["state"], "active");
    (cli, hung, pending)
}

#[test]
fn sigkill_mid_job_then_restart_runs_the_job_again_and_everything_pending() {
    let dir = TempDir::new("crash");
    let cfg = config(dir.path(), 1);
    let (cli, hung, pending) = crash_mid_job(&dir, &cfg);

    let started = Instant::now();
    let second = Daemon::start_embedded(&cfg, None, &[("CRONQ_DATA", &cli.env[0].1)]);
    let job = poll(LIMIT, "the recovered job to complete", || {
        let j = cli.job(&hung);
        (j["state"] == "completed").then_some(j)
    });
    let recovered_in = started.elapsed();
    println!("kill -9 recovery: the job left active completed {recovered_in:?} after the restart");
    assert_eq!(job["returnvalue"], serde_json::json!({"second": true}));
    assert_eq!(
        job["attemptsMade"], 1,
        "the killed run is a stall, not an attempt: {job}"
    );
    assert_eq!(job["attemptsStarted"], 2, "{job}");
    for id in &pending {
        poll(LIMIT, "pending jobs to complete", || {
            (cli.job(id)["state"] == "completed").then_some(())
        });
    }
    let log = second.log();
    assert!(log.contains("stall counted"), "{log}");
    assert!(log.contains(&format!("\"job_id\":\"{hung}\"")), "{log}");
}

#[test]
fn a_job_stalled_past_max_stalled_count_fails() {
    let dir = TempDir::new("crash-max");
    let cfg = config(dir.path(), 0);
    let (cli, hung, pending) = crash_mid_job(&dir, &cfg);

    let second = Daemon::start_embedded(&cfg, None, &[("CRONQ_DATA", &cli.env[0].1)]);
    second.wait_healthy();
    let job = poll(LIMIT, "the stalled job to fail", || {
        let j = cli.job(&hung);
        (j["state"] == "failed").then_some(j)
    });
    assert_eq!(job["failedReason"], "job stalled more than allowable limit");
    for id in &pending {
        poll(LIMIT, "pending jobs to complete", || {
            (cli.job(id)["state"] == "completed").then_some(())
        });
    }
}

#[test]
fn a_second_daemon_on_the_same_file_is_refused() {
    let dir = TempDir::new("two");
    let cfg = config(dir.path(), 1);
    let db = dir.path().join("cronq.db").display().to_string();
    let first = Daemon::start_embedded(&cfg, None, &[("CRONQ_DATA", &db)]);
    first.wait_healthy();

    let mut second = Daemon::start_embedded(&cfg, None, &[("CRONQ_DATA", &db)]);
    // Refused at start, before it listens: exit 2 naming the file and how to run several.
    let code = second.wait_exit(LIMIT);
    let log = second.log();
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("held by another worker daemon") && log.contains(&db),
        "{log}"
    );
    assert!(
        log.contains("REDIS_URL"),
        "says how to run several daemons: {log}"
    );
    assert_ne!(second.health().map(|(c, _)| c), Some(200), "never healthy");

    // The first daemon is untouched, and the CLI still works beside it.
    let cfg_path = dir.write("cli.toml", &cfg);
    let cli = Cli {
        dir: &dir,
        env: vec![
            ("CRONQ_DATA", db.clone()),
            ("WORKER_CONFIG", cfg_path.display().to_string()),
        ],
    };
    let id = cli.enqueue("echo");
    poll(LIMIT, "the first daemon to run the job", || {
        (cli.job(&id)["state"] == "completed").then_some(())
    });
    assert!(
        !second.log().contains("job started"),
        "the second daemon ran nothing"
    );
}
