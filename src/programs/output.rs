//! A program's output: each line goes to the tail buffer, to its log file when one is set, and
//! to the daemon's log (targets `program.stdout` / `program.stderr`, with the instance and the
//! channel, as job output carries its queue and job id) unless `log_output = false`. Secrets of
//! the daemon are hidden in every copy. Read in fixed chunks, so one endless line costs
//! constant memory.

use std::sync::Arc;

use tokio::io::AsyncRead;
use tokio::task::JoinHandle;

use super::logfile::Rotating;
use super::tail::{Stream, Tail, MAX_LINE_BYTES};
use crate::config::programs::LogFile;
use crate::config::Secrets;
use crate::worker::handler::lines::{read_lines, Overlong};

/// Where one channel's lines go.
pub(super) struct Sink {
    /// `NAME:00`, in each log line.
    pub(super) instance: Arc<str>,
    pub(super) stream: Stream,
    pub(super) tail: Arc<Tail>,
    pub(super) file: Option<LogFile>,
    pub(super) log: bool,
    pub(super) secrets: Arc<Secrets>,
}

impl Sink {
    /// Reads `src` to its end on a task of its own; the task ends with the pipe.
    pub(super) fn spawn(self, src: impl AsyncRead + Unpin + Send + 'static) -> JoinHandle<()> {
        tokio::spawn(self.drain(src))
    }

    async fn drain(self, src: impl AsyncRead + Unpin) {
        // Opened here, on the reader's task: the file is written only by this channel.
        let mut file = self.file.clone().map(Rotating::open);
        // An endless line is shown in pieces rather than held whole.
        read_lines(src, MAX_LINE_BYTES * 2, Overlong::Split, |line, _| {
            self.emit(line, &mut file)
        })
        .await;
    }

    fn emit(&self, raw: &[u8], file: &mut Option<Rotating>) {
        let text = String::from_utf8_lossy(raw);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let text = self.secrets.redact(text);
        self.tail.push(self.stream, &text);
        if let Some(f) = file.as_mut() {
            f.write_line(&text);
        }
        if self.log {
            let (program, channel) = (&*self.instance, self.stream.as_str());
            // The formatter escapes fields and message, so a line cannot forge log lines.
            match self.stream {
                Stream::Stdout => {
                    tracing::info!(target: "program.stdout", program, channel, "{text}")
                }
                Stream::Stderr => {
                    tracing::info!(target: "program.stderr", program, channel, "{text}")
                }
            }
        }
    }
}
