//! The URLs the Sentinel relay builds: a sentinel's (with the sentinels' password), and the
//! target's with another address (the primary's, the relay's, a Cluster node's).

use crate::rules::percent::encode;

pub(super) fn auth(password: Option<&str>) -> String {
    match password {
        Some(p) => format!(":{}@", encode(p)),
        None => String::new(),
    }
}

/// `url` with its `host:port` replaced by `addr`; scheme, credentials and database are kept.
pub(crate) fn with_address(url: &str, addr: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{userinfo}{addr}{tail}")
}

/// `url`'s scheme and credentials with `addr`, without a database (a Cluster has none).
pub(crate) fn node_url(url: &str, addr: &str) -> String {
    let full = with_address(url, addr);
    let rest_at = full.find("://").map_or(0, |i| i + 3);
    let end = full[rest_at..]
        .find(['/', '?', '#'])
        .map_or(full.len(), |i| rest_at + i);
    full[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::{node_url, with_address};

    #[test]
    fn the_address_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_address("redis://u:p@h:1/2", "127.0.0.1:9"),
            "redis://u:p@127.0.0.1:9/2"
        );
        assert_eq!(with_address("redis://h", "[::1]:9"), "redis://[::1]:9");
        assert_eq!(node_url("rediss://u:p@h:1/0", "n:2"), "rediss://u:p@n:2");
    }
}
