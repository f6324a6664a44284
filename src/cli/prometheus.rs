//! `-prometheus-listen-address` as Supercronic reads it: `HOST:PORT`, `:PORT` (every
//! interface), or a bare host, which gets Supercronic's default port 9746. Checked before the
//! daemon says it is starting, so a typo stops it at once with the flag named.

/// Supercronic's default metrics port.
pub const DEFAULT_PROMETHEUS_PORT: u16 = 9746;

/// The address to bind, or the error naming the flag and the fix.
pub fn prometheus_addr(value: &str) -> Result<String, String> {
    let v = value.trim();
    let bad = |why: &str| {
        format!(
            "-prometheus-listen-address '{}': {why}; write HOST:PORT, :PORT or a bare HOST \
             (port {DEFAULT_PROMETHEUS_PORT})",
            crate::telemetry::escape_control(value)
        )
    };
    if v.is_empty() {
        return Err(bad("empty"));
    }
    // `[::1]:9746`, `[::1]`, or a bare IPv6 address `::1`.
    let (host, port) = if let Some(rest) = v.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        match after {
            "" => (host, None),
            p => (
                host,
                Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?),
            ),
        }
    } else if v.parse::<std::net::Ipv6Addr>().is_ok() {
        (v, None)
    } else {
        match v.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (v, None),
        }
    };
    let port = match port {
        None => DEFAULT_PROMETHEUS_PORT,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| bad(&format!("port '{p}' is not a number from 0 to 65535")))?,
    };
    if host.contains(|c: char| c.is_whitespace() || c.is_control() || "/@[]:".contains(c))
        && host.parse::<std::net::Ipv6Addr>().is_err()
    {
        return Err(bad(&format!("'{host}' is not a host")));
    }
    Ok(match host {
        // Go listens on every interface for `:PORT`.
        "" => format!("0.0.0.0:{port}"),
        h if h.contains(':') => format!("[{h}]:{port}"),
        h => format!("{h}:{port}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_host_gets_port_9746() {
        assert_eq!(prometheus_addr("127.0.0.1").unwrap(), "127.0.0.1:9746");
        assert_eq!(prometheus_addr("0.0.0.0").unwrap(), "0.0.0.0:9746");
        assert_eq!(prometheus_addr("localhost").unwrap(), "localhost:9746");
        assert_eq!(prometheus_addr("::1").unwrap(), "[::1]:9746");
        assert_eq!(prometheus_addr("[::1]").unwrap(), "[::1]:9746");
        assert_eq!(prometheus_addr("[::1]:9000").unwrap(), "[::1]:9000");
        assert_eq!(prometheus_addr(":9746").unwrap(), "0.0.0.0:9746");
        assert_eq!(prometheus_addr("10.1.2.3:80").unwrap(), "10.1.2.3:80");
    }

    #[test]
    fn a_bad_address_is_refused_naming_the_flag() {
        for bad in ["", "127.0.0.1:abc", "127.0.0.1:99999", "a b", "http://x"] {
            let e = prometheus_addr(bad).unwrap_err();
            assert!(e.contains("-prometheus-listen-address"), "{bad}: {e}");
        }
    }
}
