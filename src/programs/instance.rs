//! One instance's state machine, on a task of its own. Supervisor's transitions:
//!
//! ```text
//! STOPPED ──start──► STARTING ──up for startsecs──► RUNNING ──exits──► EXITED
//!    ▲                 │   ▲                            │                 │ autorestart
//!    │                 │   └──── after 1 s, 2 s, … ── BACKOFF ◄── exits   │ (true, or
//!    │                 │           (failure n waits n s)   │   too soon   │ "unexpected"
//!    │                 │                                   ▼              │ and the code is
//!    └──── STOPPING ◄──┴── stop (from STARTING/RUNNING)  FATAL            │ not in exitcodes)
//!                                 after startretries     (start retries)  ▼
//!                                                                      STARTING
//! ```
//!
//! A start or stop command is acknowledged in the status (`acked`) once taken up, so that a
//! caller can wait for the state it leads to (`supervisor.rs`).

use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::child::{self, Running};
use super::output::Sink;
use super::state::{InstanceStatus, ProgramState};
use super::tail::{Stream, Tail};
use crate::config::programs::{AutoRestart, ProgramSpec};
use crate::config::EnvPolicy;

/// What an instance is told. Sent by [`super::Programs`] (start, stop) and by the supervisor
/// (quit, at shutdown or when a reload removes or changes its program).
#[derive(Debug, Clone, Copy)]
pub(super) enum Command {
    /// Start if not running (from STOPPED, EXITED, FATAL or BACKOFF); numbered for `acked`.
    Start(u64),
    /// Stop if running; numbered for `acked`.
    Stop(u64),
    /// Stop, KILL after `stopwaitsecs` or `cap` whichever is first, and end the task.
    Quit {
        /// The daemon's shutdown deadline bounds every program's grace.
        cap: Duration,
    },
}

/// How one run ended.
enum Ended {
    /// Before `startsecs`: the run does not count as started.
    TooSoon(String),
    /// From RUNNING.
    Exited(ExitStatus),
    /// On a stop command.
    Stopped,
    /// On quit: the task ends.
    Quit,
}

/// One instance: its configuration, and the ends of its channels.
pub(super) struct Instance {
    pub(super) spec: Arc<ProgramSpec>,
    /// `PROCESS_NUM`.
    pub(super) num: u32,
    /// `NAME:00`.
    pub(super) name: Arc<str>,
    /// What of the daemon's environment it gets (`[worker] pass_env`), and what is hidden.
    pub(super) policy: EnvPolicy,
    /// Written by its output readers, read by the API.
    pub(super) tail: Arc<Tail>,
    /// Written only here; the receivers are in `Programs` (API, CLI, health, metrics).
    pub(super) status: watch::Sender<InstanceStatus>,
    /// The senders are in `Programs`; all gone means the supervisor is gone: stop and end.
    pub(super) commands: mpsc::Receiver<Command>,
    /// A start command taken up while nothing ran: acknowledged with the state it leads to
    /// (STARTING with its pid, or BACKOFF), never with the old one, so that a caller waiting
    /// for a settled state cannot read the STOPPED it started from (0: none).
    pub(super) pending_start: AtomicU64,
}

impl Instance {
    /// Runs the state machine until told to quit.
    pub(super) async fn run(mut self) {
        let mut state = ProgramState::Stopped;
        if self.spec.autostart {
            self.set(|s| s.wanted = true);
            state = ProgramState::Starting;
        }
        // Failed starts in a row; reset on reaching RUNNING and by a start command.
        let mut failures = 0u32;
        loop {
            state = match state {
                ProgramState::Starting => match self.attempt().await {
                    Ended::TooSoon(why) => {
                        failures += 1;
                        self.backoff(failures, why)
                    }
                    Ended::Exited(status) => self.exited(&status),
                    Ended::Stopped => ProgramState::Stopped,
                    Ended::Quit => return,
                },
                ProgramState::Backoff => {
                    let delay = Duration::from_secs(u64::from(failures));
                    match tokio::time::timeout(delay, self.commands.recv()).await {
                        Err(_) => {
                            self.set(|s| s.restarts += 1);
                            ProgramState::Starting
                        }
                        Ok(cmd) => match self.idle_command(cmd, &mut failures) {
                            Some(next) => next,
                            None => return,
                        },
                    }
                }
                // STOPPED, EXITED, FATAL: only a command moves them.
                settled => {
                    let cmd = self.commands.recv().await;
                    match self.idle_command(cmd, &mut failures) {
                        Some(ProgramState::Stopped) => settled,
                        Some(next) => next,
                        None => return,
                    }
                }
            };
            if state == ProgramState::Stopped {
                self.enter(ProgramState::Stopped, format!("Stopped {}", now_text()));
            }
        }
    }

    /// A command while nothing runs: the next state (`Stopped` = stay), `None` to end.
    fn idle_command(&self, cmd: Option<Command>, failures: &mut u32) -> Option<ProgramState> {
        match cmd? {
            Command::Start(id) => {
                *failures = 0;
                self.pending_start.store(id, Ordering::Relaxed);
                self.set(|s| s.wanted = true);
                Some(ProgramState::Starting)
            }
            Command::Stop(id) => {
                self.set(|s| {
                    s.acked = id;
                    s.wanted = false;
                });
                Some(ProgramState::Stopped)
            }
            Command::Quit { .. } => None,
        }
    }

    /// After a start that ended too soon: BACKOFF, or FATAL past `startretries`.
    fn backoff(&self, failures: u32, why: String) -> ProgramState {
        if failures > self.spec.startretries {
            tracing::error!(program = %self.name, error = %why, tries = failures,
                "program could not be started: FATAL until started again (worker start {})", self.spec.name);
            self.enter(ProgramState::Fatal, format!("Exited too quickly: {why}"));
            return ProgramState::Fatal;
        }
        tracing::warn!(program = %self.name, error = %why, retry_in_s = failures,
            "program exited before startsecs: retrying");
        self.enter(
            ProgramState::Backoff,
            format!(
                "Exited too quickly: {why}; retry {failures} of {} in {failures}s",
                self.spec.startretries
            ),
        );
        ProgramState::Backoff
    }

    /// After an exit from RUNNING: EXITED, or STARTING again by `autorestart`.
    fn exited(&self, status: &ExitStatus) -> ProgramState {
        let expected = status
            .code()
            .is_some_and(|c| self.spec.exitcodes.contains(&c));
        let what = child::describe(status);
        let restart = match self.spec.autorestart {
            AutoRestart::Always => true,
            AutoRestart::Never => false,
            AutoRestart::Unexpected => !expected,
        };
        let kind = if expected { "expected" } else { "unexpected" };
        tracing::info!(program = %self.name, exit = %what, expected, restart, "program exited");
        self.enter(
            ProgramState::Exited,
            format!("{what} ({kind}) {}", now_text()),
        );
        if restart {
            self.set(|s| s.restarts += 1);
            ProgramState::Starting
        } else {
            ProgramState::Exited
        }
    }

    /// STARTING → (RUNNING →) an end.
    async fn attempt(&mut self) -> Ended {
        let mut run = match child::spawn(&self.spec, self.num, &self.policy) {
            Ok(run) => run,
            Err(why) => {
                self.set(|s| s.last_exit = Some(why.clone()));
                return Ended::TooSoon(why);
            }
        };
        let readers = self.readers(&mut run);
        // One change, so that nobody sees STARTING without its pid.
        let ack = self.pending_start.swap(0, Ordering::Relaxed);
        self.set(|s| {
            s.acked = s.acked.max(ack);
            s.state = ProgramState::Starting;
            s.description = String::new();
            s.pid = Some(run.pid);
            s.started = Some(SystemTime::now());
        });
        tracing::info!(program = %self.name, pid = run.pid, "program started");
        let up_at = tokio::time::Instant::now() + self.spec.startsecs;
        let mut running = self.spec.startsecs.is_zero();
        if running {
            self.enter(ProgramState::Running, String::new());
        }
        let ended = loop {
            tokio::select! {
                status = run.wait() => {
                    break if running { Ended::Exited(status) } else {
                        self.drain(readers).await;
                        let last = self.tail.read(Stream::Stderr, 1, 0).pop();
                        let what = child::describe(&status);
                        let why = match last {
                            Some(l) if !l.text.trim().is_empty() => format!("{what}: {}", l.text.trim()),
                            _ => what,
                        };
                        self.set(|s| { s.pid = None; s.last_exit = Some(why.clone()); });
                        return Ended::TooSoon(why);
                    };
                }
                _ = tokio::time::sleep_until(up_at), if !running => {
                    running = true;
                    self.enter(ProgramState::Running, String::new());
                }
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Start(id)) => self.set(|s| s.acked = id),
                    Some(Command::Stop(id)) => {
                        self.set(|s| { s.acked = id; s.wanted = false; });
                        self.stop(&mut run, self.spec.stopwaitsecs).await;
                        break Ended::Stopped;
                    }
                    Some(Command::Quit { cap }) => {
                        self.stop(&mut run, self.spec.stopwaitsecs.min(cap)).await;
                        break Ended::Quit;
                    }
                    None => {
                        self.stop(&mut run, self.spec.stopwaitsecs).await;
                        break Ended::Quit;
                    }
                },
            }
        };
        self.drain(readers).await;
        let last = match &ended {
            Ended::Exited(status) => Some(child::describe(status)),
            _ => None,
        };
        self.set(|s| {
            s.pid = None;
            if last.is_some() {
                s.last_exit = last.clone();
            }
        });
        ended
    }

    /// STOPPING, then the stop signal, then KILL after `grace`.
    async fn stop(&self, run: &mut Running, grace: Duration) {
        self.enter(ProgramState::Stopping, String::new());
        let status = run.stop(self.spec.stopsignal.signal(), grace).await;
        let what = child::describe(&status);
        tracing::info!(program = %self.name, exit = %what, "program stopped");
        self.set(|s| s.last_exit = Some(what));
    }

    fn readers(&self, run: &mut Running) -> Vec<JoinHandle<()>> {
        let sink = |stream, file: &Option<_>| Sink {
            instance: self.name.clone(),
            stream,
            tail: self.tail.clone(),
            file: file.clone(),
            log: self.spec.log_output,
            secrets: self.policy.secrets.clone(),
        };
        let mut handles = Vec::new();
        if let Some(out) = run.stdout.take() {
            handles.push(sink(Stream::Stdout, &self.spec.stdout_logfile).spawn(out));
        }
        if let Some(err) = run.stderr.take() {
            handles.push(sink(Stream::Stderr, &self.spec.stderr_logfile).spawn(err));
        }
        handles
    }

    /// The readers end with the pipes, which the group's KILL closes; bounded all the same
    /// (a process that left the group may still hold them).
    async fn drain(&self, readers: Vec<JoinHandle<()>>) {
        let all = futures::future::join_all(readers);
        let _ = tokio::time::timeout(Duration::from_secs(1), all).await;
    }

    fn enter(&self, state: ProgramState, description: String) {
        let ack = self.pending_start.swap(0, Ordering::Relaxed);
        self.set(|s| {
            s.acked = s.acked.max(ack);
            s.state = state;
            s.description = description;
        });
    }

    fn set(&self, f: impl FnOnce(&mut InstanceStatus)) {
        self.status.send_modify(f);
    }
}

fn now_text() -> String {
    chrono::Utc::now().format("%b %d %H:%M:%S UTC").to_string()
}
