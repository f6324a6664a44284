//! Cutting outside text to a byte budget without splitting a character. Job output, failed
//! reasons, group ids and payload previews are all bounded in bytes before they are kept or
//! shown; a cut inside a multi-byte character would panic on slicing (`&s[..n]`), so every room
//! cuts through this one rule instead of repeating the walk back to a boundary.

/// The longest prefix of `text` that is at most `max_bytes` long and ends on a character
/// boundary: `text` itself when it fits, shorter than `max_bytes` by at most 3 bytes otherwise.
pub fn cut_to(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    // Index 0 is always a boundary, so the search cannot come back empty.
    let end = (0..=max_bytes)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::cut_to;

    #[test]
    fn cuts_on_a_character_boundary_within_the_budget() {
        // (text, budget, kept): "é" is 2 bytes, "€" 3, "🦀" 4.
        let cases = [
            ("abc", 5, "abc"),
            ("abc", 3, "abc"),
            ("abcdef", 4, "abcd"),
            ("aé", 2, "a"),
            ("aéb", 3, "aé"),
            ("€€", 4, "€"),
            ("🦀x", 3, ""),
            ("🦀x", 4, "🦀"),
            ("", 0, ""),
            ("abc", 0, ""),
        ];
        for (text, budget, kept) in cases {
            let got = cut_to(text, budget);
            assert_eq!(got, kept, "cut_to({text:?}, {budget})");
            assert!(
                got.len() <= budget,
                "cut_to({text:?}, {budget}) is over budget"
            );
        }
    }
}
