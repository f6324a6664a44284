//! A program's log file, rotated as Supervisor rotates `stdout_logfile`: before a write would
//! take the file past `logfile_maxbytes`, `FILE.(n-1)` becomes `FILE.n` … `FILE` becomes
//! `FILE.1`, the oldest past `logfile_backups` is removed, and a fresh `FILE` is begun. With no
//! backups the file is truncated instead; with a size of 0 it is never rotated.
//!
//! A write that fails (disk full, directory gone) is reported once per failure streak and the
//! line still reaches the daemon's log and the tail: a log file never stops the program.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::programs::LogFile;

/// An open, rotating log file.
#[derive(Debug)]
pub struct Rotating {
    spec: LogFile,
    file: Option<File>,
    size: u64,
    /// Set after a failed write is reported, cleared by the next good one.
    failing: bool,
}

impl Rotating {
    /// Opens (appending to) the file of `spec`; directories are not created.
    pub fn open(spec: LogFile) -> Rotating {
        let mut r = Rotating {
            spec,
            file: None,
            size: 0,
            failing: false,
        };
        r.reopen();
        r
    }

    fn reopen(&mut self) {
        match OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.path)
        {
            Ok(f) => {
                self.size = f.metadata().map(|m| m.len()).unwrap_or(0);
                self.file = Some(f);
            }
            Err(e) => {
                self.file = None;
                self.report(&e);
            }
        }
    }

    /// Appends `line` and a newline, rotating first when it would not fit.
    pub fn write_line(&mut self, line: &str) {
        let len = line.len() as u64 + 1;
        let max = self.spec.max_bytes;
        if max > 0 && self.size > 0 && self.size + len > max {
            self.rotate();
        }
        if self.file.is_none() {
            self.reopen();
        }
        let Some(f) = self.file.as_mut() else { return };
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        match f.write_all(&buf) {
            Ok(()) => {
                self.size += len;
                self.failing = false;
            }
            Err(e) => {
                self.report(&e);
                self.file = None;
            }
        }
    }

    fn rotate(&mut self) {
        self.file = None;
        let path = &self.spec.path;
        let result = if self.spec.backups == 0 {
            File::create(path).map(drop)
        } else {
            shift(path, self.spec.backups)
        };
        if let Err(e) = result {
            self.report(&e);
        }
        self.reopen();
    }

    fn report(&mut self, e: &std::io::Error) {
        if !self.failing {
            self.failing = true;
            tracing::warn!(file = %self.spec.path.display(), error = %e,
                "cannot write a program's log file; its lines still reach the daemon's log: check the path and free space");
        }
    }
}

/// `FILE.n` for n ≥ 1.
pub fn backup(path: &Path, n: u32) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".{n}"));
    PathBuf::from(p)
}

/// Drops the oldest backup and renames the others one up, `FILE` last.
fn shift(path: &Path, backups: u32) -> std::io::Result<()> {
    let _ = std::fs::remove_file(backup(path, backups));
    for n in (1..backups).rev() {
        let from = backup(path, n);
        if from.exists() {
            std::fs::rename(&from, backup(path, n + 1))?;
        }
    }
    std::fs::rename(path, backup(path, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_before_the_size_and_keeps_the_backups_asked() {
        let dir = crate::scratch::Scratch::new("logfile");
        let path = dir.join("out.log");
        let mut r = Rotating::open(LogFile {
            path: path.clone(),
            max_bytes: 20,
            backups: 2,
        });
        for i in 0..10 {
            r.write_line(&format!("line-{i:03}")); // 9 bytes with the newline
        }
        // Two lines per file: the newest two in FILE, then .1, .2; older ones are gone.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "line-008\nline-009\n"
        );
        assert_eq!(
            std::fs::read_to_string(backup(&path, 1)).unwrap(),
            "line-006\nline-007\n"
        );
        assert_eq!(
            std::fs::read_to_string(backup(&path, 2)).unwrap(),
            "line-004\nline-005\n"
        );
        assert!(!backup(&path, 3).exists());
        for f in [path.clone(), backup(&path, 1), backup(&path, 2)] {
            assert!(std::fs::metadata(f).unwrap().len() <= 20);
        }
    }
}
