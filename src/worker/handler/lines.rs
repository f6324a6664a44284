//! Reading a child's pipe line by line, in fixed chunks, so that one endless line costs constant
//! memory. Shared by job output (`output.rs`) and the output of supervised programs (the programs
//! room reads its children's pipes with it), which differ only in what becomes of a line past the limit.

use tokio::io::{AsyncRead, AsyncReadExt};

/// What becomes of a line longer than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overlong {
    /// Handed on in pieces of the limit's length: every byte is shown (programs' output).
    Split,
    /// Cut at the limit: the rest up to the newline is dropped and the line is handed on as cut
    /// (a job's log, which keeps a bounded amount of each job's output).
    Cut,
}

/// Reads `src` to its end (or its first read error) and hands each line to `line`, without its
/// `\n`, with whether it was cut; a last line without a newline is handed on too.
pub(crate) async fn read_lines(
    mut src: impl AsyncRead + Unpin,
    max: usize,
    overlong: Overlong,
    mut line: impl FnMut(&[u8], bool),
) {
    let mut chunk = vec![0u8; 8192];
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut cut = false;
    loop {
        let n = match src.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &chunk[..n] {
            if b == b'\n' {
                line(&buf, cut);
                buf.clear();
                cut = false;
            } else if buf.len() < max {
                buf.push(b);
            } else if overlong == Overlong::Split {
                line(&buf, false);
                buf.clear();
                buf.push(b);
            } else {
                cut = true;
            }
        }
    }
    if !buf.is_empty() {
        line(&buf, cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], overlong: Overlong) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        read_lines(input, 3, overlong, |l, cut| {
            out.push((String::from_utf8_lossy(l).into_owned(), cut))
        })
        .await;
        out
    }

    #[tokio::test]
    async fn a_long_line_is_split_or_cut_and_a_last_line_without_newline_counts() {
        let input = b"ab\ncdefg\nh";
        let split = lines(input, Overlong::Split).await;
        let want = [("ab", false), ("cde", false), ("fg", false), ("h", false)];
        assert_eq!(split, want.map(|(l, c)| (l.to_string(), c)));
        let cut = lines(input, Overlong::Cut).await;
        let want = [("ab", false), ("cde", true), ("h", false)];
        assert_eq!(cut, want.map(|(l, c)| (l.to_string(), c)));
    }
}
