//! A schedule expression and its next fire instant in any IANA zone.
//!
//! Our own matcher rather than `croner` or `cron`: this dialect reads 6 fields as
//! `min hour dom mon dow YEAR` (not seconds), needs the classic cron daylight-saving rules
//! below, and must return "never again" at once for impossible dates; neither crate does all
//! three. Fields are bitsets ([`super::field`]).
//!
//! Daylight-saving rules (shared/crontab.md). An entry is *fixed-time* when none of its
//! second, minute and hour fields begins with `*`:
//! - a wall time skipped by a forward jump fires a fixed-time entry once at the first instant
//!   after the gap (seconds dropped); a wildcard entry simply has no such times;
//! - a wall time that occurs twice fires a fixed-time entry once (the first occurrence) and a
//!   wildcard entry at both real instants.

use chrono::Offset;
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc, Weekday,
};
use chrono_tz::Tz;

use super::field::{self, Field, Kind};

/// A parse error of an expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ScheduleError {
    /// 1-based column within the expression.
    pub column: usize,
    /// What is wrong and what would be valid.
    pub message: String,
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    text: String,
    kind: Spec,
}

#[derive(Debug, Clone, PartialEq)]
enum Spec {
    Cron(Box<Fields>),
    Reboot,
    Every(u64),
}

#[derive(Debug, Clone, PartialEq)]
struct Fields {
    second: Field,
    minute: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
    year: Field,
    fixed_time: bool,
    /// 6 fields whose first looks like seconds (`*/15 * * * * *`), for a warning.
    seconds_first_look: bool,
}

const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

impl Schedule {
    /// A whole expression: 5, 6 or 7 fields, or one `@macro` (`@every 5m` too).
    pub fn parse(expr: &str) -> Result<Schedule, ScheduleError> {
        let text = expr.split_whitespace().collect::<Vec<_>>().join(" ");
        let lower = text.to_ascii_lowercase();
        if lower == "@reboot" {
            return Ok(Schedule {
                text,
                kind: Spec::Reboot,
            });
        }
        if let Some(d) = lower.strip_prefix("@every ") {
            let secs = parse_every(d)?;
            return Ok(Schedule {
                text,
                kind: Spec::Every(secs),
            });
        }
        if let Some((_, body)) = MACROS.iter().find(|(m, _)| *m == lower) {
            let fields = fields(body, 1)?;
            return Ok(Schedule {
                text,
                kind: Spec::Cron(Box::new(fields)),
            });
        }
        if lower.starts_with('@') {
            return Err(ScheduleError {
                column: 1,
                message: format!("unknown macro {text:?}: use @yearly, @monthly, @weekly, @daily, @hourly, @reboot or @every 5m"),
            });
        }
        let fields = fields(&text, 1)?;
        Ok(Schedule {
            text,
            kind: Spec::Cron(Box::new(fields)),
        })
    }

    /// First fire instant strictly after `after`, in zone `tz`; `None` when it never fires
    /// again (the search is bounded by the year 2099).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match &self.kind {
            Spec::Reboot => None,
            Spec::Every(secs) => {
                // Multiples of the duration since the Unix epoch, so every replica and restart
                // agrees on the ticks. Checked: a duration of centuries has no next instant.
                let s = i64::try_from(*secs).ok()?;
                let next = after
                    .timestamp()
                    .div_euclid(s)
                    .checked_add(1)?
                    .checked_mul(s)?;
                DateTime::from_timestamp(next, 0)
            }
            Spec::Cron(f) => f.next_after(after, tz),
        }
    }

    /// `@reboot`: fires once at daemon start, never from [`Schedule::next_after`].
    pub fn is_reboot(&self) -> bool {
        matches!(self.kind, Spec::Reboot)
    }

    /// None of second, minute, hour begins with `*`.
    pub fn is_fixed_time(&self) -> bool {
        matches!(&self.kind, Spec::Cron(f) if f.fixed_time)
    }

    /// A 6-field schedule that looks seconds-first (its year field is `*`, its first field a step).
    pub fn looks_seconds_first(&self) -> bool {
        matches!(&self.kind, Spec::Cron(f) if f.seconds_first_look)
    }

    /// The smallest interval between fires, roughly (seconds).
    pub fn min_interval_secs(&self) -> Option<u64> {
        match &self.kind {
            Spec::Reboot => None,
            Spec::Every(s) => Some(*s),
            Spec::Cron(f) => {
                let gap = |field: &Field, hi: u32| {
                    let v = field.values(0, hi);
                    v.windows(2).map(|w| w[1] - w[0]).min()
                };
                if f.second.values(0, 59).len() > 1 {
                    gap(&f.second, 59).map(u64::from)
                } else if f.minute.values(0, 59).len() > 1 {
                    gap(&f.minute, 59).map(|m| u64::from(m) * 60)
                } else if f.hour.values(0, 23).len() > 1 {
                    gap(&f.hour, 23).map(|h| u64::from(h) * 3600)
                } else {
                    Some(86_400)
                }
            }
        }
    }
}

impl Schedule {
    /// The expression as written (two entries with equal text fire at the same instants).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_every(d: &str) -> Result<u64, ScheduleError> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in d.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            'd' => 86_400,
            _ => 0,
        };
        // Checked: `@every 99999999999999999999h` is an error, not an overflow panic.
        let part = num
            .parse::<u64>()
            .ok()
            .filter(|_| unit != 0)
            .and_then(|n| n.checked_mul(unit))
            .and_then(|p| p.checked_add(total));
        total = part.ok_or_else(|| ScheduleError {
            column: 8,
            message: every_hint(d),
        })?;
        num.clear();
    }
    if !num.is_empty() || total == 0 {
        return Err(ScheduleError {
            column: 8,
            message: every_hint(d),
        });
    }
    Ok(total)
}

/// The fix for a bad `@every`: its minimum and units (`1ms` used to get only "like 30s").
fn every_hint(d: &str) -> String {
    format!("@every {d:?}: the shortest interval is 1s; write whole days, hours, minutes and seconds like 30s, 5m, 1h30m")
}

/// Parses 5, 6 or 7 whitespace-separated fields starting at column `col`.
fn fields(text: &str, col: usize) -> Result<Fields, ScheduleError> {
    let mut toks = Vec::new();
    let mut pos = 0;
    for t in text.split(' ') {
        toks.push((t, col + pos));
        pos += t.len() + 1;
    }
    let kinds: &[Kind] = match toks.len() {
        5 => &[Kind::Minute, Kind::Hour, Kind::DayOfMonth, Kind::Month, Kind::DayOfWeek],
        6 => &[Kind::Minute, Kind::Hour, Kind::DayOfMonth, Kind::Month, Kind::DayOfWeek, Kind::Year],
        7 => &[Kind::Second, Kind::Minute, Kind::Hour, Kind::DayOfMonth, Kind::Month, Kind::DayOfWeek, Kind::Year],
        n => {
            return Err(ScheduleError {
                column: col,
                message: format!("{n} fields: a schedule has 5 (min hour dom mon dow), 6 (+ year) or 7 (sec … year) fields, or is a @macro"),
            })
        }
    };
    let mut parsed = Vec::with_capacity(7);
    for ((t, c), k) in toks.iter().zip(kinds) {
        parsed.push(field::parse(t, *k, *c)?);
    }
    let all = |k: Kind| field::parse("*", k, 0).expect("a bare star parses");
    let (second, rest) = if toks.len() == 7 {
        (parsed.remove(0), parsed)
    } else {
        (
            field::parse("0", Kind::Second, 0).expect("0 parses"),
            parsed,
        )
    };
    let mut it = rest.into_iter();
    let (minute, hour, dom, month, dow) = (
        it.next().unwrap(),
        it.next().unwrap(),
        it.next().unwrap(),
        it.next().unwrap(),
        it.next().unwrap(),
    );
    let year = it.next().unwrap_or_else(|| all(Kind::Year));
    let starts_star = |s: &str| s.starts_with('*') || s.starts_with('?');
    let time_toks: Vec<&str> = if toks.len() == 7 {
        vec![toks[0].0, toks[1].0, toks[2].0]
    } else {
        vec![toks[0].0, toks[1].0]
    };
    let fixed_time = !time_toks.iter().any(|t| starts_star(t));
    let seconds_first_look =
        toks.len() == 6 && toks[5].0 == "*" && (toks[0].0.contains('/') || toks[0].0.contains(','));
    Ok(Fields {
        second,
        minute,
        hour,
        dom,
        month,
        dow,
        year,
        fixed_time,
        seconds_first_look,
    })
}

/// Safety bound on the search: a schedule that cannot fire before 2100 never fires.
const LAST_YEAR: i32 = 2099;

impl Fields {
    fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
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
            if self.day_matches(date) {
                return Some(date);
            }
            date = date.succ_opt()?;
        }
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        let dom = || dom_matches(&self.dom, d);
        let dow = || dow_matches(&self.dow, d);
        match (self.dom.star, self.dow.star) {
            (true, true) => true,
            (true, false) => dow(),
            (false, true) => dom(),
            (false, false) => dom() || dow(),
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

    /// The real instants of wall time `wall` under the daylight-saving rules.
    fn instants(&self, wall: NaiveDateTime, tz: Tz) -> Vec<DateTime<Utc>> {
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

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    }
}

fn last_day(d: NaiveDate) -> u32 {
    first_of_next_month(d)
        .and_then(|n| n.pred_opt())
        .map(|l| l.day())
        .unwrap_or(28)
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn dom_matches(f: &Field, d: NaiveDate) -> bool {
    let day = d.day();
    let last = last_day(d);
    if f.has(day) || (f.last_day && day == last) {
        return true;
    }
    if f.last_weekday {
        let mut l = d.with_day(last).unwrap_or(d);
        while is_weekend(l) {
            l = l.pred_opt().unwrap_or(l);
        }
        if l == d {
            return true;
        }
    }
    f.nearest_weekday
        .iter()
        .any(|&n| nearest_weekday(d, n) == Some(day))
}

/// The weekday nearest to day `n` of `d`'s month, never leaving the month (`1W` on a
/// Saturday is Monday the 3rd).
fn nearest_weekday(d: NaiveDate, n: u32) -> Option<u32> {
    let last = last_day(d);
    if n > last {
        return None;
    }
    let t = d.with_day(n)?;
    Some(match t.weekday() {
        Weekday::Sat if n == 1 => 3,
        Weekday::Sat => n - 1,
        Weekday::Sun if n == last => n - 2,
        Weekday::Sun => n + 1,
        _ => n,
    })
}

fn dow_matches(f: &Field, d: NaiveDate) -> bool {
    let wd = d.weekday().num_days_from_sunday();
    if f.has(wd) {
        return true;
    }
    let last = last_day(d);
    if f.last_of.iter().any(|&w| w == wd && d.day() + 7 > last) {
        return true;
    }
    f.nth
        .iter()
        .any(|&(w, k)| w == wd && (d.day() - 1) / 7 + 1 == k)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::super::check::next_fires;
    use super::super::zone::parse_zone;
    fn run(expr: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
        let from: DateTime<Utc> = DateTime::parse_from_rfc3339(from)
            .unwrap()
            .with_timezone(&Utc);
        next_fires(expr, parse_zone(tz).unwrap(), from, n)
            .unwrap()
            .iter()
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .collect()
    }

    /// Issue 14 item 9: `@every 1ms` must say what the minimum is.
    #[test]
    fn sub_second_every_names_the_minimum() {
        for d in ["1ms", "500ms", "0s", "1us"] {
            let err = super::Schedule::parse(&format!("@every {d}")).unwrap_err();
            assert!(
                err.message.contains("shortest interval is 1s"),
                "{d}: {}",
                err.message
            );
        }
    }

    /// A huge `@every` overflowed (a panic in debug builds, a negative step in release).
    #[test]
    fn huge_every_durations_are_errors_or_never_fire() {
        use super::Schedule;
        assert!(Schedule::parse("@every 18446744073709551615h").is_err());
        assert!(Schedule::parse("@every 99999999999999999999s").is_err());
        assert!(Schedule::parse("@every 18446744073709551615s1s").is_err());
        let now = Utc::now();
        for d in [
            "18446744073709551615s",
            "9223372036854775807s",
            "2562047788015215h",
        ] {
            let s = Schedule::parse(&format!("@every {d}")).unwrap();
            assert_eq!(s.next_after(now, chrono_tz::UTC), None, "{d}");
        }
    }

    #[test]
    fn sample() {
        assert_eq!(
            run("0 3 * * *", "UTC", "2027-01-01T12:00:00Z", 2),
            ["2027-01-02T03:00:00Z", "2027-01-03T03:00:00Z"]
        );
        assert_eq!(
            run("*/15 * * * * *", "UTC", "2027-01-01T12:07:30Z", 3),
            [
                "2027-01-01T12:15:00Z",
                "2027-01-01T12:30:00Z",
                "2027-01-01T12:45:00Z"
            ]
        );
        assert_eq!(
            run("*/15 * * * * * *", "UTC", "2027-01-01T12:07:30Z", 3),
            [
                "2027-01-01T12:07:45Z",
                "2027-01-01T12:08:00Z",
                "2027-01-01T12:08:15Z"
            ]
        );
        assert_eq!(
            run("0 9 * * MON-FRI", "UTC", "2027-01-01T12:00:00Z", 3),
            [
                "2027-01-04T09:00:00Z",
                "2027-01-05T09:00:00Z",
                "2027-01-06T09:00:00Z"
            ]
        );
        assert_eq!(
            run("0 0 * * 7", "UTC", "2027-01-01T12:00:00Z", 2),
            ["2027-01-03T00:00:00Z", "2027-01-10T00:00:00Z"]
        );
        assert_eq!(
            run("@weekly", "UTC", "2027-01-01T12:00:00Z", 2),
            ["2027-01-03T00:00:00Z", "2027-01-10T00:00:00Z"]
        );
        assert_eq!(
            run("0 0 L * *", "UTC", "2027-01-15T00:00:00Z", 3),
            [
                "2027-01-31T00:00:00Z",
                "2027-02-28T00:00:00Z",
                "2027-03-31T00:00:00Z"
            ]
        );
        assert_eq!(
            run("0 0 L 2 *", "UTC", "2027-03-01T00:00:00Z", 2),
            ["2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"]
        );
        assert_eq!(
            run("0 0 1W * *", "UTC", "2027-05-01T00:00:00Z", 2),
            ["2027-05-03T00:00:00Z", "2027-06-01T00:00:00Z"]
        );
        assert_eq!(
            run("0 0 * * 5#2", "UTC", "2027-01-01T00:00:00Z", 3),
            [
                "2027-01-08T00:00:00Z",
                "2027-02-12T00:00:00Z",
                "2027-03-12T00:00:00Z"
            ]
        );
        assert_eq!(
            run("0 0 1,15 * MON", "UTC", "2027-02-01T12:00:00Z", 5),
            [
                "2027-02-08T00:00:00Z",
                "2027-02-15T00:00:00Z",
                "2027-02-22T00:00:00Z",
                "2027-03-01T00:00:00Z",
                "2027-03-08T00:00:00Z"
            ]
        );
        assert_eq!(
            run("0 0 1 1 * 2030", "UTC", "2027-03-01T00:00:00Z", 3),
            ["2030-01-01T00:00:00Z"]
        );
        assert_eq!(
            run("30 2 * * *", "Europe/Paris", "2027-03-27T11:00:00Z", 2),
            ["2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"]
        );
        assert_eq!(
            run("30 2 * * *", "Europe/Paris", "2027-10-30T10:00:00Z", 2),
            ["2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"]
        );
        assert_eq!(
            run("0 * * * *", "Europe/Paris", "2027-10-30T22:30:00Z", 4),
            [
                "2027-10-30T23:00:00Z",
                "2027-10-31T00:00:00Z",
                "2027-10-31T01:00:00Z",
                "2027-10-31T02:00:00Z"
            ]
        );
        for bad in [
            "*/60 * * * *",
            "*/0 * * * *",
            "60 * * * *",
            "0 24 * * *",
            "0 0 32 * *",
            "0 0 * 13 *",
            "* * * *",
        ] {
            assert!(super::Schedule::parse(bad).is_err(), "{bad}");
        }
    }
}
