//! Scratch directories for unit tests: one per test name and process, emptied when made and
//! removed when dropped (also when the test fails), so reruns never meet old files.

use std::path::{Path, PathBuf};

/// A directory under the system's temp dir, removed with this value.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    /// `cronq-NAME-PID` under the temp dir, made empty.
    pub(crate) fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cronq-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory under the temp dir");
        Scratch(dir)
    }

    /// `file` inside it.
    pub(crate) fn join(&self, file: impl AsRef<Path>) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
