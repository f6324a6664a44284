//! Where Redis is: the URL (with ACL user and password, `rediss://` for TLS), an optional CA
//! file, and how it is printed (always redacted).

use std::path::PathBuf;

/// Where Redis is. The URL may carry a password: print it only through [`RedisTarget::redacted`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct RedisTarget {
    /// `redis://[user:pass@]host:port/db` or `rediss://…` (TLS). With Sentinel or Cluster its
    /// host and port are unused; its scheme, credentials and database still apply.
    pub url: String,
    /// PEM file of the CA that signed the server certificate (self-signed TLS setups).
    pub ca_file: Option<PathBuf>,
    /// One server, a Sentinel-watched primary, or a Cluster.
    pub topology: Topology,
}

/// How the Redis servers are arranged.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Topology {
    /// One server, at the URL's host and port.
    #[default]
    Single,
    /// A primary found (and followed across failovers) through sentinels.
    Sentinel {
        /// `host:port` of each sentinel.
        sentinels: Vec<String>,
        /// The primary's name at the sentinels (`mymaster`).
        name: String,
        /// The sentinels' own password, when they require one.
        password: Option<String>,
        /// Whether the sentinels are reached over TLS (their certificates checked with the same
        /// CA as the primary's). The primary's TLS follows the URL's scheme.
        tls: bool,
    },
    /// A Redis Cluster, found from these seed nodes (`host:port`).
    Cluster {
        /// Seed nodes.
        nodes: Vec<String>,
    },
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The sentinel password never reaches a log line.
        let target = RedisTarget {
            topology: self.clone(),
            ..RedisTarget::default()
        };
        f.write_str(&target.topology_text())
    }
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("url", &self.redacted())
            .field("ca_file", &self.ca_file)
            .field("topology", &self.topology_text())
            .finish()
    }
}

impl RedisTarget {
    /// The URL with any password replaced by `***` (the user name is kept: it helps debugging
    /// and is not a secret).
    pub fn redacted(&self) -> String {
        match &self.topology {
            Topology::Single => redact_url(&self.url),
            // The URL's own host is unused here: show the primary's name in its place.
            Topology::Sentinel { name, .. } => format!(
                "{} ({})",
                redact_url(&super::sentinel::with_address(&self.url, name)),
                self.topology_text()
            ),
            Topology::Cluster { .. } => format!(
                "{} ({})",
                redact_url(&super::sentinel::node_url(&self.url, "cluster")),
                self.topology_text()
            ),
        }
    }

    /// The topology in words, without secrets: `sentinels a:1,b:2 name mymaster`.
    fn topology_text(&self) -> String {
        match &self.topology {
            Topology::Single => "single server".into(),
            Topology::Sentinel {
                sentinels,
                name,
                tls,
                ..
            } => format!(
                "sentinels {}{} name {name}",
                sentinels.join(","),
                if *tls { " (TLS)" } else { "" }
            ),
            Topology::Cluster { nodes } => format!("cluster nodes {}", nodes.join(",")),
        }
    }
}

/// Replaces the password of a URL's user-info with `***`: `redis://u:secret@h` → `redis://u:***@h`,
/// `redis://:secret@h` → `redis://:***@h`. A lone user-info (`redis://secret@h`) is what Redis
/// clients take as the password, so it is hidden whole. URLs without user-info come back
/// unchanged. Parsing is the `url` crate's (the last `@` ends the user-info, as for the client).
/// Credentials in the query (`?password=…`, which ioredis reads) are hidden too.
pub fn redact_url(url: &str) -> String {
    let url = &redact_query(url);
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a URL the client could use either; still never print what may be a password.
        return match (url.split_once("://"), url.rfind('@')) {
            (Some((scheme, _)), Some(at)) => format!("{scheme}://***@{}", &url[at + 1..]),
            _ => url.to_string(),
        };
    };
    if parsed.password().is_some() {
        // Cannot fail: the URL has a host, or it would have no user-info to set.
        let _ = parsed.set_password(Some("***"));
    } else if !parsed.username().is_empty() {
        let _ = parsed.set_username("***");
    } else {
        return url.to_string();
    }
    parsed.to_string()
}

/// `?password=secret&x=1` → `?password=***&x=1` (and the other credential parameters).
fn redact_query(url: &str) -> String {
    let Some((head, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !v.is_empty() && crate::rules::is_secret_param(k) => {
                format!("{k}=***")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_passwords_and_keeps_the_rest() {
        let cases = [
            ("redis://u:secret@h:6379/0", "redis://u:***@h:6379/0"),
            ("redis://:secret@h", "redis://:***@h"),
            ("rediss://secret@[::1]:6380/2", "rediss://***@[::1]:6380/2"),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://u:p@ss@h/0?x=1", "redis://u:***@h/0?x=1"),
            ("not a url", "not a url"),
            ("redis://u:secret@h:notaport/0", "redis://***@h:notaport/0"),
            (
                "redis://h/0?password=qqqSECRET&family=6",
                "redis://h/0?password=***&family=6",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact_url(input), want, "{input}");
        }
    }
}
