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
        startretries: p.startretries.unwrap_or(3).min(1000),
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

fn autorestart(v: Option<&toml::Value>) -> Result<AutoRestart, String> {
    match v {
        None => Ok(AutoRestart::Unexpected),
        Some(toml::Value::Boolean(true)) => Ok(AutoRestart::Always),
        Some(toml::Value::Boolean(false)) => Ok(AutoRestart::Never),
        Some(toml::Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "unexpected" => Ok(AutoRestart::Unexpected),
            "true" => Ok(AutoRestart::Always),
            "false" => Ok(AutoRestart::Never),
            _ => Err(format!(
                "{s:?} is not a restart policy: use true, false or \"unexpected\""
            )),
        },
        Some(other) => Err(format!(
            "{other} is not a restart policy: use true, false or \"unexpected\""
        )),
    }
}

/// Supervisor writes whole seconds; a duration string (`500ms`, `2s`) is read too.
fn seconds(v: Option<&toml::Value>, default: u64) -> Result<Duration, String> {
    match v {
        None => Ok(Duration::from_secs(default)),
        Some(toml::Value::Integer(n)) if *n >= 0 => Ok(Duration::from_secs(*n as u64)),
        Some(toml::Value::String(s)) => super::units::duration(s),
        Some(other) => Err(format!(
            "{other} is not a duration: write whole seconds (5) or e.g. \"500ms\""
        )),
    }
}

/// Bytes, or a size with a unit (`10MB`, Supervisor's spelling; powers of 1024).
fn logfile_bytes(v: Option<&toml::Value>) -> Result<u64, String> {
    match v {
        None => Ok(50 * 1024 * 1024),
        Some(toml::Value::Integer(n)) if *n >= 0 => Ok(*n as u64),
        Some(toml::Value::String(s)) => {
            let t = s.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let n: u64 = num.parse().map_err(|_| size_error(s))?;
            let per = match unit.trim().to_ascii_uppercase().as_str() {
                "" | "B" => 1,
                "K" | "KB" | "KIB" => 1024,
                "M" | "MB" | "MIB" => 1024 * 1024,
                "G" | "GB" | "GIB" => 1024 * 1024 * 1024,
                _ => return Err(size_error(s)),
            };
            n.checked_mul(per).ok_or_else(|| size_error(s))
        }
        Some(other) => Err(size_error(&other.to_string())),
    }
}

fn size_error(s: &str) -> String {
    format!("{s:?} is not a size: write bytes (1048576) or e.g. \"10MB\", \"512KB\"")
}

/// A table, or Supervisor's `KEY="val",KEY2=val2` string.
fn environment(v: Option<&toml::Value>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    match v {
        None => {}
        Some(toml::Value::Table(t)) => {
            for (k, v) in t {
                let v = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                        v.to_string()
                    }
                    _ => return Err(format!("{k}: the value must be a string, number or boolean")),
                };
                out.insert(k.clone(), v);
            }
        }
        Some(toml::Value::String(s)) => {
            for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{pair:?} is not KEY=value"))?;
                let v = v.trim().trim_matches('"');
                out.insert(k.trim().to_string(), v.to_string());
            }
        }
        Some(other) => {
            return Err(format!(
                "{other} is not an environment: write a table, e.g. environment = {{ APP_ENV = \"prod\" }}"
            ))
        }
    }
    for k in out.keys() {
        let ok = !k.is_empty()
            && !k.contains(['=', '\0'])
            && !k.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            return Err(format!("{k:?} is not a variable name"));
        }
        if k == "PROCESS_NUM" {
            return Err("PROCESS_NUM is set by cronq for each instance".into());
        }
    }
    Ok(out)
}

/// `user = "www-data"`: its uid and primary gid. Only root can switch users; refusing here
/// beats a program that fails every start with EPERM.
fn resolve_user(name: &str) -> Result<(u32, u32), String> {
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| format!("cannot look up user {name:?}: {e}"))?
        .ok_or_else(|| format!("no user {name:?} on this system (see /etc/passwd)"))?;
    let (uid, gid) = (user.uid.as_raw(), user.gid.as_raw());
    if !nix::unistd::geteuid().is_root() && nix::unistd::geteuid().as_raw() != uid {
        return Err(format!(
            "switching to user {name:?} needs the daemon to run as root; remove `user` or run \
             cronq as root (it runs as uid {})",
            nix::unistd::geteuid()
        ));
    }
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<ProgramSpec, String> {
        let raw: BTreeMap<String, RawProgram> = toml::from_str(text).map_err(|e| e.to_string())?;
        let place = |t: &str, k: &str| format!("[{t}] {k}");
        programs(&raw, &place, true)
            .map(|m| m.into_values().next().unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn supervisor_defaults() {
        let p = one("[w]\ncommand = \"php consume\"").unwrap();
        assert_eq!(p.numprocs, 1);
        assert!(p.autostart);
        assert_eq!(p.autorestart, AutoRestart::Unexpected);
        assert_eq!(p.exitcodes, vec![0]);
        assert_eq!(p.startsecs, Duration::from_secs(1));
        assert_eq!(p.startretries, 3);
        assert_eq!(p.stopsignal, StopSignal::Term);
        assert_eq!(p.stopwaitsecs, Duration::from_secs(10));
    }

    #[test]
    fn refusals_name_the_key_and_the_fix() {
        for (text, key, says) in [
            ("numprocs = 0", "numprocs", "1 to 100"),
            (
                "autorestart = \"sometimes\"",
                "autorestart",
                "\"unexpected\"",
            ),
            ("stopsignal = \"BOGUS\"", "stopsignal", "TERM, HUP"),
            ("stopsignal = \"USR2\"", "stopsignal", "reserved"),
            ("exitcodes = [300]", "exitcodes", "0 to 255"),
            (
                "logfile_maxbytes = \"10 parsecs\"",
                "logfile_maxbytes",
                "10MB",
            ),
            ("environment = \"NOEQUALS\"", "environment", "KEY=value"),
        ] {
            let e = one(&format!("[w]\ncommand = \"x\"\n{text}")).unwrap_err();
            assert!(e.contains(&format!("[programs.w] {key}")), "{e}");
            assert!(e.contains(says), "{e}");
        }
        let e = one("[w]\nnumprocs = 1").unwrap_err();
        assert!(e.contains("needs a command"), "{e}");
        let e = one("[\"a:b\"]\ncommand = \"x\"").unwrap_err();
        assert!(e.contains("not a usable program name"), "{e}");
    }

    #[test]
    fn sizes_and_environments_in_both_spellings() {
        let p = one(
            "[w]\ncommand = \"x\"\nlogfile_maxbytes = \"10MB\"\nstdout_logfile = \"/tmp/o\"\n\
             environment = 'A=1,B=\"two\"'",
        )
        .unwrap();
        assert_eq!(p.stdout_logfile.unwrap().max_bytes, 10 * 1024 * 1024);
        assert_eq!(p.environment.get("B").map(String::as_str), Some("two"));
        let p = one("[w]\ncommand = \"x\"\nenvironment = { A = \"1\", N = 2 }").unwrap();
        assert_eq!(p.environment.get("N").map(String::as_str), Some("2"));
    }
}
