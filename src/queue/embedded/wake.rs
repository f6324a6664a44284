//! Noticing other processes' writes to the file without polling: an inotify watch on the
//! database's folder, reporting changes of the database file and of its WAL (`<file>-wal`).
//!
//! Every commit of any process (a CLI `worker enqueue`, `worker retry`…) appends frames to the
//! WAL, and each `write(2)` raises `IN_MODIFY`. The kernel merges identical unread events, so a
//! busy file costs one queued event, not one per write, and a loop that is busy (not waiting)
//! reads nothing at all.
//!
//! One watch per store (one inotify instance per process, whatever the number of queues: the
//! instances a user may hold are few, 128 by default). Its task, [`forward`], turns each change
//! into the wake-ups an in-process write gives: `Inner::ready` (idle fetch loops) and
//! `Inner::committed` (event readers).
//!
//! Why this is race-free with the claim: a fetch loop registers on `ready` before it claims in
//! a `BEGIN IMMEDIATE` transaction. A change noticed after that wakes it; a write noticed
//! before it holds SQLite's write lock from before its first WAL write until its commit is
//! visible, so the claim's `BEGIN IMMEDIATE` waits for it and sees the job.
//!
//! The folder is watched, not the WAL itself, so a WAL that SQLite deletes and re-creates (the
//! last connection closing, a checkpoint truncating it) keeps being watched. Our own commits
//! raise events too: they only cost a spurious claim of an idle loop.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::sync::Weak;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;

use super::Inner;

/// Wakes the store's idle loops and event readers at every change of its file by another
/// process (and by this one: those wake-ups only cost an idle loop an empty claim). Ends after
/// the store is dropped (at the next change, or with the runtime).
pub(super) async fn forward(files: FileWake, store: Weak<Inner>) {
    loop {
        files.changed().await;
        let Some(inner) = store.upgrade() else {
            return;
        };
        inner.ready.notify_waiters();
        inner.committed.notify_waiters();
    }
}

/// The inotify instance of one store's file.
pub(super) struct FileWake {
    fd: AsyncFd<Fd>,
    /// The names (in the watched folder) whose changes matter: the file and its WAL.
    names: [OsString; 2],
}

/// `AsyncFd` wants `AsRawFd`; nix's `Inotify` offers `AsFd`.
struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl FileWake {
    /// Watches the folder of `db`. Fails when inotify is unavailable (no instances left:
    /// `fs.inotify.max_user_instances`); the caller then falls back to polling.
    pub(super) fn new(db: &Path) -> Result<FileWake, String> {
        let name = db
            .file_name()
            .ok_or_else(|| format!("{} names no file", db.display()))?
            .to_owned();
        let dir = match db.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| format!("inotify: {e}"))?;
        // IN_MODIFY: every write to a file of the folder. IN_CREATE/IN_MOVED_TO: a WAL or
        // database file that appears anew (its first frames raise IN_MODIFY too; this only
        // covers a file replaced by a rename).
        ino.add_watch(
            dir,
            AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
        )
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        let mut wal = name.clone();
        wal.push("-wal");
        // `new` is deprecated for types whose fd may be closed or swapped while registered; the
        // safe replacement (`register`) is `unsafe`, which this crate forbids. Sound here: `Fd`
        // owns the inotify descriptor and the `AsyncFd` owns `Fd` until it is dropped.
        #[allow(deprecated)]
        let fd = AsyncFd::new(Fd(ino)).map_err(|e| format!("inotify: {e}"))?;
        Ok(FileWake {
            fd,
            names: [name, wal],
        })
    }

    /// Reads every pending event without waiting; returns whether one concerned the file.
    fn drain(&self) -> bool {
        let mut relevant = false;
        loop {
            match self.fd.get_ref().0.read_events() {
                Ok(events) if events.is_empty() => return relevant,
                Ok(events) => relevant |= events.iter().any(|e| self.concerns(&e.mask, &e.name)),
                // EAGAIN: nothing left. Any other error: report a change (a spurious claim
                // costs little; a missed one would leave a job waiting).
                Err(Errno::EAGAIN) => return relevant,
                Err(_) => return true,
            }
        }
    }

    /// Waits until the file changes (after the last [`FileWake::drain`]).
    pub(super) async fn changed(&self) {
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                // The reactor is gone (runtime shutting down): never wake.
                return std::future::pending().await;
            };
            guard.clear_ready();
            if self.drain() {
                return;
            }
        }
    }

    fn concerns(&self, mask: &AddWatchFlags, name: &Option<OsString>) -> bool {
        // Queue overflow: events were lost, so assume the file changed.
        mask.contains(AddWatchFlags::IN_Q_OVERFLOW)
            || name.as_ref().is_some_and(|n| self.names.contains(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_to_the_wal_wakes_and_other_files_do_not() {
        let dir = std::env::temp_dir().join(format!("cronq-wake-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("cronq.db");
        let wake = FileWake::new(&db).unwrap();
        assert!(!wake.drain(), "nothing written yet");
        std::fs::write(dir.join("other.txt"), b"x").unwrap();
        assert!(!wake.drain(), "another file of the folder is not the store");
        std::fs::write(dir.join("cronq.db-wal"), b"frame").unwrap();
        // The event is queued by the write itself: `changed` returns without waiting.
        tokio::time::timeout(std::time::Duration::from_secs(5), wake.changed())
            .await
            .expect("the WAL write was noticed");
        assert!(!wake.drain(), "the event was consumed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
