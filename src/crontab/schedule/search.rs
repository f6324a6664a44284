//! The next fire instant: walk the days that match year, month and day fields, then the wall
//! times of the first such day, each mapped to real instants by [`super::dst`].

use chrono::Offset;
use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

use super::super::calendar::{day_matches, first_of_next_month};
use super::fields::Fields;

/// Safety bound on the search: a schedule that cannot fire before 2100 never fires.
const LAST_YEAR: i32 = 2099;

impl Fields {
    pub(super) fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // Start at `after`'s wall time, minus the hours a backward clock change within the
        // next three hours repeats: a repeated wall time earlier than `after`'s can still be a
        // later instant.
        let offset = |t: DateTime<Utc>| {
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        };
        let repeat = (offset(after) - offset(after + Duration::hours(3))).max(0);
        let start_local =
            after.with_timezone(&tz).naive_local() - Duration::seconds(i64::from(repeat));
        let mut date = start_local.date();
        let hours = self.hour.values(0, 23);
        let minutes = self.minute.values(0, 59);
        let seconds = self.second.values(0, 59);
        loop {
            if date.year() > LAST_YEAR {
                return None;
            }
            date = self.next_day(date)?;
            let from = if date == start_local.date() {
                start_local.time()
            } else {
                NaiveTime::MIN
            };
            if let Some(t) = self.first_on(date, from, after, tz, &hours, &minutes, &seconds) {
                return Some(t);
            }
            date = date.succ_opt()?;
        }
    }

    /// The first date on or after `date` whose year, month and day match.
    fn next_day(&self, mut date: NaiveDate) -> Option<NaiveDate> {
        loop {
            if date.year() > LAST_YEAR {
                return None;
            }
            if !self.year.has((date.year() - 1970).max(0) as u32) || date.year() < 1970 {
                date = NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)?;
                continue;
            }
            if !self.month.has(date.month()) {
                date = first_of_next_month(date)?;
                continue;
            }
            if day_matches(&self.dom, &self.dow, date) {
                return Some(date);
            }
            date = date.succ_opt()?;
        }
    }

    /// The earliest fire instant on `date` (wall times from `from`) that is after `after`.
    #[allow(clippy::too_many_arguments)]
    fn first_on(
        &self,
        date: NaiveDate,
        from: NaiveTime,
        after: DateTime<Utc>,
        tz: Tz,
        hours: &[u32],
        minutes: &[u32],
        seconds: &[u32],
    ) -> Option<DateTime<Utc>> {
        let mut best: Option<(DateTime<Utc>, NaiveDateTime)> = None;
        for &h in hours.iter().filter(|h| **h >= from.hour()) {
            for &m in minutes {
                for &s in seconds {
                    let wall = date.and_hms_opt(h, m, s)?;
                    if wall.time() < from {
                        continue;
                    }
                    // Past the best candidate by more than any offset change: nothing later can win.
                    if let Some((_, bw)) = best {
                        if wall - bw > Duration::hours(3) {
                            return best.map(|(t, _)| t);
                        }
                    }
                    for t in self.instants(wall, tz) {
                        if t > after && best.is_none_or(|(b, _)| t < b) {
                            best = Some((t, wall));
                        }
                    }
                }
            }
        }
        best.map(|(t, _)| t)
    }
}
