//! Bounded capture of a handler's output. A command may print gigabytes; we keep at most
//! [`MAX_LINES`] lines of at most [`MAX_LINE_BYTES`] each per job, summarise the rest, and read
//! in fixed-size chunks so that even one endless line costs constant memory.

use std::sync::Arc;

use tokio::io::AsyncRead;

use super::echo::Channel;
use super::lines::{read_lines, Overlong};
use super::{LogSender, DATA_PREFIX, PROGRESS_PREFIX};
use crate::config::Secrets;

/// Lines kept in a job's log.
pub(crate) const MAX_LINES: usize = 1000;
/// Bytes kept of one line; the rest of the line is cut with a marker.
pub(crate) const MAX_LINE_BYTES: usize = 4096;

/// Counts what one job printed and forwards the kept lines to its log.
#[derive(Debug)]
pub struct LogBuffer {
    logs: LogSender,
    channel: Channel,
    prefix: &'static str,
    kept: usize,
    dropped: u64,
    /// The last complete line (for the return value of exec handlers).
    last_line: Option<String>,
    /// Hidden in every line before it is copied anywhere (daemon log, job log, reason).
    secrets: Arc<Secrets>,
}

impl LogBuffer {
    /// Lines go to `logs`; stderr lines are kept in the job's log as `stderr: LINE`.
    pub fn new(logs: LogSender, channel: Channel) -> Self {
        LogBuffer {
            logs,
            channel,
            prefix: match channel {
                Channel::Stdout => "",
                Channel::Stderr => "stderr: ",
            },
            kept: 0,
            dropped: 0,
            last_line: None,
            secrets: Arc::default(),
        }
    }

    /// Replaces `secrets` by `***` in each line, before any copy of it is made.
    pub fn redacting(mut self, secrets: Arc<Secrets>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Reads `src` to its end, line by line.
    pub async fn drain(mut self, src: impl AsyncRead + Unpin) -> Self {
        read_lines(src, MAX_LINE_BYTES, Overlong::Cut, |line, cut| {
            self.push(line, cut)
        })
        .await;
        self
    }

    fn push(&mut self, raw: &[u8], cut: bool) {
        let mut text = String::from_utf8_lossy(raw)
            .trim_end_matches('\r')
            .to_string();
        if let std::borrow::Cow::Owned(clean) = self.secrets.redact(&text) {
            text = clean;
        }
        if cut {
            text.push_str(" …[line cut]");
        }
        // Every line reaches the daemon's output, past the job log's cap too (Supercronic
        // shows all output); progress reports are protocol, not output.
        let control = self.channel == Channel::Stdout
            && (text.starts_with(PROGRESS_PREFIX) || text.starts_with(DATA_PREFIX));
        if control {
            // Requests, not output: past the log's cap too, and never the return value (the
            // bounded channel's loss policy still applies when the store lags).
            let _ = self.logs.lines.try_send(text);
            return;
        }
        self.logs.echo.line(self.channel, &text);
        if self.kept >= MAX_LINES
            || self
                .logs
                .lines
                .try_send(format!("{}{text}", self.prefix))
                .is_err()
        {
            self.dropped += 1;
        } else {
            self.kept += 1;
        }
        self.last_line = Some(text);
    }

    /// Sends the summary of dropped lines, if any, and returns the last line seen.
    pub async fn finish(self) -> Option<String> {
        if self.dropped > 0 {
            let note = format!(
                "{}… {} more lines not kept (log capped at {MAX_LINES} lines)",
                self.prefix, self.dropped
            );
            let _ = self.logs.lines.send(note).await;
        }
        self.last_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn caps_lines_and_line_length() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(100_000);
        let mut input = Vec::new();
        for i in 0..(MAX_LINES + 5) {
            input.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES * 3));
        let buf = LogBuffer::new(LogSender::quiet(tx), Channel::Stdout)
            .drain(&input[..])
            .await;
        let last = buf.finish().await.unwrap();
        assert!(last.ends_with("…[line cut]"));
        assert!(last.len() < MAX_LINE_BYTES + 32);
        let mut lines = Vec::new();
        while let Ok(l) = rx.try_recv() {
            lines.push(l);
        }
        assert_eq!(lines.len(), MAX_LINES + 1);
        assert_eq!(lines[0], "line 0");
        assert!(
            lines.last().unwrap().contains("6 more lines not kept"),
            "{:?}",
            lines.last()
        );
    }
}
