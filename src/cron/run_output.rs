//! What a finished run of an entry left behind, for check-ins and notifications: its failure
//! reason, attempts, exit code and last output lines, read from the job as the store keeps it.
//! The job's hash and log list are written by whoever ran it (maybe a foreign producer's
//! worker): every field here is untrusted text, capped and parsed defensively.

use crate::queue::JobInfo;

/// Output lines carried (the end of the job's log), like a terminal's last screenful.
pub const LAST_LINES: usize = 10;

/// Bytes kept of one carried line: a job may log a huge line.
const MAX_LINE: usize = 1000;

/// A finished run, as told to a check-in service or a webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutput {
    /// Why it failed (`None` when it completed).
    pub reason: Option<String>,
    /// Attempts made.
    pub attempts: u64,
    /// The command's exit code when its handler reported one (`exit status N` in the reason,
    /// as the exec handler words it); `None` otherwise (a signal, a builtin, an HTTP handler).
    pub exit_code: Option<i32>,
    /// The last [`LAST_LINES`] lines of the job's log, oldest first.
    pub last_output: Vec<String>,
}

impl RunOutput {
    /// The run `job` as read back (a missing job tells nothing).
    pub fn of(job: Option<&JobInfo>) -> Self {
        let Some(j) = job else {
            return Self::default();
        };
        let logs = j.logs.as_deref().unwrap_or_default();
        let last_output = logs[logs.len().saturating_sub(LAST_LINES)..]
            .iter()
            .map(|l| cap(l))
            .collect();
        Self {
            reason: j.failed_reason.clone(),
            attempts: j.attempts_made,
            exit_code: j.failed_reason.as_deref().and_then(exit_code),
            last_output,
        }
    }

    /// The healthchecks.io `/fail` body: the reason, then the last output lines.
    pub fn fail_body(&self) -> String {
        let mut body = self.reason.clone().unwrap_or_default();
        if !self.last_output.is_empty() {
            body.push_str("\n\nlast output:\n");
            body.push_str(&self.last_output.join("\n"));
        }
        body
    }
}

/// The exit code in a reason worded `exit status N…` (the exec handler's words).
fn exit_code(reason: &str) -> Option<i32> {
    let rest = reason.strip_prefix("exit status ")?;
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

fn cap(line: &str) -> String {
    if line.len() <= MAX_LINE {
        return line.to_string();
    }
    format!("{}…", crate::rules::cut_to(line, MAX_LINE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_read_only_from_the_exec_wording() {
        assert_eq!(exit_code("exit status 3: disk full"), Some(3));
        assert_eq!(exit_code("exit status 127"), Some(127));
        assert_eq!(exit_code("killed by signal 9"), None);
        assert_eq!(exit_code("exit status 99999999999999"), None);
        assert_eq!(exit_code("disk full"), None);
    }

    #[test]
    fn the_last_lines_are_kept_capped() {
        assert_eq!(cap(&"é".repeat(600)).chars().count(), 501);
        assert_eq!(cap("short"), "short");
    }
}
