//! One line of `--test-crontab` output: the policies an entry runs by (overlap, jitter,
//! catch-up, staleness alert), as the daemon resolved them from `[cron]`,
//! `[cron.entries."crontab:LINE"]` or the entry's table.

use crate::config::cron_policy::{CatchUpMode, JitterMode};
use crate::config::Overlap;
use crate::cron::PlannedEntry;

/// `policy: overlap=buffer_all (max 10) jitter=30s fixed (+12.345s) catch_up=1h all (max 10)
/// alert_after=2h ping=https://hc-ping.com/…`.
pub(super) fn describe(e: &PlannedEntry) -> String {
    let p = &e.policy;
    let mut out = format!("policy: overlap={}", p.overlap.as_str());
    if p.overlap == Overlap::BufferAll {
        out.push_str(&format!(" (max {})", p.buffer_max));
    }
    match (p.jitter, p.jitter_mode) {
        (None, _) => {}
        (Some(j), JitterMode::Random) => out.push_str(&format!(" jitter={} random", show(j))),
        (Some(j), JitterMode::Fixed) => {
            let d = crate::cron::scheduler::jitter_delay(e).unwrap_or_default();
            out.push_str(&format!(
                " jitter={} fixed (+{:.3}s)",
                show(j),
                d.as_secs_f64()
            ));
        }
    }
    match (p.catch_up, p.catch_up_mode) {
        (None, _) => {}
        (Some(w), CatchUpMode::Once) => out.push_str(&format!(" catch_up={} once", show(w))),
        (Some(w), CatchUpMode::All) => out.push_str(&format!(
            " catch_up={} all (max {})",
            show(w),
            p.catch_up_max
        )),
    }
    if let Some(a) = p.alert_after {
        out.push_str(&format!(" alert_after={}", show(a)));
    }
    // Scheme and host only: the rest of a check-in or webhook URL is its key.
    if let Some(u) = &p.ping {
        out.push_str(&format!(" ping={}", crate::cron::checkin::redacted(u)));
    }
    if let Some(u) = &p.notify {
        out.push_str(&format!(" notify={}", crate::cron::checkin::redacted(u)));
    }
    out
}

fn show(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}
