//! The one rule for queue names, applied wherever a name enters: the config file, crontab
//! `enqueue` lines, `[[schedule]]` tables, the API's path and the command line. A name is part
//! of every Redis key (`bull:NAME:wait`), of URLs and of log lines, so it is kept to characters
//! that mean nothing in any of them.

/// The longest accepted name, in bytes (keys, URLs and log lines stay readable).
pub const MAX_QUEUE_NAME: usize = 100;

/// Accepts 1 to [`MAX_QUEUE_NAME`] ASCII letters, digits, `-`, `_` and `.` (not first, so no
/// `..`), or one such name wrapped whole in braces: `{email}` is a Redis Cluster hash tag that
/// keeps all the queue's keys in one slot. Refused: `:` (BullMQ's key separator), spaces,
/// control characters, non-ASCII, `*` and `?` (key patterns), `/` (paths and URLs), and
/// braces anywhere else (a partial hash tag would split the queue's keys across slots).
pub fn validate_queue_name(name: &str) -> Result<(), String> {
    let inner = name
        .strip_prefix('{')
        .and_then(|n| n.strip_suffix('}'))
        .unwrap_or(name);
    let ok = !inner.is_empty()
        && name.len() <= MAX_QUEUE_NAME
        && !inner.starts_with('.')
        && inner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        return Ok(());
    }
    Err(format!(
        "{name:?} is not a queue name: use 1 to {MAX_QUEUE_NAME} letters, digits, '-', '_' and '.' \
         (not first), optionally wrapped whole in braces as a Redis Cluster hash tag, e.g. \"{{email}}\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_every_entry_point() {
        for good in ["email", "a-b_c", "v1.2", "{email}", "Q9", &"x".repeat(100)] {
            assert_eq!(validate_queue_name(good), Ok(()), "{good:?}");
        }
        let long = "x".repeat(101);
        let bad = [
            "", "a b", "é", "a\0b", "*", "../..", "{x", "a{x}", "{x}y", "{}", "{a:b}", "a:b",
            ".hidden", "a/b", "a\nb", "{{x}}", &long,
        ];
        for bad in bad {
            let err = validate_queue_name(bad).unwrap_err();
            assert!(err.contains("letters, digits"), "{bad:?}: {err}");
        }
    }
}
