//! stub
#![allow(missing_docs, unreachable_pub)]
pub fn parse_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse().map_err(|_| format!("unknown zone {name}"))
}
pub fn daemon_zone() -> chrono_tz::Tz {
    chrono_tz::UTC
}
