//! Daylight-saving rules (shared/crontab.md). An entry is *fixed-time* when none of its
//! second, minute and hour fields begins with `*`:
//! - a wall time skipped by a forward jump fires a fixed-time entry once at the first instant
//!   after the gap (seconds dropped); a wildcard entry simply has no such times;
//! - a wall time that occurs twice fires a fixed-time entry once (the first occurrence) and a
//!   wildcard entry at both real instants.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::fields::Fields;

impl Fields {
    /// The real instants of wall time `wall` under the daylight-saving rules.
    pub(super) fn instants(&self, wall: NaiveDateTime, tz: Tz) -> Vec<DateTime<Utc>> {
        match tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                let (first, second) = if a <= b { (a, b) } else { (b, a) };
                if self.fixed_time {
                    vec![first]
                } else {
                    vec![first, second]
                }
            }
            LocalResult::None if self.fixed_time => after_gap(wall, tz).into_iter().collect(),
            LocalResult::None => Vec::new(),
        }
    }
}

/// The first instant after the gap that swallowed `wall` (seconds dropped).
fn after_gap(wall: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    let mut t = wall.with_second(0)?;
    for _ in 0..(3 * 60) {
        t += Duration::minutes(1);
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) => return Some(x.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => return Some(a.min(b).with_timezone(&Utc)),
            LocalResult::None => {}
        }
    }
    None
}
