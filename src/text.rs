//! Text helpers shared at the bottom of the crate (no imports from it): cutting a line to a
//! byte budget without splitting a character, as log lines, previews and ids all need.

/// The longest start of `text` that fits in `max_bytes` and ends on a character boundary
/// (all of `text` when it fits). A multi-byte character that would cross the limit is left
/// out whole, so the result is always valid UTF-8 to slice and print.
pub fn head(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    // At most three steps back: a UTF-8 character is at most four bytes.
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::head;

    #[test]
    fn cuts_on_a_character_boundary_within_the_budget() {
        for (text, max, want) in [
            ("hello", 10, "hello"),
            ("hello", 5, "hello"),
            ("hello", 3, "hel"),
            ("hello", 0, ""),
            // `é` is two bytes: cutting inside it leaves it out whole.
            ("héllo", 2, "h"),
            ("héllo", 3, "hé"),
            // `🦀` is four bytes.
            ("a🦀b", 4, "a"),
            ("a🦀b", 5, "a🦀"),
        ] {
            assert_eq!(head(text, max), want, "{text:?} within {max}");
        }
    }
}
