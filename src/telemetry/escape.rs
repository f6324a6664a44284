//! Text log fields with control characters escaped (and job fields under Supercronic's names). The default text formatter prints `%`
//! (Display) fields and the message as they are, so a job id such as `"7\nINFO forged"` (from
//! the API or a foreign producer) would start a new, forged log line. Every field and the
//! message go through [`escape_control`] here; the JSON format escapes by itself.

use std::fmt;

use tracing::field::Field;
use tracing_subscriber::fmt::format::{debug_fn, FieldFn, Writer};

/// The text formatter's field writer: `message` bare, others `name=value`, all escaped.
pub(super) fn fields(
) -> FieldFn<impl Fn(&mut Writer<'_>, &Field, &dyn fmt::Debug) -> fmt::Result + Clone> {
    debug_fn(
        |w: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug| {
            let raw = format!("{value:?}");
            let text = escape_control(&raw);
            // Job fields under Supercronic's names (`job.command=…`), as its text lines show them.
            let name = super::json::SUPERCRONIC_ALIASES
                .iter()
                .find(|(ours, _)| *ours == field.name())
                .map_or(field.name(), |(_, theirs)| theirs);
            if name == "message" {
                write!(w, "{text}")
            } else if name == "msg" {
                // Supercronic's phrase on a crontab job line, as logrus writes it (`msg=starting`).
                let bare = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
                write!(
                    w,
                    "msg={}",
                    super::supercronic::logrus_quote(bare.unwrap_or(&text))
                )
            } else {
                write!(w, "{name}={text}")
            }
        },
    )
}

/// `text` with every control character written as an escape (`\n`, `\r`, `\t`, `\u{1b}`), so
/// it stays on one line and cannot inject terminal sequences; bidi overrides and line
/// separators too (`\u{202e}`), so a foreign id cannot reorder or split what is read.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(crate::rules::is_hidden_char) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if crate::rules::is_hidden_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::field::MakeExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_newline_in_a_field_cannot_forge_a_line() {
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .fmt_fields(fields().delimited(" "))
            .finish();
        let id = "7\nINFO job completed queue=evil";
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(job_id = %id, name = "a\rb", queue = ?"q\u{1b}[31m", "line {}", "x\ny");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains(r"job_id=7\nINFO job completed queue=evil"),
            "{text}"
        );
        assert!(text.contains(r"line x\ny"), "{text}");
        assert!(text.contains(r#"name="a\rb""#), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
    }

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(escape_control("crontab:3 echo hi"), "crontab:3 echo hi");
        assert_eq!(escape_control("a\u{7}b"), "a\\u{7}b");
    }

    #[test]
    fn bidi_overrides_and_line_separators_are_escaped() {
        assert_eq!(
            escape_control("\u{202e}gnp.exe\u{2028}x"),
            "\\u{202e}gnp.exe\\u{2028}x"
        );
        assert_eq!(escape_control("日本-é"), "日本-é");
    }
}
