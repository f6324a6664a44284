//! The `worker` binary as a daemon child process: its own directory, port and log file, and
//! waiting until `/health` says healthy.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::http::http_get;
use super::{free_port, poll, TempDir};

/// A `worker` daemon child process with its own config dir, port and log file.
pub struct Daemon {
    pub port: u16,
    pub dir: TempDir,
    child: Option<Child>,
    log: PathBuf,
    /// Set by [`Daemon::try_exit`] once the process was seen to exit.
    exited: Option<i32>,
}

/// The built binary.
pub fn worker_bin() -> &'static str {
    env!("CARGO_BIN_EXE_worker")
}

impl Daemon {
    /// Starts `worker` with `config` (TOML) and `crontab` (if any) against `redis_url`.
    pub fn start(
        redis_url: &str,
        config: &str,
        crontab: Option<&str>,
        env: &[(&str, &str)],
    ) -> Daemon {
        Daemon::start_with_args(redis_url, config, crontab, env, &[])
    }

    /// [`Daemon::start`] with extra command-line arguments.
    pub fn start_with_args(
        redis_url: &str,
        config: &str,
        crontab: Option<&str>,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Daemon {
        Daemon::start_wrapped(&[], redis_url, config, crontab, env, args)
    }

    /// [`Daemon::start_with_args`] run through a wrapper command (e.g. `["unshare", "--pid",
    /// "--fork", "--kill-child", "--mount-proc"]`); the wrapper receives the worker path and
    /// `args` after its own arguments. An empty wrapper runs the worker directly.
    pub fn start_wrapped(
        wrapper: &[&str],
        redis_url: &str,
        config: &str,
        crontab: Option<&str>,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Daemon {
        let dir = TempDir::new("daemon");
        let cfg = dir.write("worker.toml", config);
        let port = free_port();
        let log = dir.path().join("worker.log");
        let mut cmd = match wrapper.split_first() {
            None => Command::new(worker_bin()),
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(worker_bin());
                c
            }
        };
        cmd.args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("WORKER_CONFIG", &cfg)
            .env("WORKER_LISTEN", format!("127.0.0.1:{port}"))
            .env("REDIS_URL", redis_url)
            // Each daemon its own identity (they share a host name); a test sets its own.
            .env("WORKER_ID", format!("test-{port}"))
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "json");
        if let Some(tab) = crontab {
            cmd.env("CRONTAB", dir.write("crontab", tab));
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = cmd.spawn().unwrap();
        Daemon {
            port,
            dir,
            child: Some(child),
            log,
            exited: None,
        }
    }

    /// Starts `worker` on the embedded store (no Redis configured: an empty `REDIS_URL` counts
    /// as unset); put `CRONQ_DATA` in `env` to choose the file (default: `data/cronq.db` in the
    /// daemon's own directory).
    pub fn start_embedded(config: &str, crontab: Option<&str>, env: &[(&str, &str)]) -> Daemon {
        Daemon::start("", config, crontab, env)
    }

    pub fn health_url(&self) -> String {
        format!("http://127.0.0.1:{}/health", self.port)
    }

    /// GET /health → (status code, body JSON); None when nothing answers.
    pub fn health(&self) -> Option<(u16, serde_json::Value)> {
        http_get(&self.health_url())
    }

    /// Waits until /health says healthy.
    pub fn wait_healthy(&self) -> serde_json::Value {
        poll(
            Duration::from_secs(20),
            "the daemon to report healthy",
            || {
                self.health()
                    .filter(|(code, _)| *code == 200)
                    .map(|(_, b)| b)
            },
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }

    /// The exit code if the process has exited (kept, so later calls say the same), else None.
    pub fn try_exit(&mut self) -> Option<i32> {
        if let Some(code) = self.exited {
            return Some(code);
        }
        let status = self.child.as_mut()?.try_wait().unwrap()?;
        self.exited = Some(status.code().unwrap_or(-1));
        self.exited
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> i32 {
        if let Some(code) = self.exited {
            return code;
        }
        let child = self.child.as_mut().unwrap();
        let status = poll(limit, "the daemon to exit", || child.try_wait().unwrap());
        self.child = None;
        status.code().unwrap_or(-1)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
