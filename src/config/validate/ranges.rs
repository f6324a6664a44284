//! The sane range of every number and duration in the config. A value that parses but makes
//! the daemon misbehave later (a `0s` lock that Redis refuses on every job, a zero timeout that
//! kills every run at once, a count that overflows a Lua number) is refused at start with its
//! place and the range, instead of surfacing as jobs piling up while `/health` says healthy.

use std::time::Duration;

use super::invalid;
use crate::config::Error;

/// An inclusive range and why it is what it is (shown in the message).
pub(super) struct Bounds<T> {
    /// Smallest accepted.
    pub min: T,
    /// Largest accepted.
    pub max: T,
    /// Why the limits are there: one short clause.
    pub why: &'static str,
}

const SEC: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// `[worker] lock_duration`. Redis refuses a `PX 0` lock; the lock is renewed every half of
/// its duration, so below a second renewals race the handler's own work.
pub(super) const LOCK: Bounds<Duration> = Bounds {
    min: SEC,
    max: DAY,
    why: "the lock is renewed every half of it, and a crashed worker's job waits that long",
};

/// `[worker] stalled_interval`. Not tied to `lock_duration`: a check more frequent than the
/// lock only finds nothing more often, a rarer one only notices a crashed worker later, and
/// BullMQ accepts both.
pub(super) const STALLED: Bounds<Duration> = Bounds {
    min: SEC,
    max: DAY,
    why: "each check is a Redis round trip per queue; a crashed worker's jobs wait that long",
};

/// `[worker] idle_release`. Below a second a queue between two jobs a moment apart would
/// reconnect for each; above an hour an idle queue holds its connections for nothing.
pub(super) const IDLE_RELEASE: Bounds<Duration> = Bounds {
    min: SEC,
    max: HOUR,
    why: "a queue reconnects when work comes after it; until then it holds two connections",
};

/// `[worker] shutdown_timeout`: running jobs get this long to finish on SIGTERM.
pub(super) const SHUTDOWN: Bounds<Duration> = Bounds {
    min: SEC,
    max: HOUR,
    why: "running jobs need time to finish, and orchestrators kill long before an hour",
};

/// `concurrency` (worker and per queue): each slot may hold a child process and a lock.
pub(super) const CONCURRENCY: Bounds<u64> = Bounds {
    min: 1,
    max: 1000,
    why: "each slot may hold a child process, a Redis lock and its renewal",
};

/// `[worker] max_stalled_count`: 0 fails a job at its first stall (BullMQ allows it).
pub(super) const MAX_STALLED: Bounds<u64> = Bounds {
    min: 0,
    max: 1000,
    why: "0 fails a job at its first stall",
};

/// `[worker] metrics_points` by default: two weeks of minutes, as BullMQ's docs suggest.
pub(super) const METRICS_POINTS_DEFAULT: u64 = 20_160;

/// `[worker] metrics_points`: minutes kept per queue and outcome (8 bytes or so each in
/// Redis); a year is the most that stays cheap to read back.
pub(super) const METRICS_POINTS: Bounds<u64> = Bounds {
    min: 0,
    max: 525_600,
    why: "minutes of completed/failed counts kept (20160 = two weeks, 0 = none)",
};

/// `attempts`: 1 is no retry.
pub(super) const ATTEMPTS: Bounds<u64> = Bounds {
    min: 1,
    max: 1000,
    why: "1 = run once, no retry",
};

/// Backoff delays: 0 retries at once (BullMQ allows it); beyond a week a retry is forgotten.
pub(super) const BACKOFF: Bounds<Duration> = Bounds {
    min: Duration::ZERO,
    max: Duration::from_secs(7 * 86_400),
    why: "0 retries at once",
};

/// Handler, HTTP and schedule timeouts: a zero timeout kills every run as it starts.
pub(super) const TIMEOUT: Bounds<Duration> = Bounds {
    min: Duration::from_millis(1),
    max: Duration::from_secs(7 * 86_400),
    why: "a zero timeout kills every run as it starts",
};

/// `remove_on_* = N` / `count = N`: kept in Redis as a Lua number.
pub(super) const RETAIN_COUNT: Bounds<u64> = Bounds {
    min: 0,
    max: 1_000_000_000,
    why: "0 keeps none; use false to keep all",
};

/// `age = "…"`: Redis keeps whole seconds, so below a second it would mean "remove at once".
pub(super) const RETAIN_AGE: Bounds<Duration> = Bounds {
    min: SEC,
    max: Duration::from_secs(3650 * 86_400),
    why: "ages are whole seconds; use true to remove at once",
};

/// `max_jobs`: 0 would drain before the first job.
pub(super) const MAX_JOBS: Bounds<u64> = Bounds {
    min: 1,
    max: u64::MAX,
    why: "0 would stop before the first job; leave it unset for no limit",
};

/// `max_runtime`.
pub(super) const MAX_RUNTIME: Bounds<Duration> = Bounds {
    min: SEC,
    max: Duration::from_secs(365 * 86_400),
    why: "leave it unset for no limit",
};

/// `max_memory_mb`.
pub(super) const MAX_MEMORY_MB: Bounds<u64> = Bounds {
    min: 1,
    max: 1 << 20,
    why: "in MiB; leave it unset for no limit",
};

/// `[[schedule]] catch_up`: the scheduler looks back this far at start.
pub(super) const CATCH_UP: Bounds<Duration> = Bounds {
    min: SEC,
    max: Duration::from_secs(7 * 86_400),
    why: "a missed tick older than a week is not worth running",
};

/// `[[schedule]] jitter`: 0 is no jitter.
pub(super) const JITTER: Bounds<Duration> = Bounds {
    min: Duration::ZERO,
    max: DAY,
    why: "the random start delay must stay shorter than a day",
};

/// `d` if within `b`, else an error naming `place` and the range.
pub(super) fn duration_in(
    d: Duration,
    place: &str,
    b: &Bounds<Duration>,
) -> Result<Duration, Error> {
    if (b.min..=b.max).contains(&d) {
        return Ok(d);
    }
    Err(invalid(
        place.to_string(),
        format!(
            "{} is out of range: use {} to {} ({})",
            show(d),
            show(b.min),
            show(b.max),
            b.why
        ),
    ))
}

/// `n` if within `b`, else an error naming `place` and the range.
pub(super) fn count_in(n: u64, place: &str, b: &Bounds<u64>) -> Result<u64, Error> {
    if (b.min..=b.max).contains(&n) {
        return Ok(n);
    }
    let max = if b.max == u64::MAX {
        "any larger number".to_string()
    } else {
        b.max.to_string()
    };
    Err(invalid(
        place.to_string(),
        format!("{n} is out of range: use {} to {max} ({})", b.min, b.why),
    ))
}

fn show(d: Duration) -> String {
    if d.is_zero() {
        "0s".into()
    } else {
        humantime::format_duration(d).to_string()
    }
}
