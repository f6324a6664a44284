//! Noticing that the store's file was deleted or replaced under the running daemon. SQLite
//! keeps writing into an unlinked file (its descriptors stay open): adds answered 201 and the
//! jobs were gone at the next start, while `/health` said only "no answer". So the file's
//! identity (device and inode) is taken at open, and every write and every health PING first
//! checks that the path still names that file: one `stat`, microseconds, no I/O on the data.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The identity of the file the store opened.
#[derive(Debug)]
pub(super) struct FileIdentity {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    /// The identity of the file at `path` now (just opened).
    pub(super) fn take(path: &Path) -> std::io::Result<FileIdentity> {
        let meta = std::fs::metadata(path)?;
        Ok(FileIdentity {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// `Err(why)` when the path no longer names the file the store opened.
    pub(super) fn check(&self) -> Result<(), String> {
        let same = std::fs::metadata(&self.path)
            .map(|m| m.dev() == self.dev && m.ino() == self.ino)
            .unwrap_or(false);
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
