//! `[http]` limits: the SSE client cap and the idle-connection timeout.

use std::time::Duration;

use super::{duration, invalid, Source};
use crate::config::raw::RawHttp;
use crate::config::{Error, HttpLimits};

/// Default cap on concurrent SSE clients: a dashboard tab each, with room for a team.
const DEFAULT_MAX_SSE: usize = 64;

/// Default idle timeout; well above a browser's keep-alive reuse window, well below "forever".
const DEFAULT_IDLE: Duration = Duration::from_secs(60);

pub(super) fn limits(raw: &RawHttp, src: &Source) -> Result<HttpLimits, Error> {
    let max_sse_clients = raw.max_sse_clients.unwrap_or(DEFAULT_MAX_SSE);
    if max_sse_clients == 0 {
        return Err(invalid(
            src.place("http", "max_sse_clients"),
            "must be at least 1 (each dashboard tab holds one SSE client)",
        ));
    }
    let idle_timeout = match &raw.idle_timeout {
        None => DEFAULT_IDLE,
        Some(t) => duration(t, &src.place("http", "idle_timeout"))?,
    };
    if idle_timeout < Duration::from_secs(1) {
        return Err(invalid(
            src.place("http", "idle_timeout"),
            format!(
                "{:?} is too short: at least \"1s\", or clients are cut off between requests",
                humantime::format_duration(idle_timeout).to_string()
            ),
        ));
    }
    Ok(HttpLimits {
        max_sse_clients,
        idle_timeout,
    })
}
