//! One daemon per file: an exclusive, non-blocking `flock` on `<file>.lock`, taken by the first
//! `consume` of a process and held until it exits (the kernel drops it however the process
//! ends, `kill -9` included, so a stale lock cannot block the next start).
//!
//! Only consuming is exclusive. Opening the file is not: the CLI tools (`worker enqueue`,
//! `worker status`, `worker retry`…) never consume, so they keep working beside the daemon,
//! SQLite serialising their writes. The daemon takes the lock at start ([`claim`]) and holds
//! it for its lifetime, so a second daemon is refused at once (exit 2) even when both start in
//! the same instant; the message names the file, the holder's pid and host, and the way to run
//! several daemons (Redis).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The held lock (released when the last holder drops it, or when the process ends).
///
/// Cloned between the daemon start (which takes it first, see [`claim`]) and the first
/// `consume`, which finds it in [`HELD`] instead of locking the file a second time: `flock`
/// belongs to an open file description, so a second `open` + `flock` in the same process
/// would conflict with the first.
#[derive(Clone)]
pub struct DaemonLock {
    _file: Arc<Flock<File>>,
}

/// The locks this process holds, by lock-file path. Weak: the holders (the daemon start's
/// guard, the store's `daemon` slot) own the lock; this only lets a later `acquire` share it.
static HELD: Mutex<Vec<(PathBuf, Weak<Flock<File>>)>> = Mutex::new(Vec::new());

/// The lock file beside the database.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    std::path::absolute(&path).unwrap_or(path)
}

/// Who holds a lock, as written in its file: `pid N on host H`.
fn holder_of(file: &mut File) -> String {
    let mut holder = String::new();
    let _ = std::io::Seek::seek(file, std::io::SeekFrom::Start(0));
    let _ = file.read_to_string(&mut holder);
    match holder.trim() {
        "" => String::new(),
        // Escaped: the file is writable by anyone who can write the data folder.
        text => format!(" ({})", text.escape_debug()),
    }
}

/// Takes the daemon lock of `db` (or shares the one this process already holds), writing
/// `pid N on host H` into the lock file. The `flock` itself is the atomic check: of two
/// daemons starting in the same instant exactly one gets it.
pub(super) fn acquire(db: &Path) -> Result<DaemonLock, String> {
    let path = lock_path(db);
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    held.retain(|(_, w)| w.strong_count() > 0);
    if let Some(file) = held
        .iter()
        .find(|(p, _)| *p == path)
        .and_then(|(_, w)| w.upgrade())
    {
        return Ok(DaemonLock { _file: file });
    }
    // The daemon takes the lock before the store opens (and creates) the file's folder.
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
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
            // The winner writes its pid and host just after it takes the lock: a daemon that
            // lost by microseconds may read an empty file, so it looks again for a moment
            // (only on this refusal path, which ends the process).
            let mut holder = holder_of(&mut file);
            for _ in 0..25 {
                if !holder.is_empty() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                holder = holder_of(&mut file);
            }
            let at = std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf());
            return Err(format!(
                "the embedded store {} is already in use: held by another worker daemon{holder}: \
                 one file serves one daemon. Stop the other daemon, point this one at another \
                 file (CRONQ_DATA), or set REDIS_URL to run several daemons on one Redis",
                at.display()
            ));
        }
        Err((_, e)) => return Err(format!("cannot lock {}: {e}", path.display())),
    };
    // Best effort: the holder only makes the message above more helpful.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(file, "pid {} on host {}", std::process::id(), host.trim());
    let _ = file.flush();
    let file = Arc::new(file);
    held.push((path, Arc::downgrade(&file)));
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

/// Takes `db`'s daemon lock at daemon start, before anything listens or runs, and returns it
/// for the daemon to hold for its lifetime. Without this the second daemon's first `consume`
/// fails, and the pool start (which retries every store error, rightly for Redis outages)
/// would keep it waiting as a silent standby. Taking the lock, rather than looking at
/// `/proc/locks`, makes the check atomic: two daemons starting in the same instant cannot
/// both pass.
pub(super) fn claim(db: &Path) -> Result<DaemonLock, String> {
    acquire(db)
}
