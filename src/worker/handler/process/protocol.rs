//! The line protocol of persistent handlers (docs/process-protocol.md): one JSON object per
//! line each way. cronq writes a `job` line on the process's stdin; the process answers on
//! stdout with any number of `progress`, `data` and `log` lines, then one `result` or `error`
//! line.
//! Everything a process prints is untrusted: lines are read with a bounded buffer, and a line
//! that is not a message fails the job naming it (truncated) instead of being guessed at.

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::worker::handler::JobInput;

/// The longest line read from a process's stdout (a result or log line); longer ones fail the
/// job. Job data is at most 1 MiB through the API, so results of that order fit.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// How much of a bad line an error message quotes.
const QUOTED_BYTES: usize = 200;

/// The `job` line sent for `job`.
pub fn job_line(job: &JobInput) -> String {
    let msg = serde_json::json!({
        "type": "job",
        "id": job.id,
        "name": job.name,
        "queue": job.queue,
        "data": job.data,
        "attempt": job.attempt,
        // BullMQ's count of attempts before this one, as sandboxed processors read it.
        "attemptsMade": job.attempt.saturating_sub(1),
        // As stored by the producer, BullMQ's long names (`queue::job_opts`).
        "opts": job.opts,
    });
    let mut msg = msg;
    // The job's span, when traces are on, for the process to continue the trace.
    if let Some(trace) = crate::telemetry::otel::trace_headers() {
        msg["traceparent"] = trace.traceparent.into();
        if let Some(state) = trace.tracestate {
            msg["tracestate"] = state.into();
        }
    }
    let mut line = msg.to_string();
    line.push('\n');
    line
}

/// One message out of a process.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Message {
    /// `job.updateProgress(value)`.
    Progress {
        /// Any JSON (BullMQ allows a number or an object).
        #[serde(default)]
        value: serde_json::Value,
    },
    /// `job.updateData(value)`: the job's data replaced in the store.
    Data {
        /// The new data (any JSON); `data` is accepted as its name too.
        #[serde(default, alias = "data")]
        value: serde_json::Value,
    },
    /// `job.log(line)`.
    Log {
        /// The line.
        line: String,
    },
    /// The job completed with `value`.
    Result {
        /// Its return value.
        #[serde(default)]
        value: serde_json::Value,
    },
    /// The job failed.
    Error {
        /// The reason (BullMQ's `failedReason`).
        #[serde(default)]
        message: String,
        /// Where it was thrown; copied into the job's log.
        #[serde(default)]
        stack: Option<String>,
        /// No further attempt (BullMQ's `UnrecoverableError`).
        #[serde(default)]
        unrecoverable: bool,
    },
}

/// A stdout line that is not a message, or a line too long to read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadLine {
    /// Not JSON, or not one of the message types.
    #[error("the process printed a line that is not a protocol message ({reason}): {quoted}")]
    NotAMessage {
        /// What serde said.
        reason: String,
        /// The line, cut to a few hundred bytes and escaped.
        quoted: String,
    },
    /// Longer than [`MAX_MESSAGE_BYTES`].
    #[error("the process printed a line over {MAX_MESSAGE_BYTES} bytes, starting: {quoted}")]
    TooLong {
        /// Its start.
        quoted: String,
    },
}

/// Parses one stdout line.
pub fn parse(line: &[u8]) -> Result<Message, BadLine> {
    serde_json::from_slice(line).map_err(|e| BadLine::NotAMessage {
        reason: e.to_string(),
        quoted: quote(line),
    })
}

/// The start of `line`, escaped (`{:?}`), so control characters cannot forge log lines.
pub fn quote(line: &[u8]) -> String {
    let cut = line.len() > QUOTED_BYTES;
    let text = String::from_utf8_lossy(&line[..line.len().min(QUOTED_BYTES)]).into_owned();
    if cut {
        format!("{text:?}…")
    } else {
        format!("{text:?}")
    }
}

/// What [`LineReader::next`] found.
#[derive(Debug, PartialEq)]
pub enum Read {
    /// A complete line (without its newline).
    Line(Vec<u8>),
    /// A line past the reader's cap; its start.
    TooLong(Vec<u8>),
    /// End of stream.
    Eof,
}

/// Reads lines of at most `cap` bytes out of a stream that lives across jobs; bytes after a
/// line stay buffered for the next call.
#[derive(Debug)]
pub struct LineReader<R> {
    src: R,
    buf: Vec<u8>,
    cap: usize,
    /// Skipping the rest of a line that was too long.
    skipping: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Lines of `src`, each at most `cap` bytes.
    pub fn new(src: R, cap: usize) -> Self {
        LineReader {
            src,
            buf: Vec::new(),
            cap,
            skipping: false,
        }
    }

    /// The next line. Cancel-safe: bytes read stay in the buffer.
    pub async fn next(&mut self) -> Read {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(at) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=at).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                if line.len() > self.cap {
                    line.truncate(QUOTED_BYTES);
                    return Read::TooLong(line);
                }
                return Read::Line(line);
            }
            if self.buf.len() > self.cap {
                let start = self.buf[..QUOTED_BYTES.min(self.buf.len())].to_vec();
                self.buf.clear();
                if !std::mem::replace(&mut self.skipping, true) {
                    return Read::TooLong(start);
                }
            }
            match self.src.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    if self.buf.is_empty() || self.skipping {
                        return Read::Eof;
                    }
                    return Read::Line(std::mem::take(&mut self.buf));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_split_capped_and_the_rest_of_a_long_line_skipped() {
        let input = b"one\r\ntwo\nxxxxxxxxxxxxxxxxxxxx\nthree".to_vec();
        let mut r = LineReader::new(&input[..], 10);
        assert_eq!(r.next().await, Read::Line(b"one".to_vec()));
        assert_eq!(r.next().await, Read::Line(b"two".to_vec()));
        assert!(matches!(r.next().await, Read::TooLong(_)));
        assert_eq!(r.next().await, Read::Line(b"three".to_vec()));
        assert_eq!(r.next().await, Read::Eof);
    }

    #[test]
    fn a_job_is_one_line_whatever_its_data_holds() {
        let job = crate::worker::handler::test_support::job(
            "1\n{\"type\":\"result\"}",
            3,
            serde_json::json!({"text": "a\nb\r\n{\"type\":\"result\"}\n"}),
        );
        let line = job_line(&job);
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["data"], job.data);
        assert_eq!(back["attemptsMade"], 2);
        assert_eq!(back["opts"], serde_json::json!({}));
    }

    #[test]
    fn messages_parse_and_bad_lines_are_quoted_escaped_and_cut() {
        assert_eq!(
            parse(br#"{"type":"progress","value":50}"#),
            Ok(Message::Progress {
                value: serde_json::json!(50)
            })
        );
        assert_eq!(
            parse(br#"{"type":"error","message":"no","unrecoverable":true}"#),
            Ok(Message::Error {
                message: "no".into(),
                stack: None,
                unrecoverable: true
            })
        );
        let long = format!("Warning: \x1b[31m{}", "y".repeat(1000));
        let err = parse(long.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("\\u{1b}"), "{err}");
        assert!(err.len() < 400, "{err}");
        assert!(err.ends_with('…'), "{err}");
        for line in [
            &br#"{"type":"data","value":{"a":1}}"#[..],
            br#"{"type":"data","data":{"a":1}}"#,
        ] {
            assert_eq!(
                parse(line),
                Ok(Message::Data {
                    value: serde_json::json!({"a": 1})
                })
            );
        }
        assert!(parse(br#"{"type":"reboot"}"#).is_err());
    }
}
