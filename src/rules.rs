//! The text rules every room applies where outside text enters or leaves: which queue names
//! are accepted ([`names`]), which characters are never shown raw ([`is_hidden_char`]: refused
//! in ids, escaped in logs), which URL parameters carry a secret ([`is_secret_param`]:
//! redacted wherever a URL is printed, withheld from job output) and how text is cut to a byte
//! budget without splitting a character ([`cut_to`]).
//!
//! Pure and at the bottom of the house: the crontab dialect, the config, the queue room and the
//! log writer all apply the same rule, so none of them has to import another to share it.

pub mod cut;
pub mod names;
pub mod percent;

pub use cut::cut_to;
pub use names::{validate_queue_name, MAX_QUEUE_NAME};

/// Query parameters that carry a credential (ioredis reads `password` and `username` there).
pub fn is_secret_param(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "password" | "pass" | "pwd" | "sentinelpassword" | "token"
    )
}

/// A character that must never appear raw in an id or a name, nor be shown raw where a foreign
/// id is logged or displayed: control characters (C0, C1: they forge log lines and drive
/// terminals), Unicode format characters (bidi overrides and isolates such as U+202E, which
/// make `\u{202e}gnp.exe` read as `exe.png`; zero-width characters; the BOM) and the line and
/// paragraph separators U+2028/U+2029 (a line break to browsers and some log viewers).
/// The format set is the `Cf` general category, listed by hand: the ranges are stable and a
/// Unicode-tables crate for one predicate would cost more than it saves.
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}
