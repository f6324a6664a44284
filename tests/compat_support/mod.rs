//! Running the Node side of the interop scenarios (tests/compat/*.mjs, the real `bullmq` npm
//! package installed by `npm ci` in scripts/test.sh): one-shot scripts, and a long-running
//! stock Node `Worker` whose JSON event lines the test reads as they come.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{poll, wait_or_kill};

/// tests/compat, with its node_modules.
pub fn compat_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat");
    assert!(
        dir.join("node_modules/bullmq").is_dir(),
        "tests/compat/node_modules is missing: run `npm ci` in tests/compat (scripts/test.sh does)"
    );
    dir
}

/// Runs `node SCRIPT ARGS…` against `redis_url` to its end (killed after 90 s); returns stdout
/// and panics with both streams when it fails.
pub fn node(script: &str, redis_url: &str, args: &[&str]) -> String {
    let dir = compat_dir();
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(&dir)
        .env("REDIS_URL", redis_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is installed (scripts/test.sh installs it)");
    let out = read_all(child.stdout.take().unwrap());
    let err = read_all(child.stderr.take().unwrap());
    let status = wait_or_kill(
        &mut child,
        Duration::from_secs(90),
        &format!("node {script}"),
    );
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        status.success(),
        "node {script} failed ({status}):\n{err}\nstdout:\n{out}"
    );
    out
}

fn read_all(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = r.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A stock BullMQ Node `Worker` (tests/compat/nodeworker.mjs) as a child process. Its event
/// lines are collected by a reader thread; dropping it kills the process.
pub struct NodeWorker {
    child: Child,
    pub lines: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl NodeWorker {
    /// Starts it on `queue` with `env` (MODE, CONCURRENCY, LOCK_MS, STALLED_MS, COUNT) and waits
    /// until it says it is ready.
    pub fn start(redis_url: &str, queue: &str, env: &[(&str, &str)]) -> NodeWorker {
        let mut child = Command::new("node")
            .arg("nodeworker.mjs")
            .current_dir(compat_dir())
            .env("REDIS_URL", redis_url)
            .env("QUEUE", queue)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node is installed");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let w = NodeWorker { child, lines };
        w.wait_for(
            Duration::from_secs(30),
            "the Node worker to be ready",
            |l| l["ev"] == "ready",
        );
        w
    }

    /// Waits for an event line matching `pred`; returns it.
    pub fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        poll(limit, what, || {
            self.lines.lock().unwrap().iter().find(|l| pred(l)).cloned()
        })
    }

    /// Every `start` line so far.
    pub fn starts(&self) -> Vec<serde_json::Value> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter(|l| l["ev"] == "start")
            .cloned()
            .collect()
    }

    /// kill -9: the job it holds keeps its lock until the lock expires.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeWorker {
    fn drop(&mut self) {
        self.kill();
    }
}
