//! Bull 3/4 stalled-job recovery across runtimes, against the real `bull` npm package: kill -9
//! cronq or a stock Bull Node worker mid-job, and the other side's stalled check (Bull's shared
//! `stalled` set and lock check) recovers the job and runs it once.

mod compat_support;
mod support;

use support::*;

/// tests/compat/bull/stallworker.mjs as a child; its JSON lines collected; killed on drop.
struct BullWorker {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl BullWorker {
    fn start(redis_url: &str, queue: &str, mode: &str) -> BullWorker {
        use std::io::BufRead;
        let mut child = std::process::Command::new("node")
            .arg("bull/stallworker.mjs")
            .current_dir(compat_support::compat_dir())
            .env("REDIS_URL", redis_url)
            .env("QUEUE", queue)
            .env("MODE", mode)
            .env("LOCK_MS", "2000")
            .env("STALLED_MS", "1000")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node is installed");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let w = BullWorker { child, lines };
        w.wait_for("the Bull worker to be ready", |l| l["ev"] == "ready");
        w
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&serde_json::Value) -> bool) {
        poll(std::time::Duration::from_secs(30), what, || {
            self.lines.lock().unwrap().iter().any(&pred).then_some(())
        });
    }

    fn count(&self, ev: &str, id: &str) -> usize {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter(|l| l["ev"] == ev && l["id"] == id)
            .count()
    }
}

impl Drop for BullWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_active(redis: &Redis, queue: &str, id: &str) -> bool {
    redis
        .cmd(&["LRANGE", &format!("bull:{queue}:active"), "0", "-1"])
        .lines()
        .any(|l| l.trim() == id)
}

#[test]
fn a_job_of_a_killed_cronq_is_finished_once_by_a_bull_node_worker() {
    let redis = Redis::start();
    let config = "[worker]\nlock_duration = \"2s\"\nstalled_interval = \"1s\"\n\
                  [queues.stall1]\nlayout = \"bull\"\n\
                  [queues.stall1.handlers.long]\nbuiltin = \"sleep\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let dir = TempDir::new("bull-stall1");
    let id = enqueue(
        &redis,
        &dir,
        config,
        &["stall1", "long", "--data", r#"{"ms":600000}"#],
    );
    poll(
        std::time::Duration::from_secs(20),
        "cronq to take the job",
        || is_active(&redis, "stall1", &id).then_some(()),
    );
    daemon.signal(nix::sys::signal::Signal::SIGKILL);
    let node = BullWorker::start(&redis.url(), "stall1", "ok");
    node.wait_for("node to finish the stalled job", |l| {
        l["ev"] == "done" && l["id"] == id.as_str()
    });
    assert_eq!(node.count("start", &id), 1);
    assert!(job_field(&redis, "stall1", &id, "returnvalue").contains("\"by\":\"node\""));
}

#[test]
fn a_job_of_a_killed_bull_node_worker_is_finished_once_by_cronq() {
    let redis = Redis::start();
    let mut node = BullWorker::start(&redis.url(), "stall2", "hang");
    let config = "[worker]\nlock_duration = \"2s\"\nstalled_interval = \"1s\"\n\
                  [queues.stall2]\nlayout = \"bull\"\n\
                  [queues.stall2.handlers.long]\nbuiltin = \"echo\"\n";
    let dir = TempDir::new("bull-stall2");
    let id = enqueue(
        &redis,
        &dir,
        config,
        &["stall2", "long", "--data", r#"{"by":"cronq"}"#],
    );
    node.wait_for("node to start the job", |l| {
        l["ev"] == "start" && l["id"] == id.as_str()
    });
    let _ = node.child.kill();
    let _ = node.child.wait();
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    poll(
        std::time::Duration::from_secs(30),
        "cronq to finish the stalled job",
        || {
            let done = redis.cmd(&["ZSCORE", "bull:stall2:completed", &id]);
            (!done.trim().is_empty()).then_some(())
        },
    );
    assert!(job_field(&redis, "stall2", &id, "returnvalue").contains("\"by\":\"cronq\""));
    assert_eq!(job_field(&redis, "stall2", &id, "stalledCounter"), "1");
    assert!(daemon
        .log()
        .contains("stalled job (lock expired) moved back to wait"));
}
