//! The crontab file's bytes before parsing, and what a command line must be to run. Both
//! catch, at parse time with the place, what otherwise fails later: a non-UTF-8 file (no line
//! number from `read_to_string`), a UTF-8 BOM (it glued itself to `CRON_TZ`, which then became
//! an environment variable and the zone was silently dropped), and a command that `exec`
//! refuses at every run (a NUL byte, or longer than the kernel's per-argument limit).

use super::error::Diagnostic;

/// The UTF-8 byte order mark some editors put first.
pub const BOM: char = '\u{feff}';

/// Linux refuses one `execve` argument of this many bytes or more (`MAX_ARG_STRLEN`, 32 pages,
/// counting the final NUL); a command is one argument of `/bin/sh -c`.
pub const MAX_COMMAND_BYTES: usize = 128 * 1024;

/// The text of a crontab file, with a leading BOM removed; not UTF-8 is an error naming the
/// first bad line and column (in bytes).
pub fn decode(bytes: Vec<u8>) -> Result<String, Diagnostic> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(strip_bom(&text).to_string()),
        Err(e) => {
            let bytes = e.as_bytes();
            let at = e.utf8_error().valid_up_to();
            let before = &bytes[..at];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            Err(Diagnostic {
                line,
                column: at - line_start + 1,
                message: format!(
                    "the file is not UTF-8 (byte 0x{:02x}): save it as UTF-8",
                    bytes[at]
                ),
            })
        }
    }
}

/// `text` without a leading BOM.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// Why `command` could never be run by `/bin/sh -c`, with the 0-based byte column of the
/// problem, or `None` when it can.
pub fn command_problem(command: &str) -> Option<(usize, String)> {
    if let Some(at) = command.find('\0') {
        return Some((
            at,
            "the command contains a NUL byte, which no program can be given: remove it".into(),
        ));
    }
    if command.len() >= MAX_COMMAND_BYTES {
        return Some((
            0,
            format!(
                "the command is {} bytes; the system runs commands shorter than {} bytes (128 KiB): put it in a script",
                command.len(),
                MAX_COMMAND_BYTES
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bom_is_dropped_and_bad_utf8_names_its_line() {
        let text = decode(b"\xef\xbb\xbfCRON_TZ=Europe/Paris\n".to_vec()).unwrap();
        assert_eq!(text, "CRON_TZ=Europe/Paris\n");
        let err = decode(b"# ok\n0 3 * * * echo caf\xe9\n".to_vec()).unwrap_err();
        assert_eq!((err.line, err.column), (2, 19), "{err}");
        assert!(err.message.contains("not UTF-8"), "{err}");
    }

    #[test]
    fn commands_exec_refuses_are_caught() {
        assert_eq!(command_problem("echo hi"), None);
        assert_eq!(command_problem("echo a\0b").map(|p| p.0), Some(6));
        let long = "x".repeat(MAX_COMMAND_BYTES);
        assert!(command_problem(&long).unwrap().1.contains("128 KiB"));
        assert_eq!(command_problem(&long[1..]), None);
    }
}
