//! PID 1 duties: when cronq is the container's init, orphaned grandchildren are re-parented to
//! it and must be reaped, or they stay zombies forever. A blanket `waitpid(-1)` would steal
//! exit statuses from the handlers' own children (tokio waits for those by PID), so the reaper
//! only collects zombies that are *not* in the handler registry, and holds the registry lock
//! while it does (spawning holds it until the new PID is recorded).

use std::time::Duration;

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

use crate::worker::handler::exec::own_children;

/// Starts the reaper when this process is PID 1; a no-op otherwise.
pub fn spawn_if_init() {
    if std::process::id() != 1 {
        return;
    }
    tracing::info!("running as PID 1: reaping orphaned processes");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        // Reaps through the drain too; the task ends with the runtime.
        loop {
            tick.tick().await;
            reap_orphans();
        }
    });
}

/// Reaps zombie children that no handler is waiting for. Returns how many.
pub fn reap_orphans() -> usize {
    let me = std::process::id() as i32;
    let zombies = zombie_children(me);
    if zombies.is_empty() {
        return 0;
    }
    let own = own_children();
    let mut reaped = 0;
    for pid in zombies.into_iter().filter(|p| !own.contains(p)) {
        if waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)).is_ok() {
            reaped += 1;
        }
    }
    reaped
}

/// PIDs in `/proc` whose parent is `parent` and whose state is `Z` (zombie).
fn zombie_children(parent: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // "pid (comm) S ppid …": comm may contain spaces and parentheses; parse after the last ')'.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return false;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let ppid = fields.next().and_then(|p| p.parse::<i32>().ok());
            state == Some("Z") && ppid == Some(parent)
        })
        .collect()
}
