//! The Node side of `node = { file = "…" }`: a small bootstrap of our own (`bootstrap.mjs`,
//! shipped inside the binary) that loads a BullMQ sandboxed processor file once per process
//! and calls its exported function per job over the line protocol. Written to a temp file the
//! first time a node handler starts a process, because Node runs files, not strings, and
//! `--input-type` would lose the file's own directory for relative imports.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The bootstrap's source.
pub const BOOTSTRAP: &str = include_str!("bootstrap.mjs");

/// The written bootstrap's path, once written (or why it could not be).
static WRITTEN: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The bootstrap file, written on first use (one per daemon process: the pid is in its name,
/// so two daemons on one host, or an upgrade, never run each other's).
pub fn bootstrap() -> Result<PathBuf, String> {
    WRITTEN
        .get_or_init(|| {
            let path = std::env::temp_dir().join(format!("cronq-node-bootstrap-{}.mjs", std::process::id()));
            std::fs::write(&path, BOOTSTRAP)
                .map(|()| path.clone())
                .map_err(|e| {
                    format!(
                        "cannot write the Node bootstrap to {}: {e}; give the worker a writable temp directory (TMPDIR)",
                        path.display()
                    )
                })
        })
        .clone()
}
