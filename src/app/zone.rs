//! The daemon's zone, read here because only `app` reads the environment: the process's `TZ`
//! and where `/etc/localtime` points, handed as values to the pure
//! [`crate::cron::zone::default_zone`].

use chrono_tz::Tz;

/// The zone crontab entries without `CRON_TZ` run in: `TZ`, else `/etc/localtime`, else UTC.
pub(crate) fn daemon_zone() -> Tz {
    let tz = std::env::var("TZ").ok();
    let link = std::fs::read_link("/etc/localtime").ok();
    crate::cron::zone::default_zone(tz.as_deref(), link.as_deref())
}
