//! Test support for `worker [FLAGS] CRONTAB` run the way Supercronic is: on the embedded store,
//! stdout and stderr kept in files, and a look at a process's children in /proc.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::{free_port, wait_or_kill, worker_bin, TempDir};

/// `worker ARGS… CRONTAB` as a child with its stdout and stderr in files.
pub struct Cron {
    child: Option<Child>,
    pub dir: TempDir,
    out: PathBuf,
    err: PathBuf,
}

impl Cron {
    pub fn start(args: &[&str], crontab: &str, env: &[(&str, &str)]) -> Cron {
        Cron::wrapped(&[], args, crontab, env)
    }

    /// Through `wrapper` (e.g. unshare), which gets the worker path after its own arguments.
    pub fn wrapped(wrapper: &[&str], args: &[&str], crontab: &str, env: &[(&str, &str)]) -> Cron {
        let dir = TempDir::new("supercronic");
        let tab = dir.write("crontab", crontab);
        let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
        let mut cmd = match wrapper.split_first() {
            None => Command::new(worker_bin()),
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(worker_bin());
                c
            }
        };
        cmd.args(args)
            .arg(&tab)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CRONQ_DATA", dir.path().join("cronq.db"))
            .env("WORKER_LISTEN", format!("127.0.0.1:{}", free_port()))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        Cron {
            child: Some(cmd.spawn().unwrap()),
            dir,
            out,
            err,
        }
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// The log as JSON objects (run with `-json`); a line that is not JSON fails the test.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stderr()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
            .collect()
    }

    /// Job output lines (`-json`): (channel, job_id, text).
    pub fn output(&self) -> Vec<(String, String, String)> {
        self.json()
            .into_iter()
            .filter(|v| v.get("channel").is_some())
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                (s("channel"), s("job_id"), s("message"))
            })
            .collect()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }

    pub fn wait_exit(&mut self, limit: Duration) -> i32 {
        let mut child = self.child.take().unwrap();
        wait_or_kill(&mut child, limit, "worker")
            .code()
            .unwrap_or(-1)
    }
}

impl Drop for Cron {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// (pid, state) of every process whose parent is `parent`.
pub fn children_of(parent: i32) -> Vec<(i32, char)> {
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if f.next().and_then(|p| p.parse::<i32>().ok()) == Some(parent) {
            kids.push((pid, state));
        }
    }
    kids
}
