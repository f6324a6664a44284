//! `[programs.NAME]`: long-running programs supervised the way Supervisor's `[program:x]`
//! sections are (issue 28). The raw table as written, and its validation into a
//! [`ProgramSpec`] that the programs room (`crate::programs`) runs. Defaults are Supervisor's
//! unless said otherwise beside the field, so a `[program:x]` section carries over key by key.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[programs.NAME]` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProgram {
    /// Run by `/bin/sh -c` (Supervisor splits it itself; a shell also takes its plain form).
    pub command: Option<String>,
    /// Instances, default 1; named `NAME:00`, `NAME:01`, … with `PROCESS_NUM` 0, 1, ….
    pub numprocs: Option<u32>,
    /// Start with the daemon, default `true`.
    pub autostart: Option<bool>,
    /// `true`, `false` or `"unexpected"` (default): restart after an exit from RUNNING.
    pub autorestart: Option<toml::Value>,
    /// The expected exit codes for `autorestart = "unexpected"`, default `[0]`.
    pub exitcodes: Option<Vec<i64>>,
    /// Seconds a start must stay up to count as RUNNING, default 1 (0 = at once).
    pub startsecs: Option<toml::Value>,
    /// Failed starts in a row before FATAL, default 3.
    pub startretries: Option<u32>,
    /// `TERM` (default), `HUP`, `INT`, `QUIT`, `KILL` or `USR1`.
    pub stopsignal: Option<String>,
    /// Seconds between the stop signal and KILL, default 10.
    pub stopwaitsecs: Option<toml::Value>,
    /// Extra variables: a table, or Supervisor's `"A=1,B=2"` string.
    pub environment: Option<toml::Value>,
    /// Working directory, default the daemon's.
    pub directory: Option<String>,
    /// Run as this user (the daemon must be root).
    pub user: Option<String>,
    /// Copy each output line into the daemon's log, default `[worker] log_output`.
    pub log_output: Option<bool>,
    /// Also write stdout to this file.
    pub stdout_logfile: Option<String>,
    /// Also write stderr to this file.
    pub stderr_logfile: Option<String>,
    /// Rotate a log file at this size (`10MB`, or bytes), default `50MB`; 0 never rotates.
    pub logfile_maxbytes: Option<toml::Value>,
    /// Rotated files kept, default 10.
    pub logfile_backups: Option<u32>,
}

/// When a program that has exited from RUNNING is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    /// Always (`true`).
    Always,
    /// Never (`false`): it stays EXITED.
    Never,
    /// Only on an exit code not in `exitcodes` (`"unexpected"`, Supervisor's default).
    Unexpected,
}

/// The signals a program may be stopped with. SIGUSR2 is not one: cronq's own children use it
/// as their parent-death signal (`worker::handler::pdeath`), so it would kill the group at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM (default).
    Term,
    /// SIGHUP.
    Hup,
    /// SIGINT.
    Int,
    /// SIGQUIT.
    Quit,
    /// SIGKILL.
    Kill,
    /// SIGUSR1.
    Usr1,
}

impl StopSignal {
    /// Reads `TERM`, `SIGTERM`, `term`, ….
    pub fn parse(text: &str) -> Result<StopSignal, String> {
        let t = text.trim().to_ascii_uppercase();
        Ok(match t.strip_prefix("SIG").unwrap_or(&t) {
            "TERM" => StopSignal::Term,
            "HUP" => StopSignal::Hup,
            "INT" => StopSignal::Int,
            "QUIT" => StopSignal::Quit,
            "KILL" => StopSignal::Kill,
            "USR1" => StopSignal::Usr1,
            "USR2" => {
                return Err(
                    "USR2 is reserved: cronq's child processes take it as \"the daemon \
                            died\"; use TERM, HUP, INT, QUIT, KILL or USR1"
                        .into(),
                )
            }
            _ => {
                return Err(format!(
                    "{text:?} is not a signal name: use TERM, HUP, INT, QUIT, KILL or USR1"
                ))
            }
        })
    }

    /// The signal itself.
    pub fn signal(self) -> nix::sys::signal::Signal {
        use nix::sys::signal::Signal;
        match self {
            StopSignal::Term => Signal::SIGTERM,
            StopSignal::Hup => Signal::SIGHUP,
            StopSignal::Int => Signal::SIGINT,
            StopSignal::Quit => Signal::SIGQUIT,
            StopSignal::Kill => Signal::SIGKILL,
            StopSignal::Usr1 => Signal::SIGUSR1,
        }
    }
}

/// A log file and its rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// The file; `.1`, `.2`, … are its rotated copies.
    pub path: PathBuf,
    /// Rotate before a write would take it past this many bytes (0: never).
    pub max_bytes: u64,
    /// Rotated copies kept.
    pub backups: u32,
}

/// A validated `[programs.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramSpec {
    /// `NAME`.
    pub name: String,
    /// `FILE:LINE` of its table, for messages.
    pub place: String,
    /// The command line, run by `/bin/sh -c`.
    pub command: String,
    /// Instances.
    pub numprocs: u32,
    /// Started with the daemon.
    pub autostart: bool,
    /// Restart policy after an exit from RUNNING.
    pub autorestart: AutoRestart,
    /// Expected exit codes.
    pub exitcodes: Vec<i32>,
    /// How long a start must stay up.
    pub startsecs: Duration,
    /// Failed starts in a row before FATAL.
    pub startretries: u32,
    /// Sent to the process group to stop it.
    pub stopsignal: StopSignal,
    /// Then KILL after this long.
    pub stopwaitsecs: Duration,
    /// Added to the daemon's environment (with `PROCESS_NUM`).
    pub environment: BTreeMap<String, String>,
    /// Working directory.
    pub directory: Option<PathBuf>,
    /// `(uid, gid)` to run as, resolved at load.
    pub user: Option<(u32, u32)>,
    /// Output lines copied into the daemon's log.
    pub log_output: bool,
    /// Where stdout is written too.
    pub stdout_logfile: Option<LogFile>,
    /// Where stderr is written too.
    pub stderr_logfile: Option<LogFile>,
}

/// Largest `numprocs`: each instance is a process group with two pipes.
const MAX_NUMPROCS: u32 = 100;

/// Validates every `[programs.NAME]`. `place(table, key)` names `FILE:LINE: [table] key`;
/// `log_output` is `[worker] log_output`.
pub(super) fn programs(
    raw: &BTreeMap<String, RawProgram>,
    place: &dyn Fn(&str, &str) -> String,
    log_output: bool,
) -> Result<BTreeMap<String, ProgramSpec>, super::Error> {
    raw.iter()
        .map(|(name, p)| Ok((name.clone(), program(name, p, place, log_output)?)))
        .collect()
}

fn program(
    name: &str,
    p: &RawProgram,
    place: &dyn Fn(&str, &str) -> String,
    log_output: bool,
) -> Result<ProgramSpec, super::Error> {
    let table = format!("programs.{name}");
    let bad = |key: &str, message: String| super::Error::Invalid {
        place: place(&table, key),
        message,
    };
    check_name(name).map_err(|m| bad("", m))?;
    let command = match p.command.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => {
            return Err(bad(
                "command",
                "a program needs a command, e.g. command = \"node consumer.js\"".into(),
            ))
        }
    };
    let numprocs = p.numprocs.unwrap_or(1);
    if !(1..=MAX_NUMPROCS).contains(&numprocs) {
        return Err(bad(
            "numprocs",
            format!("{numprocs} is out of range: use 1 to {MAX_NUMPROCS} instances"),
        ));
    }
    let autorestart = autorestart(p.autorestart.as_ref()).map_err(|m| bad("autorestart", m))?;
    let exitcodes = match &p.exitcodes {
        None => vec![0],
        Some(codes) => codes
            .iter()
            .map(|&c| {
                u8::try_from(c).map(i32::from).map_err(|_| {
                    bad(
                        "exitcodes",
                        format!("{c} is not an exit code: use 0 to 255"),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let secs = |v: &Option<toml::Value>, key: &str, default: u64, max: u64| {
        let d = seconds(v.as_ref(), default).map_err(|m| bad(key, m))?;
        if d > Duration::from_secs(max) {
            return Err(bad(
                key,
                format!("{d:?} is too long: at most {max} seconds"),
            ));
        }
        Ok(d)
    };
    let stopsignal = match &p.stopsignal {
        Some(s) => StopSignal::parse(s).map_err(|m| bad("stopsignal", m))?,
        None => StopSignal::Term,
    };
    let max_bytes =
        logfile_bytes(p.logfile_maxbytes.as_ref()).map_err(|m| bad("logfile_maxbytes", m))?;
    let backups = p.logfile_backups.unwrap_or(10);
    if backups > 1000 {
        return Err(bad(
            "logfile_backups",
            format!("{backups} is too many: at most 1000"),
        ));
    }
    let logfile = |path: &Option<String>| {
        path.as_ref().map(|p| LogFile {
            path: PathBuf::from(p),
            max_bytes,
            backups,
        })
    };
    Ok(ProgramSpec {
        name: name.to_string(),
        place: place(&table, "command"),
        command,
        numprocs,
        autostart: p.autostart.unwrap_or(true),
        autorestart,
        exitcodes,
        startsecs: secs(&p.startsecs, "startsecs", 1, 3600)?,
        startretries: match p.startretries.unwrap_or(3) {
            n @ 0..=1000 => n,
            n => {
                // Each retry waits one second more than the last: 1000 tries take six days.
                return Err(bad(
                    "startretries",
                    format!("{n} is too many: at most 1000 (each retry waits a second longer)"),
                ));
            }
        },
        stopsignal,
        stopwaitsecs: secs(&p.stopwaitsecs, "stopwaitsecs", 10, 3600)?,
        environment: environment(p.environment.as_ref()).map_err(|m| bad("environment", m))?,
        directory: p.directory.as_ref().map(PathBuf::from),
        user: p
            .user
            .as_deref()
            .map(resolve_user)
            .transpose()
            .map_err(|m| bad("user", m))?,
        log_output: p.log_output.unwrap_or(log_output),
        stdout_logfile: logfile(&p.stdout_logfile),
        stderr_logfile: logfile(&p.stderr_logfile),
    })
}

/// Program names appear in instance names (`NAME:00`), URLs and metric labels.
fn check_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok) || name == "all" {
        return Err(format!(
            "{name:?} is not a usable program name: use 1 to 64 letters, digits or ._- \
             (not \"all\", which the start/stop commands take for every program)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
mod values;

use values::{autorestart, environment, logfile_bytes, resolve_user, seconds};
