//! Supervisor's process states, with its meanings, and what one instance shows of itself.

use std::time::SystemTime;

use serde::Serialize;

/// The state of one instance, as `supervisorctl status` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProgramState {
    /// Not running: never started (`autostart = false`) or stopped on request.
    Stopped,
    /// Started; it has not yet stayed up for `startsecs`.
    Starting,
    /// Up for at least `startsecs`.
    Running,
    /// It exited (or could not be started) while STARTING; retried after a growing delay.
    Backoff,
    /// Sent its stop signal; KILL follows after `stopwaitsecs`.
    Stopping,
    /// It exited from RUNNING (expectedly or not) and its policy does not restart it.
    Exited,
    /// It could not be started `startretries` times in a row; only a start command retries.
    Fatal,
}

impl ProgramState {
    /// All states, for metrics (one series each).
    pub const ALL: [ProgramState; 7] = [
        ProgramState::Stopped,
        ProgramState::Starting,
        ProgramState::Running,
        ProgramState::Backoff,
        ProgramState::Stopping,
        ProgramState::Exited,
        ProgramState::Fatal,
    ];

    /// `RUNNING`, …
    pub fn as_str(self) -> &'static str {
        match self {
            ProgramState::Stopped => "STOPPED",
            ProgramState::Starting => "STARTING",
            ProgramState::Running => "RUNNING",
            ProgramState::Backoff => "BACKOFF",
            ProgramState::Stopping => "STOPPING",
            ProgramState::Exited => "EXITED",
            ProgramState::Fatal => "FATAL",
        }
    }

    /// A state a start or stop command ends in (not a passing one).
    pub fn settled(self) -> bool {
        matches!(
            self,
            ProgramState::Stopped
                | ProgramState::Running
                | ProgramState::Exited
                | ProgramState::Fatal
        )
    }
}

/// One instance as the API, CLI, health and metrics see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstanceStatus {
    /// `NAME:00`.
    pub name: String,
    /// `NAME`.
    pub program: String,
    /// Its state.
    pub state: ProgramState,
    /// The process (the group leader) while there is one.
    pub pid: Option<u32>,
    /// Seconds since it was started, while it runs.
    pub uptime_s: Option<u64>,
    /// Automatic restarts since the daemon (or a reload) created it: after an exit from
    /// RUNNING, and each retry from BACKOFF.
    pub restarts: u64,
    /// The last exit: `exit status 3`, `killed by signal 9`, or why it could not start.
    pub last_exit: Option<String>,
    /// Supervisor's description column: `pid 123, uptime 0:05:30`, `Exited too quickly …`.
    pub description: String,
    /// Whether its configuration wants it running (`autostart`, or started by a command):
    /// `/health` is unhealthy while such an instance is FATAL.
    pub wanted: bool,
    /// When the current process started.
    #[serde(skip)]
    pub started: Option<SystemTime>,
    /// The last command it has taken up (see `supervisor`'s waiting for a settled state).
    #[serde(skip)]
    pub acked: u64,
}

impl InstanceStatus {
    /// A fresh STOPPED instance.
    pub fn new(program: &str, name: &str) -> InstanceStatus {
        InstanceStatus {
            name: name.to_string(),
            program: program.to_string(),
            state: ProgramState::Stopped,
            pid: None,
            uptime_s: None,
            restarts: 0,
            last_exit: None,
            description: "Not started".into(),
            wanted: false,
            started: None,
            acked: 0,
        }
    }

    /// This snapshot with `uptime_s` and the description computed for now.
    pub fn at_now(&self) -> InstanceStatus {
        let mut s = self.clone();
        s.uptime_s = s
            .started
            .filter(|_| s.pid.is_some())
            .and_then(|t| t.elapsed().ok())
            .map(|d| d.as_secs());
        if let (Some(pid), Some(up)) = (s.pid, s.uptime_s) {
            if matches!(s.state, ProgramState::Running | ProgramState::Starting) {
                s.description = format!("pid {pid}, uptime {}", hms(up));
            }
        }
        s
    }
}

/// `H:MM:SS`, as supervisorctl prints an uptime.
pub fn hms(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}
