//! One run of a program: `/bin/sh -c COMMAND` in its own process group, spawned through the
//! exec handlers' launcher (`worker::handler::exec::command`): it dies with the daemon (the
//! parent-death signal, `pdeath.rs`) and is recorded so that the PID 1 reaper leaves its exit
//! status to us (`reaper.rs`). Its grandchildren are reaped by that reaper once orphaned.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, ChildStderr, ChildStdout};

use crate::config::programs::ProgramSpec;
use crate::config::EnvPolicy;
use crate::worker::handler::exec;

/// A started process and its output pipes (taken by the output readers).
pub(super) struct Running {
    child: Child,
    /// Its PID, which is also its process group's id.
    pub(super) pid: u32,
    pub(super) stdout: Option<ChildStdout>,
    pub(super) stderr: Option<ChildStderr>,
    /// Set once the leader is waited for and the group killed: the group id may be reused.
    finished: bool,
}

/// A run dropped without a stop (the runtime ending on an early exit, a panic) takes its whole
/// group with it: `kill_on_drop` alone would end only the launcher and orphan the program.
impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            self.signal(Signal::SIGKILL);
        }
    }
}

/// Starts instance `num` of `spec`. The error is the OS's, with what was being started.
pub(super) fn spawn(spec: &ProgramSpec, num: u32, policy: &EnvPolicy) -> Result<Running, String> {
    let mut cmd = exec::command("/bin/sh", policy);
    cmd.arg("-c")
        .arg(shell_line(&spec.command))
        .envs(&spec.environment)
        .env("PROCESS_NUM", num.to_string())
        .env("SUPERVISOR_PROCESS_NAME", format!("{}:{num:02}", spec.name))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so that a stop reaches every process it started.
        .process_group(0)
        // Should this side ever be dropped without a stop (a panic), the leader goes too.
        .kill_on_drop(true);
    if let Some(dir) = &spec.directory {
        cmd.current_dir(dir);
    }
    if let Some((uid, gid)) = spec.user {
        cmd.uid(uid).gid(gid);
    }
    let mut child = exec::spawn_registered(&mut cmd).map_err(|e| match &spec.directory {
        Some(d) if !d.is_dir() => format!("cannot start: directory {}: {e}", d.display()),
        _ => format!("cannot start /bin/sh -c {:?}: {e}", spec.command),
    })?;
    let pid = child.id().unwrap_or_default();
    Ok(Running {
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        child,
        pid,
        finished: false,
    })
}

impl Running {
    /// Waits for the leader to end; then KILLs what it left in its group (a stray background
    /// process must not hold the pipes open, nor outlive the program's stop).
    pub(super) async fn wait(&mut self) -> ExitStatus {
        let status = self.child.wait().await;
        self.finish();
        // `wait` only fails when the child was already reaped: read it as killed.
        status.unwrap_or_else(|_| ExitStatus::from_raw(Signal::SIGKILL as i32))
    }

    fn finish(&mut self) {
        self.signal(Signal::SIGKILL);
        exec::forget(self.pid as i32);
        self.finished = true;
    }

    /// Sends `signal` to the whole group (the program is not the leader: the launcher is, and
    /// passes it by).
    pub(super) fn signal(&self, signal: Signal) {
        // Never group 0: `killpg(0)` would signal the daemon's own group.
        if self.pid > 0 {
            let _ = killpg(Pid::from_raw(self.pid as i32), signal);
        }
    }

    /// `signal`, then KILL after `grace` if the group has not ended; the leader's exit.
    pub(super) async fn stop(&mut self, signal: Signal, grace: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + grace;
        self.signal(signal);
        match tokio::time::timeout_at(deadline, self.child.wait()).await {
            Ok(status) => {
                // The signal reached the whole group: a shell that died of it at once may
                // leave the program it started still running its handler (a trap, a final
                // flush). It gets the rest of the grace before the group's KILL.
                self.group_gone_by(deadline).await;
                self.finish();
                status.unwrap_or_else(|_| ExitStatus::from_raw(Signal::SIGKILL as i32))
            }
            Err(_) => {
                tracing::warn!(
                    pid = self.pid,
                    grace_s = grace.as_secs_f64(),
                    "program did not stop within stopwaitsecs: killing its process group"
                );
                self.signal(Signal::SIGKILL);
                self.wait().await
            }
        }
    }
}

impl Running {
    /// Polls until no process is left in the group, or `deadline`. A member that has exited
    /// but is not yet reaped still counts: as PID 1, cronq's reaper collects it within
    /// 500 ms; otherwise the host's init does.
    async fn group_gone_by(&self, deadline: tokio::time::Instant) {
        let group = Pid::from_raw(self.pid as i32);
        while self.pid > 0 && killpg(group, None).is_ok() && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The line given to `/bin/sh -c`. A plain command (what Supervisor runs, which has no shell)
/// is `exec`'d, so the program itself is the shell's process: it gets the stop signal
/// directly, and its exit status is the run's. Shell syntax (`;`, `&&`, pipes, loops,
/// leading `VAR=value`) runs as written, the signal then reaching every process of the group.
pub(super) fn shell_line(command: &str) -> String {
    let first = command.split_whitespace().next().unwrap_or("");
    let keywords = [
        "exec", "while", "until", "for", "if", "case", "{", "(", "!", "time", "trap", "cd",
    ];
    let compound = command.contains([';', '&', '|', '\n', '(', ')', '`'])
        || keywords.contains(&first)
        || first.contains('=');
    if compound {
        command.to_string()
    } else {
        format!("exec {command}")
    }
}

/// `exit status 3`, `killed by signal 9`.
pub(super) fn describe(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "ended abnormally".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::shell_line;

    #[test]
    fn plain_commands_are_execed_and_shell_syntax_is_left_alone() {
        for (given, run) in [
            (
                "php bin/console messenger:consume async",
                "exec php bin/console messenger:consume async",
            ),
            (
                "node consumer.js > /tmp/x",
                "exec node consumer.js > /tmp/x",
            ),
            ("node c.js 2>&1", "node c.js 2>&1"),
            ("cd /app; node c.js", "cd /app; node c.js"),
            ("a && b", "a && b"),
            ("NODE_ENV=prod node c.js", "NODE_ENV=prod node c.js"),
            ("while true; do x; done", "while true; do x; done"),
            ("exec node c.js", "exec node c.js"),
        ] {
            assert_eq!(shell_line(given), run, "{given}");
        }
    }
}
