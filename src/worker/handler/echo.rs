//! Job output in the daemon's own output stream, as Supercronic shows it: each line a handler
//! prints is also a log line (info, with its channel, queue and job id, and for crontab entries
//! the entry's place, schedule and command), or, with `--passthrough-logs`, the raw line on the
//! daemon's stdout or stderr. Independent of the job's log in the store, which stays capped.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The log target of job stdout lines (`--split-logs` sends this target to stdout).
pub const STDOUT_TARGET: &str = "job.stdout";
/// The log target of job stderr lines.
pub const STDERR_TARGET: &str = "job.stderr";

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The handler's stdout.
    Stdout,
    /// The handler's stderr.
    Stderr,
}

impl Channel {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
        }
    }
}

/// What happens to a job's output lines besides its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoMode {
    /// Nothing (`log_output = false`).
    Off,
    /// One log line each.
    Log,
    /// Printed raw (`--passthrough-logs`).
    Passthrough,
}

impl EchoMode {
    /// The mode of a route: `log_output` from its handler or `[worker]`, and the daemon's
    /// `--passthrough-logs`.
    pub fn of(log_output: bool, passthrough: bool) -> EchoMode {
        match (log_output, passthrough) {
            (false, _) => EchoMode::Off,
            (true, false) => EchoMode::Log,
            (true, true) => EchoMode::Passthrough,
        }
    }
}

/// A crontab entry, as its output lines describe it.
#[derive(Debug, Default)]
pub struct EntryInfo {
    /// Readable name (the entry's `name`, else place and command).
    pub label: String,
    /// Stable id (the job name in the `cron` queue).
    pub id: String,
    /// `FILE:LINE`.
    pub place: String,
    /// The schedule expression as written.
    pub schedule: String,
    /// The command.
    pub command: String,
    /// Its index among the crontab's command entries, from 0 (Supercronic's `job.position`).
    pub position: usize,
    /// Runs started since the entry was (re)loaded; each run's output lines carry the count
    /// before it (Supercronic's `iteration`, from 0). Only [`Echo::new`] adds to it.
    pub runs: AtomicU64,
}

impl EntryInfo {
    /// The entry as Supercronic's metrics label it.
    pub fn metric_labels(&self) -> crate::metrics::supercronic::EntryLabels<'_> {
        crate::metrics::supercronic::EntryLabels {
            command: &self.command,
            position: self.position,
            schedule: &self.schedule,
        }
    }
}

/// Where one job's output goes besides its log.
#[derive(Debug, Clone)]
pub struct Echo {
    mode: EchoMode,
    queue: String,
    job_id: String,
    entry: Option<Arc<EntryInfo>>,
    iteration: u64,
}

impl Echo {
    /// Output of job `job_id` of `queue`, run for `entry` when it is a crontab entry's.
    pub fn new(mode: EchoMode, queue: &str, job_id: &str, entry: Option<Arc<EntryInfo>>) -> Echo {
        let iteration = entry
            .as_ref()
            .map_or(0, |e| e.runs.fetch_add(1, Ordering::Relaxed));
        Echo {
            mode,
            queue: queue.to_string(),
            job_id: job_id.to_string(),
            entry,
            iteration,
        }
    }

    /// Output goes only to the job's log.
    pub fn off() -> Echo {
        Echo::new(EchoMode::Off, "", "", None)
    }

    /// Shows one line (without its newline). Log fields are escaped by the log formatter, so a
    /// line cannot forge log lines; passthrough prints the bytes the job wrote, as asked.
    pub fn line(&self, channel: Channel, text: &str) {
        match self.mode {
            EchoMode::Off => {}
            EchoMode::Passthrough => {
                // Locked per line, so lines of jobs running at once never interleave mid-line.
                let _ = match channel {
                    Channel::Stdout => writeln!(std::io::stdout().lock(), "{text}"),
                    Channel::Stderr => writeln!(std::io::stderr().lock(), "{text}"),
                };
            }
            EchoMode::Log => self.log(channel, text),
        }
    }

    fn log(&self, channel: Channel, text: &str) {
        // A macro, because a tracing target must be a constant.
        macro_rules! emit {
            ($target:expr) => {
                match &self.entry {
                    Some(e) => tracing::info!(target: $target, channel = channel.as_str(), queue = %self.queue,
                        job_id = %self.job_id, entry = e.label.as_str(), entry_id = %e.id, place = e.place.as_str(),
                        schedule = e.schedule.as_str(), command = e.command.as_str(), position = e.position,
                        iteration = self.iteration, "{text}"),
                    None => tracing::info!(target: $target, channel = channel.as_str(), queue = %self.queue,
                        job_id = %self.job_id, "{text}"),
                }
            };
        }
        match channel {
            Channel::Stdout => emit!(STDOUT_TARGET),
            Channel::Stderr => emit!(STDERR_TARGET),
        }
    }
}
