//! The `exec` handler: `SHELL -c COMMAND` in its own process group. The command comes from
//! local configuration only; the job reaches it as `JOB_*` environment and as JSON on stdin,
//! never spliced into the command text. It inherits the daemon's environment but for the
//! daemon's secrets its handler does not list (`config::job_env`), whose values are also hidden
//! in everything copied out of its output. stdout and stderr lines become job logs. A timeout or
//! the shutdown deadline terminates the whole group (TERM, then KILL after a grace period), so
//! grandchildren do not outlive their job.

use std::collections::BTreeSet;
use std::ops::Deref;
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockWriteGuard};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use super::echo::Channel;
use super::limits;
use super::{JobError, LogBuffer, LogSender, PrintingRun, RunResult, KILL_GRACE};
use crate::config::EnvPolicy;

/// PIDs of the children this process spawned and has not yet waited for. Process-wide by
/// nature (PIDs are), so a static. Locked only briefly (insert, remove, the reaper's look-up);
/// [`SPAWNING`] is what keeps the reaper away from a child not yet recorded here.
static OWN_CHILDREN: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Held shared by every spawn from before the fork until the new PID is in [`OWN_CHILDREN`],
/// and exclusively by the PID 1 reaper (`crate::reaper`, through [`own_children`]) while it
/// reaps: the reaper can never collect an exit status that belongs to a handler, yet spawns run
/// in parallel. (A spawn blocks its thread until the child execs; one lock held across it made
/// every other spawn, and the runtime thread doing it, wait: exec jobs ran ~12% slower.)
static SPAWNING: RwLock<()> = RwLock::new(());

/// The registry of this process's own children, with every spawn held off (for the reaper):
/// while this lives, each child of this process is either recorded or already reaped.
pub struct OwnChildren {
    _no_spawns: RwLockWriteGuard<'static, ()>,
    pids: MutexGuard<'static, BTreeSet<i32>>,
}

impl Deref for OwnChildren {
    type Target = BTreeSet<i32>;

    fn deref(&self) -> &BTreeSet<i32> {
        &self.pids
    }
}

/// Locks the registry of this process's own children and holds off new spawns (for the reaper).
pub fn own_children() -> OwnChildren {
    let no_spawns = SPAWNING.write().unwrap_or_else(|p| p.into_inner());
    OwnChildren {
        _no_spawns: no_spawns,
        pids: registry(),
    }
}

/// The registry alone, for recording and forgetting PIDs.
fn registry() -> MutexGuard<'static, BTreeSet<i32>> {
    OWN_CHILDREN.lock().unwrap_or_else(|p| p.into_inner())
}

/// A configured command.
#[derive(Debug, Clone)]
pub struct Exec {
    shell: String,
    command: String,
    /// Extra environment (crontab env lines), applied before the `JOB_*` variables.
    env: Vec<(String, String)>,
    /// The daemon's secrets withheld from the inherited environment, and hidden in output.
    policy: EnvPolicy,
}

impl Exec {
    /// `shell -c command`, with `env` added to the daemon's environment.
    pub fn new(shell: &str, command: &str, env: Vec<(String, String)>) -> Exec {
        Exec {
            shell: shell.to_string(),
            command: command.to_string(),
            env,
            policy: EnvPolicy::default(),
        }
    }

    /// Withholds `policy.remove` from the jobs' environment (the crontab's own lines still set
    /// what they name) and hides `policy.secrets` in their output.
    pub fn with_policy(mut self, policy: EnvPolicy) -> Exec {
        self.policy = policy;
        self
    }

    /// Runs the command for `run`'s job.
    pub async fn run(&self, run: PrintingRun<'_>) -> RunResult {
        let PrintingRun { job, logs, cancel } = run;
        limits::check_static(&self.command, &self.env)?;
        let data = serde_json::to_string(&job.data).unwrap_or_else(|_| "null".into());
        let mut cmd = command(&self.shell, &self.policy);
        cmd.arg("-c")
            .arg(&self.command)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("JOB_ID", &job.id)
            .env("JOB_NAME", &job.name)
            .env("JOB_QUEUE", &job.queue)
            .env("JOB_ATTEMPT", job.attempt.to_string())
            .env("JOB_DATA_BYTES", data.len().to_string());
        // The job's span, when traces are on: the command continues the trace (W3C's
        // environment carrier, as OpenTelemetry SDKs read it).
        if let Some(trace) = crate::telemetry::otel::trace_headers() {
            cmd.env("TRACEPARENT", trace.traceparent);
            if let Some(state) = trace.tracestate {
                cmd.env("TRACESTATE", state);
            }
        }
        // Data too big for one environment string reaches the command on stdin only.
        set_or_omit(&mut cmd, "JOB_DATA", &data);
        if !job.children.is_empty() {
            let children = serde_json::to_string(&job.children).unwrap_or_default();
            set_or_omit(&mut cmd, "JOB_CHILDREN", &children);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that a timeout can signal every process it started.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = spawn_registered(&mut cmd).map_err(|e| {
            let added = cmd
                .as_std()
                .get_envs()
                .filter_map(|(k, v)| Some((k.to_str()?, v?.to_str()?)));
            limits::start_error(&self.shell, &e, limits::added_env_bytes(added))
        })?;
        let pid = child.id().map(|p| p as i32);
        let result = self.supervise(&mut child, &data, logs, cancel).await;
        if let Some(pid) = pid {
            registry().remove(&pid);
        }
        result
    }

    async fn supervise(
        &self,
        child: &mut Child,
        data: &str,
        logs: &LogSender,
        cancel: &CancellationToken,
    ) -> RunResult {
        let pgid = child.id().map(|p| Pid::from_raw(p as i32));
        if let Some(mut stdin) = child.stdin.take() {
            let data = data.to_string();
            // A command that never reads stdin must not block us: write in the background.
            tokio::spawn(async move {
                let _ = stdin.write_all(data.as_bytes()).await;
            });
        }
        let secrets = &self.policy.secrets;
        let out = LogBuffer::new(logs.clone(), Channel::Stdout)
            .redacting(secrets.clone())
            .drain(child.stdout.take().expect("piped"));
        let err = LogBuffer::new(logs.clone(), Channel::Stderr)
            .redacting(secrets.clone())
            .drain(child.stderr.take().expect("piped"));
        let readers = tokio::spawn(async move { (out.await, err.await) });
        let status = tokio::select! {
            s = child.wait() => s,
            _ = cancel.cancelled() => {
                terminate(child, pgid).await;
                readers.abort();
                return Err(JobError::Cancelled);
            }
        };
        // The leader is gone; anything it left in its group goes too, so a stray background
        // process cannot hold our pipes open.
        if let Some(g) = pgid {
            let _ = killpg(g, Signal::SIGKILL);
        }
        let (out, err) = match readers.await {
            Ok(pair) => pair,
            Err(_) => return Err(JobError::Retryable("output reader failed".into())),
        };
        let last_out = out.finish().await;
        let last_err = err.finish().await;
        let status = status
            .map_err(|e| JobError::Retryable(format!("waiting for the command failed: {e}")))?;
        outcome(status, last_out, last_err)
    }
}

/// `NAME=value`, or, when the kernel would refuse a string that long, `NAME_OMITTED=1` (see
/// `limits.rs`).
fn set_or_omit(cmd: &mut Command, name: &str, value: &str) {
    if limits::fits_env(name, value) {
        cmd.env(name, value);
    } else {
        cmd.env_remove(name).env(format!("{name}_OMITTED"), "1");
    }
}

/// `program` (arguments to follow), with the daemon's secrets `policy` withholds removed from
/// its environment. Through the daemon's own binary when it is the `worker` (see `pdeath.rs`),
/// so a kill -9 of the daemon ends the handler too. Shared with the persistent handlers
/// (`process/`), so both kinds see the same environment.
pub(crate) fn command(program: &str, policy: &EnvPolicy) -> Command {
    let mut cmd = match super::pdeath::launcher(program) {
        Some((exe, args)) => {
            let mut cmd = Command::new(exe);
            cmd.args(args);
            cmd
        }
        None => Command::new(program),
    };
    for name in &policy.remove {
        cmd.env_remove(name);
    }
    cmd
}

/// Forgets a child this process has waited for (see [`OWN_CHILDREN`]).
pub(crate) fn forget(pid: i32) {
    registry().remove(&pid);
}

/// Spawns `cmd` and records its PID, so that the PID 1 reaper leaves its exit to us.
pub(crate) fn spawn_registered(cmd: &mut Command) -> std::io::Result<Child> {
    let _reaper_waits = SPAWNING.read().unwrap_or_else(|p| p.into_inner());
    let child = cmd.spawn()?;
    if let Some(pid) = child.id() {
        registry().insert(pid as i32);
    }
    Ok(child)
}

/// TERM to the group, KILL after the grace period, then reap the leader.
async fn terminate(child: &mut Child, pgid: Option<Pid>) {
    if let Some(g) = pgid {
        let _ = killpg(g, Signal::SIGTERM);
    }
    kill_after_grace(child, pgid).await;
}

/// The second half of a stop, once TERM has gone to the group: waits up to [`KILL_GRACE`] for
/// the leader, KILLs the group and reaps the leader if it is still there, then KILLs whatever
/// the leader left behind in its group. Shared by exec runs and persistent processes
/// (`process/child.rs`), which send their TERM themselves (before a runtime may be gone).
pub(crate) async fn kill_after_grace(child: &mut Child, pgid: Option<Pid>) {
    if tokio::time::timeout(KILL_GRACE, child.wait())
        .await
        .is_err()
    {
        if let Some(g) = pgid {
            let _ = killpg(g, Signal::SIGKILL);
        }
        let _ = child.wait().await;
    }
    if let Some(g) = pgid {
        let _ = killpg(g, Signal::SIGKILL);
    }
}

/// Exit 0 completes (with the last stdout line as return value when it is JSON); anything else
/// is a retryable failure whose reason quotes the last stderr line.
fn outcome(status: ExitStatus, last_out: Option<String>, last_err: Option<String>) -> RunResult {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        let value = last_out
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
            .unwrap_or(serde_json::Value::Null);
        return Ok(value);
    }
    let what = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "ended abnormally".to_string(),
    };
    Err(JobError::Retryable(match last_err {
        Some(line) if !line.trim().is_empty() => format!("{what}: {}", line.trim()),
        _ => what,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::worker::handler::test_support::{cancel_once_logged, run_exec};
    use crate::worker::handler::JobInput;

    fn job(data: serde_json::Value) -> JobInput {
        crate::worker::handler::test_support::job("7", 2, data)
    }

    async fn run(cmd: &str, data: serde_json::Value) -> (RunResult, Vec<String>) {
        let exec = Exec::new("/bin/sh", cmd, vec![("GREETING".into(), "hi".into())]);
        run_exec(&exec, &job(data)).await
    }

    #[tokio::test]
    async fn data_arrives_on_stdin_and_env_and_json_output_is_the_result() {
        let (r, logs) = run(
            r#"echo "$GREETING $JOB_ID $JOB_ATTEMPT $JOB_QUEUE/$JOB_NAME"; cat; echo; echo '{"ok":true}'"#,
            serde_json::json!({"x": "$(touch /nonexistent/pwned)"}),
        )
        .await;
        assert_eq!(r, Ok(serde_json::json!({"ok": true})));
        assert_eq!(logs[0], "hi 7 2 q/n");
        assert_eq!(logs[1], r#"{"x":"$(touch /nonexistent/pwned)"}"#);
    }

    #[tokio::test]
    async fn non_zero_exit_is_retryable_and_quotes_stderr() {
        let (r, logs) = run("echo boom >&2; exit 3", serde_json::json!({})).await;
        assert_eq!(r, Err(JobError::Retryable("exit status 3: boom".into())));
        assert_eq!(logs, vec!["stderr: boom".to_string()]);
    }

    #[tokio::test]
    async fn cancel_kills_the_whole_group() {
        let dir = crate::scratch::Scratch::new("exec");
        let marker = dir.join("grandchild-survived");
        let cmd = format!(
            "(sleep 2; touch {}) & echo ready; sleep 30",
            marker.display()
        );
        let e = Exec::new("/bin/sh", &cmd, vec![]);
        let j = job(serde_json::json!({}));
        // Cancel once the command says its background grandchild exists.
        let r = cancel_once_logged(&e, &j, "ready", |e, run| Box::pin(e.run(run))).await;
        assert_eq!(r, Err(JobError::Cancelled));
        // Poll past the grandchild's 2 s: it must never write its marker.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            assert!(!marker.exists(), "grandchild outlived the cancelled job");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
