//! Noticing that the store's file was deleted or replaced under the running daemon. SQLite
//! keeps writing into an unlinked file (its descriptors stay open): adds answered 201 and the
//! jobs were gone at the next start, while `/health` said only "no answer". So a descriptor of
//! the file is kept from open, and every write and every health PING first checks that the
//! path still names that file: two `stat`s, microseconds, no I/O on the data. The descriptor
//! (not just the inode number) because a deleted file's inode number is reused at once by a
//! new file under the same name; an inode still open cannot be reused.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The identity of the file the store opened.
#[derive(Debug)]
pub(super) struct FileIdentity {
    path: PathBuf,
    /// Held open for the store's life (read-only, never read): keeps the inode alive, so its
    /// number still names this file only.
    file: std::fs::File,
}

impl FileIdentity {
    /// The identity of the file at `path` now (just opened).
    pub(super) fn take(path: &Path) -> std::io::Result<FileIdentity> {
        Ok(FileIdentity {
            path: path.to_path_buf(),
            file: std::fs::File::open(path)?,
        })
    }

    /// `Err(why)` when the path no longer names the file the store opened.
    pub(super) fn check(&self) -> Result<(), String> {
        let same = match (self.file.metadata(), std::fs::metadata(&self.path)) {
            (Ok(ours), Ok(named)) => {
                ours.nlink() > 0 && ours.dev() == named.dev() && ours.ino() == named.ino()
            }
            _ => false,
        };
        if same {
            return Ok(());
        }
        Err(format!(
            "the embedded store file {} was deleted or replaced while the daemon ran; \
             nothing more is written (it would be lost at the next start): restore the file \
             or restart the daemon to start a new one",
            self.path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_or_replaced_file_is_noticed() {
        let dir = std::env::temp_dir().join(format!("cronq-presence-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        std::fs::write(&path, b"x").unwrap();
        let id = FileIdentity::take(&path).unwrap();
        assert!(id.check().is_ok());
        std::fs::remove_file(&path).unwrap();
        assert!(id.check().unwrap_err().contains("deleted or replaced"));
        std::fs::write(&path, b"y").unwrap();
        assert!(
            id.check().is_err(),
            "a new file under the same name is not ours"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
