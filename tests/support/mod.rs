//! Test support: polling with deadlines (never sleeps that "wait for" something), scratch
//! directories, one-shot `worker` runs and the PID 1 probe here; a private `redis-server` in
//! [`redis`], the daemon in [`daemon`], HTTP (client and stub server) in [`http`],
//! and the daemon-on-a-store setup shared by the API and store suites in [`stack`].
#![allow(dead_code, unreachable_pub, missing_docs, unused_imports)]

mod daemon;
mod http;
mod redis;
mod stack;

pub use self::daemon::*;
pub use self::http::*;
pub use self::redis::*;
pub use self::stack::*;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound then released; the OS does not hand it out again at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 25 ms until it returns `Some`, or panics with `what` after `limit`.
pub fn poll<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("cronq-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits for `child` to exit; after `limit` kills it (a test never hangs, nor leaves it behind)
/// and panics naming `what`.
pub fn wait_or_kill(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `worker ARGS…` to completion with `env` (killed after 30 s: a test never hangs);
/// returns (exit code, stdout, stderr).
pub fn run_worker(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> (i32, String, String) {
    let out_path = cwd.join(format!(".out-{}", free_port()));
    let err_path = cwd.join(format!(".err-{}", free_port()));
    let mut child = Command::new(worker_bin())
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status = wait_or_kill(
        &mut child,
        Duration::from_secs(30),
        &format!("worker {args:?}"),
    );
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let (out, err) = (read(&out_path), read(&err_path));
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    (status.code().unwrap_or(-1), out, err)
}

/// Whether this process runs as root (effective uid 0, from `Uid: real effective …` in
/// /proc/self/status).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// For the PID 1 tests: true when `unshare --pid --fork --mount-proc` works here. As root (CI)
/// it must: a refusal fails the test instead of skipping it. Not root, it says on stderr that
/// `tag` is skipped and returns false.
pub fn pid_namespace_or_skip(tag: &str) -> bool {
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "--mount-proc", "true"])
        .status();
    if probe.as_ref().map(|s| s.success()).unwrap_or(false) {
        return true;
    }
    assert!(
        !is_root(),
        "{tag}: running as root, yet `unshare --pid --fork --mount-proc` was refused: {probe:?}"
    );
    eprintln!("{tag}: SKIPPED: not root, so unshare --pid is not permitted");
    false
}
