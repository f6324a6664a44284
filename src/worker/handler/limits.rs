//! The kernel's limits on what a command receives, checked before it is started. Linux refuses
//! to start a program (`E2BIG`) when one argument or environment string passes
//! `MAX_ARG_STRLEN` (128 KiB, `NAME=value` and its NUL included), or when all of them together
//! pass `ARG_MAX`. Job data goes through the API up to 1 MiB, so `JOB_DATA` cannot always be
//! set: big data reaches the command on stdin only (where it always is), with
//! `JOB_DATA_OMITTED=1` saying so; `JOB_DATA_BYTES` always gives its size. What the job cannot
//! change (a crontab variable, the command itself) fails the run without retry, naming it:
//! another attempt would hit the same wall.

use super::JobError;

/// Linux's `MAX_ARG_STRLEN`: the most bytes one argument or `NAME=value` string may take, NUL included.
pub const MAX_ARG_STRLEN: usize = 128 * 1024;

/// Whether `NAME=value` fits in one environment string.
pub fn fits_env(name: &str, value: &str) -> bool {
    // The kernel counts the whole `NAME=value\0` string, which may be at most the limit.
    name.len() + "=".len() + value.len() + "\0".len() <= MAX_ARG_STRLEN
}

/// Refuses a crontab variable or command the kernel would refuse, naming it and the fix.
pub fn check_static(command: &str, env: &[(String, String)]) -> Result<(), JobError> {
    if let Some((name, value)) = env.iter().find(|(n, v)| !fits_env(n, v)) {
        return Err(JobError::Fatal(format!(
            "the crontab variable {name} is {} bytes: Linux refuses to start a command with an \
             environment variable of 128 KiB or more (E2BIG); keep the value in a file and pass its path",
            value.len()
        )));
    }
    if command.len() + 1 > MAX_ARG_STRLEN {
        return Err(JobError::Fatal(format!(
            "the command is {} bytes: Linux refuses to start one of 128 KiB or more (E2BIG); put it in a script",
            command.len()
        )));
    }
    Ok(())
}

/// The failure of a start the kernel refused for size: not retried, since the same command
/// with the same data would be refused again.
pub fn start_error(shell: &str, e: &std::io::Error, env_bytes: usize) -> JobError {
    if e.raw_os_error() == Some(nix::libc::E2BIG) {
        return JobError::Fatal(format!(
            "cannot start {shell:?}: its arguments and environment ({env_bytes} bytes of them set by \
             cronq and the crontab, plus the daemon's own) exceed the kernel's limit (E2BIG); \
             shrink the environment or the crontab variables"
        ));
    }
    JobError::Retryable(format!("cannot start {shell:?}: {e}"))
}

/// The bytes of environment cronq sets for a command (crontab variables and `JOB_*`), for the
/// E2BIG message; the inherited rest is not counted, since only `app` reads the environment.
pub fn added_env_bytes<'a>(added: impl Iterator<Item = (&'a str, &'a str)>) -> usize {
    added.map(|(k, v)| k.len() + v.len() + 2).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_string_limit_counts_name_equals_and_nul() {
        let at_limit = "x".repeat(MAX_ARG_STRLEN - "JOB_DATA=".len() - 1);
        assert!(fits_env("JOB_DATA", &at_limit));
        assert!(!fits_env("JOB_DATA", &format!("{at_limit}x")));
    }

    #[test]
    fn a_variable_or_command_the_kernel_refuses_fails_without_retry_naming_it() {
        let big = "v".repeat(MAX_ARG_STRLEN);
        let err = check_static("true", &[("BIG_VAR".into(), big.clone())]).unwrap_err();
        assert!(
            matches!(&err, JobError::Fatal(m) if m.contains("BIG_VAR") && m.contains("E2BIG")),
            "{err:?}"
        );
        let err = check_static(&big, &[]).unwrap_err();
        assert!(
            matches!(&err, JobError::Fatal(m) if m.contains("script")),
            "{err:?}"
        );
        assert!(check_static("true", &[("SMALL".into(), "v".into())]).is_ok());
    }
}
