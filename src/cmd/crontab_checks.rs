//! Start-up checks of a crontab's commands that parsing cannot make: the shell exists and can
//! be run, and no crontab variable is too large to pass to a process. Run by the daemon before
//! it starts and by `--test-crontab` (`-test`), so that `-test` passes exactly what the daemon
//! would start with.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::cron::{Action, Plan};

/// Linux refuses to `exec` with any single `KEY=value` string of this size or more (E2BIG:
/// `MAX_ARG_STRLEN`, 32 pages of 4 KiB): every run of the entry would fail.
pub(super) const MAX_ENV_STRING: usize = 128 * 1024;

/// One message per problem, each naming the entry's `FILE:LINE` and the fix.
pub fn exec_checks(plan: &Plan, path_var: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut shells_seen = Vec::new();
    for e in plan.commands() {
        let Action::Command { shell, env, .. } = &e.action else {
            continue;
        };
        if !shells_seen.contains(shell) {
            shells_seen.push(shell.clone());
            if let Err(why) = runnable(shell, path_var) {
                out.push(format!(
                    "{}: SHELL={shell} {why}: set SHELL to an installed shell (e.g. /bin/sh)",
                    e.place
                ));
            }
        }
        for (key, value) in env {
            let size = key.len() + 1 + value.len() + 1;
            if size >= MAX_ENV_STRING {
                out.push(format!(
                    "{}: the crontab variable {key} is {} KiB; a process cannot receive a \
                     variable of 128 KiB or more (E2BIG), so every run would fail: shorten it \
                     or pass it in a file",
                    e.place,
                    size / 1024
                ));
            }
        }
    }
    out.dedup();
    out
}

/// Whether `shell` names an executable file (a bare name is looked up in `PATH`).
fn runnable(shell: &str, path_var: Option<&str>) -> Result<(), &'static str> {
    let candidates: Vec<std::path::PathBuf> = if shell.contains('/') {
        vec![shell.into()]
    } else {
        path_var
            .unwrap_or("/usr/bin:/bin")
            .split(':')
            .map(|d| Path::new(d).join(shell))
            .collect()
    };
    let mut found = false;
    for c in candidates {
        if let Ok(m) = std::fs::metadata(&c) {
            found = true;
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(());
            }
        }
    }
    Err(if found {
        "is not an executable file"
    } else {
        "does not exist"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_shell_is_found() {
        assert!(runnable("/bin/sh", None).is_ok());
        assert!(runnable("sh", Some("/usr/bin:/bin")).is_ok());
        assert_eq!(runnable("/nonexistent/sh", None), Err("does not exist"));
        // A file of our own without execute bits (a system file such as /etc/hostname may
        // carry them on some machines).
        let plain = std::env::temp_dir().join(format!("cronq-not-a-shell-{}", std::process::id()));
        std::fs::write(&plain, "not a shell").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let verdict = runnable(plain.to_str().unwrap(), None);
        let _ = std::fs::remove_file(&plain);
        assert_eq!(verdict, Err("is not an executable file"));
    }
}
