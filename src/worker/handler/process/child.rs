//! One long-lived handler process: started in its own process group through the same launcher
//! and environment rules as `exec` handlers, fed one job at a time. Its stderr is read all its
//! life by a task of its own and goes to the log of the job it is running (and to the daemon's
//! output), or to the daemon's log between jobs. Dropping it ends its group: TERM, then KILL
//! after [`KILL_GRACE`].

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::protocol::{self, LineReader, Message, Read, MAX_MESSAGE_BYTES};
use crate::config::EnvPolicy;
use crate::worker::handler::echo::{Channel, STDERR_TARGET};
use crate::worker::handler::output::{MAX_LINES, MAX_LINE_BYTES};
use crate::worker::handler::{
    exec, JobError, JobInput, LogSender, PrintingRun, RunResult, DATA_PREFIX, KILL_GRACE,
    PROGRESS_PREFIX,
};

/// Where the process's stderr lines go now: held by the process's stderr task and by the run
/// of the job it is doing, which sets and clears it.
#[derive(Debug, Default)]
struct Sink {
    /// The running job's log, `None` between jobs.
    logs: Option<LogSender>,
    /// Lines kept in that job's log (capped like exec output).
    kept: usize,
    /// The last stderr line, for the reason of a crash.
    last: Option<String>,
}

/// Whether a process may take another job after one ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// It answered; it may stay.
    Keep,
    /// It crashed, hung, or broke the protocol: replace it.
    Replace,
}

/// A running handler process.
#[derive(Debug)]
pub(super) struct Proc {
    child: Option<Child>,
    pgid: Option<Pid>,
    stdin: ChildStdin,
    stdout: LineReader<ChildStdout>,
    sink: Arc<Mutex<Sink>>,
    /// The task reading stderr; awaited when the process died, so its last line is known.
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    policy: EnvPolicy,
    /// Jobs it has started.
    pub(super) jobs: u64,
    label: Arc<str>,
}

impl Proc {
    /// Starts `program args…` in a process group of its own.
    pub(super) fn start(
        program: &str,
        args: &[String],
        policy: &EnvPolicy,
        label: Arc<str>,
    ) -> Result<Proc, JobError> {
        let mut cmd: Command = exec::command(program, policy);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            // Ended by `Drop` (the whole group, TERM first), never by tokio's KILL of the
            // leader alone, which would orphan the program the launcher started.
            .kill_on_drop(false);
        let mut child = exec::spawn_registered(&mut cmd)
            .map_err(|e| JobError::Retryable(format!("{label}: cannot start {program:?}: {e}")))?;
        let pgid = child.id().map(|p| Pid::from_raw(p as i32));
        if let Some(g) = pgid {
            super::live().insert(g.as_raw());
        }
        let stdin = child.stdin.take().expect("piped");
        let stdout = LineReader::new(child.stdout.take().expect("piped"), MAX_MESSAGE_BYTES);
        let sink = Arc::new(Mutex::new(Sink::default()));
        let stderr = child.stderr.take().expect("piped");
        let stderr_task = tokio::spawn(pump_stderr(
            stderr,
            sink.clone(),
            policy.clone(),
            label.clone(),
        ));
        Ok(Proc {
            child: Some(child),
            pgid,
            stdin,
            stdout,
            sink,
            stderr_task: Some(stderr_task),
            policy: policy.clone(),
            jobs: 0,
            label,
        })
    }

    /// The process group, for memory accounting.
    pub(super) fn pgid(&self) -> Option<i32> {
        self.pgid.map(|g| g.as_raw())
    }

    /// Sends `job` and reads the answer. Returns [`JobError::Cancelled`] soon after `cancel`
    /// fires (the caller then drops the process, which ends its group).
    pub(super) async fn run(&mut self, run: PrintingRun<'_>) -> (RunResult, After) {
        let PrintingRun { job, logs, cancel } = run;
        self.jobs += 1;
        {
            let mut sink = lock(&self.sink);
            sink.logs = Some(logs.clone());
            sink.kept = 0;
        }
        let outcome = tokio::select! {
            o = self.exchange(job, logs) => o,
            _ = cancel.cancelled() => (Err(JobError::Cancelled), After::Replace),
        };
        lock(&self.sink).logs = None;
        outcome
    }

    async fn exchange(&mut self, job: &JobInput, logs: &LogSender) -> (RunResult, After) {
        if let Err(e) = self
            .stdin
            .write_all(protocol::job_line(job).as_bytes())
            .await
        {
            return (
                Err(self.ended(&format!("could not take the job ({e})")).await),
                After::Replace,
            );
        }
        let mut kept = 0usize;
        loop {
            let line = match self.stdout.next().await {
                Read::Line(l) => l,
                Read::TooLong(start) => {
                    let e = protocol::BadLine::TooLong {
                        quoted: protocol::quote(&start),
                    };
                    return (
                        Err(JobError::Fatal(format!("{}: {e}", self.label))),
                        After::Replace,
                    );
                }
                Read::Eof => {
                    return (
                        Err(self.ended("ended during the job").await),
                        After::Replace,
                    );
                }
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let msg = match protocol::parse(&line) {
                Ok(m) => m,
                // Not retried: the same process code would print the same line again.
                Err(e) => {
                    return (
                        Err(JobError::Fatal(format!("{}: {e}", self.label))),
                        After::Replace,
                    )
                }
            };
            match msg {
                Message::Progress { value } => {
                    let _ = logs.lines.send(format!("{PROGRESS_PREFIX}{value}")).await;
                }
                Message::Data { value } => {
                    let value = self.clean_value(value);
                    let _ = logs.lines.send(format!("{DATA_PREFIX}{value}")).await;
                }
                Message::Log { line } => {
                    let line = self.clean(&line);
                    logs.echo.line(Channel::Stdout, &line);
                    if kept < MAX_LINES {
                        kept += 1;
                        let _ = logs.lines.send(line).await;
                    }
                }
                Message::Result { value } => return (Ok(self.clean_value(value)), After::Keep),
                Message::Error {
                    message,
                    stack,
                    unrecoverable,
                } => {
                    if let Some(stack) = stack {
                        for l in stack.lines().take(50) {
                            let _ = logs.lines.send(format!("stack: {}", self.clean(l))).await;
                        }
                    }
                    let message = self.clean(&message);
                    let message = if message.is_empty() {
                        "failed without a message".to_string()
                    } else {
                        message
                    };
                    let e = if unrecoverable {
                        JobError::Fatal(message)
                    } else {
                        JobError::Retryable(message)
                    };
                    return (Err(e), After::Keep);
                }
            }
        }
    }

    /// A line the process sent, cut and with the daemon's secrets hidden.
    fn clean(&self, text: &str) -> String {
        let kept = crate::rules::cut_to(text, MAX_LINE_BYTES);
        self.policy.secrets.redact(kept).into_owned()
    }

    /// A return value with the daemon's secrets hidden, as an exec job's is. `***` needs no
    /// JSON escaping, so the text stays JSON.
    fn clean_value(&self, value: serde_json::Value) -> serde_json::Value {
        let text = value.to_string();
        match self.policy.secrets.redact(&text) {
            std::borrow::Cow::Borrowed(_) => value,
            std::borrow::Cow::Owned(clean) => {
                serde_json::from_str(&clean).unwrap_or(serde_json::Value::String(clean))
            }
        }
    }

    /// The retryable failure of a job whose process went away: its exit status and last stderr
    /// line, once it has ended (or after a short grace).
    async fn ended(&mut self, what: &str) -> JobError {
        let status = match self.child.as_mut() {
            Some(c) => tokio::time::timeout(KILL_GRACE, c.wait())
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        // Its stderr closes when its group is gone; the last line read is the likely reason.
        if let (Some(_), Some(task)) = (status, self.stderr_task.take()) {
            let _ = tokio::time::timeout(KILL_GRACE, task).await;
        }
        let status = match status {
            Some(s) => describe(s),
            None => "still running, stdout closed".to_string(),
        };
        let last = lock(&self.sink).last.clone();
        JobError::Retryable(match last {
            Some(l) => format!("{}: the process {what} ({status}): {l}", self.label),
            None => format!("{}: the process {what} ({status})", self.label),
        })
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = self.pgid;
        if let Some(g) = pgid {
            let _ = killpg(g, Signal::SIGTERM);
        }
        let reap = async move {
            exec::kill_after_grace(&mut child, pgid).await;
            if let Some(g) = pgid {
                exec::forget(g.as_raw());
                super::live().remove(&g.as_raw());
            }
        };
        // Without a runtime (the daemon is exiting) TERM was sent; the launcher's
        // parent-death signal ends the group once the daemon is gone.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(reap);
        }
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "ended abnormally".to_string(),
    }
}

fn lock(sink: &Mutex<Sink>) -> std::sync::MutexGuard<'_, Sink> {
    sink.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads the process's stderr for its whole life: each line to the running job's log (as
/// `stderr: LINE`) and the daemon's output, or to the daemon's log between jobs.
async fn pump_stderr(
    stderr: tokio::process::ChildStderr,
    sink: Arc<Mutex<Sink>>,
    policy: EnvPolicy,
    label: Arc<str>,
) {
    let mut lines = LineReader::new(stderr, MAX_LINE_BYTES);
    loop {
        let raw = match lines.next().await {
            Read::Line(l) => l,
            Read::TooLong(l) => {
                let mut l = l;
                l.extend_from_slice(" …[line cut]".as_bytes());
                l
            }
            Read::Eof => return,
        };
        let text = String::from_utf8_lossy(&raw);
        let text = policy.secrets.redact(&text).into_owned();
        let logs = {
            let mut s = lock(&sink);
            s.last = Some(text.clone());
            let logs = s.logs.clone();
            if logs.is_some() {
                s.kept += 1;
            }
            logs.map(|l| (l, s.kept <= MAX_LINES))
        };
        match logs {
            Some((logs, keep)) => {
                logs.echo.line(Channel::Stderr, &text);
                if keep {
                    let _ = logs.lines.try_send(format!("stderr: {text}"));
                }
            }
            None => {
                tracing::info!(target: STDERR_TARGET, handler = %label, channel = "stderr", "{text}")
            }
        }
    }
}
