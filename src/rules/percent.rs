//! Percent-encoding for the URLs cronq builds: passwords and user names inside Redis URLs (the
//! config's, the Sentinel relay's) and program names in the CLI's API paths. One rule, so a
//! character that breaks a URL is encoded the same way in every room.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// As [`NOT_UNRESERVED`], keeping `:` (`NAME:00`) and `*` (`all`'s glob) that program paths
/// carry literally.
const NOT_IN_NAME: &AsciiSet = &NOT_UNRESERVED.remove(b':').remove(b'*');

/// Percent-encodes everything but unreserved characters, so a password with `@`, `:` or `/`
/// survives inside a URL's user-info (stricter than the `url` crate's set, which keeps
/// `!$&'()*+,`: a client decodes either the same, and this way a URL reads the same as before).
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// A program name as one URL path segment: a bad name reaches the daemon intact, as the 404
/// that names it.
pub fn encode_name(s: &str) -> String {
    utf8_percent_encode(s, NOT_IN_NAME).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_info_and_names_keep_only_what_they_may() {
        for (s, info, name) in [
            ("p@ss:w/rd", "p%40ss%3Aw%2Frd", "p%40ss:w%2Frd"),
            ("a-b.c_d~e", "a-b.c_d~e", "a-b.c_d~e"),
            ("web:00", "web%3A00", "web:00"),
            ("é *", "%C3%A9%20%2A", "%C3%A9%20*"),
        ] {
            assert_eq!(super::encode(s), info, "{s}");
            assert_eq!(super::encode_name(s), name, "{s}");
        }
    }
}
