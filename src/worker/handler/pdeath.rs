//! Handlers die with the daemon. A `kill -9` of the daemon used to leave its exec handlers
//! running: they finished their work unseen, and stalled recovery then ran the job again.
//!
//! Linux's parent-death signal (`PR_SET_PDEATHSIG`) ends a process when its parent dies, but it
//! must be set by the child itself, between fork and exec. `CommandExt::pre_exec` is the usual
//! place and is `unsafe` (this crate forbids `unsafe_code`); `setpriv --pdeathsig` is not in
//! Alpine by default. So the daemon spawns each handler through itself:
//! `worker __exec-child PARENT_PID SHELL ARGS…` sets the signal on itself through nix's safe
//! wrapper and checks its parent is still the daemon (it may have died before the signal was
//! armed). Same process group, pipes and environment for the shell: the handler code sees no
//! difference.
//!
//! The signal reaches one process only, and a handler's shell often has children of its own
//! (`cmd1; cmd2`, pipelines). So the re-exec'ed child does not become the shell: it stays as a
//! tiny supervisor that is the leader of the handler's process group, spawns the shell in it,
//! and on the parent-death signal kills the whole group (itself included). It blocks the
//! signals it waits for once the shell is started (`sigwait`, no handler, no unsafe). SIGTERM/SIGINT/SIGHUP sent to the group reach the shell directly, so the
//! supervisor ignores them and keeps waiting: the shell keeps its grace period. The shell's exit
//! status is passed on (a death by signal is re-raised), so outcomes read the same as before.
//!
//! The signal follows the *thread* that forked: handlers are spawned from the runtime's worker
//! threads, which live as long as the daemon.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use nix::sys::signal::{killpg, raise, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpgrp, getppid, Pid};

/// The first argument that selects the re-exec path in `main`.
pub const EXEC_CHILD_ARG: &str = "__exec-child";

/// Delivered when the daemon dies; not one a handler or an operator sends to the group.
const PARENT_DIED: Signal = Signal::SIGUSR2;

/// The daemon's own executable, set once by `main` (the only place that knows the process is
/// the `worker` binary; library tests spawn handlers directly, without the signal).
static LAUNCHER: OnceLock<PathBuf> = OnceLock::new();

/// Spawn exec handlers through `exe` from now on.
pub fn use_launcher(exe: PathBuf) {
    let _ = LAUNCHER.set(exe);
}

/// `(program, leading args)` to run `shell` with a parent-death signal, or `None` when no
/// launcher is set (then the shell is spawned directly).
pub(super) fn launcher(shell: &str) -> Option<(PathBuf, Vec<OsString>)> {
    let exe = LAUNCHER.get()?;
    let me = std::process::id().to_string();
    Some((
        exe.clone(),
        vec![EXEC_CHILD_ARG.into(), me.into(), shell.into()],
    ))
}

/// The `__exec-child` side: `args` are what follows [`EXEC_CHILD_ARG`]: the parent's PID, the
/// program and its arguments. Exits as the program did; 127 when it cannot start.
pub fn exec_child(args: Vec<OsString>) -> ExitCode {
    let mut args = args.into_iter();
    let parent = args.next().and_then(|p| p.to_str()?.parse::<i32>().ok());
    let Some(program) = args.next() else {
        eprintln!("error: {EXEC_CHILD_ARG} needs PARENT_PID PROGRAM [ARGS…] (internal use)");
        return ExitCode::from(127);
    };
    if let Err(e) = nix::sys::prctl::set_pdeathsig(PARENT_DIED) {
        // Kernels without it: run anyway, as before.
        eprintln!("warning: cannot set the parent-death signal: {e}");
    }
    // Armed only now: a parent that died in between left us to another one.
    if parent.is_some_and(|p| getppid().as_raw() != p) {
        return ExitCode::from(127);
    }
    // Spawned before the signals are blocked, because std passes the signal mask on to the
    // child (resetting it would take an unsafe `pre_exec`). In the microseconds in between, a
    // parent death or a TERM ends only this process (default action); the shell then goes with
    // the daemon's kill of the group, which follows when the group's leader (this) ends.
    let child = match std::process::Command::new(&program).args(args).spawn() {
        Ok(c) => Pid::from_raw(c.id() as i32),
        Err(e) => {
            eprintln!("error: cannot start {program:?}: {e}");
            return ExitCode::from(127);
        }
    };
    let mut waited = SigSet::empty();
    for s in [
        PARENT_DIED,
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        // A supervised program's `stopsignal` may be QUIT or USR1 (see the programs room): like
        // TERM, it is for the program, and must not end this leader first.
        Signal::SIGQUIT,
        Signal::SIGUSR1,
    ] {
        waited.add(s);
    }
    let _ = waited.thread_block();
    // A shell that ended before the block sent a SIGCHLD that is gone: look once first.
    if let Some(code) = reap(child) {
        return code;
    }
    loop {
        match waited.wait() {
            Ok(PARENT_DIED) => {
                // Our group: the shell and everything it started, and us.
                let _ = killpg(getpgrp(), Signal::SIGKILL);
                return ExitCode::from(137);
            }
            Ok(Signal::SIGCHLD) => {}
            // Sent to the whole group: the shell has it too and decides.
            Ok(_) | Err(_) => continue,
        }
        if let Some(code) = reap(child) {
            return code;
        }
    }
}

/// `child`'s exit passed on, once it has ended; `None` while it runs.
fn reap(child: Pid) -> Option<ExitCode> {
    match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Some(ExitCode::from(code as u8)),
        Ok(WaitStatus::Signaled(_, sig, _)) => {
            // Die the same way, so the daemon reads the same status.
            let mut one = SigSet::empty();
            one.add(sig);
            let _ = one.thread_unblock();
            let _ = raise(sig);
            Some(ExitCode::from(128 + sig as u8))
        }
        Ok(_) => None,
        Err(_) => Some(ExitCode::from(127)),
    }
}
