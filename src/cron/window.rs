//! How late a run of a tick may still start, for runs that did not start at their time: one
//! cut off by shutdown and handed back to `wait`, or one that waited while this daemon was
//! down. The scheduler skips a tick it notices late ([`super::scheduler::LATE_LIMIT`]); a run
//! that went back to the queue follows the same rule when it is fetched again, so a run cut off
//! at 03:00 is not re-run hours later after a long outage. Pure arithmetic over the schedule.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::plan::PlannedEntry;
use super::scheduler::LATE_LIMIT;
use crate::crontab::Schedule;

/// The shortest window: a per-second entry's run still starts when the fetch loop or a hand
/// back between daemons took a few seconds.
pub const MIN_WINDOW: Duration = Duration::from_secs(10);

/// One entry's run window.
#[derive(Debug, Clone)]
pub struct RunWindow {
    schedule: Schedule,
    tz: Tz,
    catch_up: Option<Duration>,
}

impl RunWindow {
    /// The window of `e`'s runs.
    pub fn of(e: &PlannedEntry) -> RunWindow {
        RunWindow {
            schedule: e.schedule.clone(),
            tz: e.tz,
            catch_up: e.policy.catch_up,
        }
    }

    /// Until when a run of the tick at `scheduled` may start: until the entry's next tick
    /// (which runs instead), within [`MIN_WINDOW`]..=[`LATE_LIMIT`], or the entry's `catch_up`
    /// window when that is longer.
    pub fn closes(&self, scheduled: DateTime<Utc>) -> DateTime<Utc> {
        let to_next = self
            .schedule
            .next_after(scheduled, self.tz)
            .and_then(|n| (n - scheduled).to_std().ok())
            .unwrap_or(LATE_LIMIT);
        let window = to_next
            .clamp(MIN_WINDOW, LATE_LIMIT)
            .max(self.catch_up.unwrap_or_default());
        scheduled + chrono::Duration::from_std(window).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::plan::tests::at;

    fn window(expr: &str, catch_up: Option<Duration>) -> RunWindow {
        RunWindow {
            schedule: Schedule::parse(expr).unwrap(),
            tz: Tz::UTC,
            catch_up,
        }
    }

    #[test]
    fn a_run_may_start_until_the_next_tick_within_bounds() {
        let t = at("2027-01-01T03:00:00Z");
        // Daily: the late limit, not a day.
        assert_eq!(
            window("0 3 * * *", None).closes(t),
            at("2027-01-01T03:01:00Z")
        );
        // Every 2 s: never below the floor.
        assert_eq!(
            window("*/2 * * * * * *", None).closes(t),
            at("2027-01-01T03:00:10Z")
        );
        // Every 30 s: until the next tick.
        assert_eq!(
            window("*/30 * * * * * *", None).closes(t),
            at("2027-01-01T03:00:30Z")
        );
        // A catch-up window widens it.
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(
            window("0 3 * * *", hour).closes(t),
            at("2027-01-01T04:00:00Z")
        );
    }
}
