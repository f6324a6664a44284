//! The last lines of one instance's output, per channel, in memory: what `worker tail` and the
//! dashboard show. Bounded (lines and bytes per line), numbered so that `tail -f` asks only
//! for what came after the last line it printed.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// Lines kept per channel.
pub const KEPT_LINES: usize = 1000;
/// Bytes kept of one line (the rest is cut, as job output is).
pub const MAX_LINE_BYTES: usize = 4096;

/// stdout or stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// The program's stdout (the default, as in supervisorctl).
    Stdout,
    /// Its stderr.
    Stderr,
}

impl Stream {
    /// `stdout` / `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One numbered line.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TailLine {
    /// Increasing per instance and channel, from 1.
    pub seq: u64,
    /// The line, without its newline.
    pub text: String,
}

/// Both channels of one instance. Written by its output readers, read by the API.
#[derive(Debug, Default)]
pub struct Tail {
    stdout: Mutex<Ring>,
    stderr: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    lines: VecDeque<TailLine>,
    next: u64,
}

impl Tail {
    fn ring(&self, s: Stream) -> std::sync::MutexGuard<'_, Ring> {
        match s {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        }
        .lock()
        .unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `text` (cut to [`MAX_LINE_BYTES`]), dropping the oldest past [`KEPT_LINES`].
    pub fn push(&self, s: Stream, text: &str) {
        let mut kept = crate::rules::cut_to(text, MAX_LINE_BYTES).to_string();
        if kept.len() < text.len() {
            kept.push_str(" …[cut]");
        }
        let mut ring = self.ring(s);
        ring.next += 1;
        let seq = ring.next;
        ring.lines.push_back(TailLine { seq, text: kept });
        if ring.lines.len() > KEPT_LINES {
            ring.lines.pop_front();
        }
    }

    /// The number of the newest line (0 before the first).
    pub fn newest(&self, s: Stream) -> u64 {
        self.ring(s).next
    }

    /// The last `n` lines with a number above `after`, oldest first.
    pub fn read(&self, s: Stream, n: usize, after: u64) -> Vec<TailLine> {
        let ring = self.ring(s);
        let newer: Vec<&TailLine> = ring.lines.iter().filter(|l| l.seq > after).collect();
        let skip = newer.len().saturating_sub(n);
        newer.into_iter().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_and_reads_after_a_number() {
        let t = Tail::default();
        for i in 0..(KEPT_LINES + 5) {
            t.push(Stream::Stdout, &format!("line {i}"));
        }
        let last = t.read(Stream::Stdout, 2, 0);
        assert_eq!(last[1].text, format!("line {}", KEPT_LINES + 4));
        assert_eq!(t.read(Stream::Stdout, 10_000, 0).len(), KEPT_LINES);
        assert!(t.read(Stream::Stdout, 10, last[1].seq).is_empty());
        assert!(t.read(Stream::Stderr, 10, 0).is_empty());
        t.push(Stream::Stderr, &"é".repeat(MAX_LINE_BYTES));
        assert!(t.read(Stream::Stderr, 1, 0)[0].text.ends_with("[cut]"));
    }
}
