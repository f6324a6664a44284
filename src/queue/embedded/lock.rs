//! One daemon per file: an exclusive, non-blocking `flock` on `<file>.lock`, taken by the first
//! `consume` of a process and held until it exits (the kernel drops it however the process
//! ends, `kill -9` included, so a stale lock cannot block the next start).
//!
//! Only consuming is exclusive. Opening the file is not: the CLI tools (`worker enqueue`,
//! `worker status`, `worker retry`…) never consume, so they keep working beside the daemon,
//! SQLite serialising their writes. A second daemon is refused at start ([`refuse_if_held`],
//! exit 2), or, if it raced past that check, fails its first `consume`; both messages name the
//! file, the holder's pid, and the way to run several daemons (Redis).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The held lock (released when dropped, or when the process ends).
pub(super) struct DaemonLock {
    _file: Flock<File>,
}

/// The lock file beside the database.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the daemon lock of `db`, writing this process's pid into the lock file.
pub(super) fn acquire(db: &Path) -> Result<DaemonLock, String> {
    let path = lock_path(db);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
    let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(f) => f,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            return Err(format!(
                "the embedded store {} is already used by another worker daemon{holder}: one file \
                 serves one daemon. Stop the other daemon, point this one at another file \
                 (CRONQ_DATA), or set REDIS_URL to run several daemons on one Redis",
                db.display()
            ));
        }
        Err((_, e)) => return Err(format!("cannot lock {}: {e}", path.display())),
    };
    // Best effort: the pid only makes the message above more helpful.
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(file, "{}", std::process::id());
    let _ = file.flush();
    Ok(DaemonLock { _file: file })
}

/// Whether a daemon holds `db`'s lock now (for the CLI's "no daemon reads this file" warning),
/// read from the kernel's lock table rather than by trying the lock: a tool holding it even for
/// an instant could make a daemon starting at that moment fail. `None` when it cannot be told
/// (no `/proc/locks`, an unreadable lock file).
pub(super) fn held(db: &Path) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let inode = match std::fs::metadata(lock_path(db)) {
        Ok(m) => m.ino(),
        // No lock file: no daemon ever consumed this file.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(false),
        Err(_) => return None,
    };
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    // `1: FLOCK  ADVISORY  WRITE <pid> <major>:<minor>:<inode> 0 EOF`; waiters (`1: -> FLOCK`)
    // hold nothing and are skipped.
    Some(table.lines().any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.get(1) == Some(&"FLOCK")
            && f.get(3) == Some(&"WRITE")
            && f.get(5)
                .and_then(|d| d.rsplit(':').next())
                .and_then(|i| i.parse::<u64>().ok())
                == Some(inode)
    }))
}

/// Refuses a daemon start on a file another daemon holds, before anything listens or runs.
/// Without this the second daemon's first `consume` fails, and the pool start (which retries
/// every store error, rightly for Redis outages) would keep it waiting as a silent standby.
/// Read from `/proc/locks` like [`held`]; when that cannot be told, `consume` still refuses.
/// Two daemons starting in the same instant both pass here; the loser's `consume` then fails.
pub(super) fn refuse_if_held(db: &Path) -> Result<(), String> {
    if held(db) != Some(true) {
        return Ok(());
    }
    let at = std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf());
    let mut holder = std::fs::read_to_string(lock_path(db)).unwrap_or_default();
    holder = match holder.trim() {
        "" => String::new(),
        pid => format!(" (pid {pid})"),
    };
    Err(format!(
        "the embedded store {} is held by another worker daemon{holder}: one file serves one \
         daemon. Stop the other daemon, point this one at another file (CRONQ_DATA), or set \
         REDIS_URL to run several daemons on one Redis",
        at.display()
    ))
}
