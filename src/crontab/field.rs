//! One cron field: parsing `* ? , - /`, names, and the day-of-month / day-of-week specials
//! (`L`, `LW`, `nW`, `nL`, `n#k`) into bitsets. Pure; errors carry the column within the
//! expression and say what would be valid. What the specials mean on a date is
//! [`super::calendar`]'s business.

use super::error::ScheduleError;

/// Which field, for ranges, names and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Second => "second",
            Kind::Minute => "minute",
            Kind::Hour => "hour",
            Kind::DayOfMonth => "day of month",
            Kind::Month => "month",
            Kind::DayOfWeek => "day of week",
            Kind::Year => "year",
        }
    }

    /// Inclusive range of plain values (day of week accepts 7 = Sunday).
    fn range(self) -> (u32, u32) {
        match self {
            Kind::Second | Kind::Minute => (0, 59),
            Kind::Hour => (0, 23),
            Kind::DayOfMonth => (1, 31),
            Kind::Month => (1, 12),
            Kind::DayOfWeek => (0, 7),
            Kind::Year => (1970, 2099),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Kind::Month => &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ],
            Kind::DayOfWeek => &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
            _ => &[],
        }
    }

    fn full_names(self) -> &'static [&'static str] {
        match self {
            Kind::Month => &[
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ],
            Kind::DayOfWeek => &[
                "sunday",
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
            ],
            _ => &[],
        }
    }
}

/// A parsed field: a bitset of plain values plus the specials.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Field {
    /// Bit v set = value v matches (years: bit v-1970).
    pub(crate) bits: [u64; 4],
    /// A bare `*` or `?` element: the field is unrestricted (for the dom/dow rule).
    pub(crate) star: bool,
    /// Day of month `L`.
    pub(crate) last_day: bool,
    /// Day of month `LW`.
    pub(crate) last_weekday: bool,
    /// Day of month `nW`.
    pub(crate) nearest_weekday: Vec<u32>,
    /// Day of week `nL` (weekday 0-6).
    pub(crate) last_of: Vec<u32>,
    /// Day of week `n#k` (weekday 0-6, k 1-5).
    pub(crate) nth: Vec<(u32, u32)>,
}

impl Field {
    /// Whether plain value `v` (year offset from 1970) is set.
    pub(crate) fn has(&self, v: u32) -> bool {
        v < 256 && self.bits[(v / 64) as usize] >> (v % 64) & 1 == 1
    }

    fn set(&mut self, v: u32) {
        self.bits[(v / 64) as usize] |= 1 << (v % 64);
    }

    fn unset(&mut self, v: u32) {
        self.bits[(v / 64) as usize] &= !(1 << (v % 64));
    }

    /// The set plain values, ascending.
    pub(crate) fn values(&self, lo: u32, hi: u32) -> Vec<u32> {
        (lo..=hi).filter(|v| self.has(*v)).collect()
    }
}

/// Parses field `text` of `kind`; `col` is its 1-based column in the expression.
pub(crate) fn parse(text: &str, kind: Kind, col: usize) -> Result<Field, ScheduleError> {
    let mut f = Field::default();
    // Supercronic skips empty list elements (`0,,30` = `0,30`, `5,` = `5`), and rule zero of
    // shared/crontab.md says a crontab it accepts must not be refused here; a field of nothing
    // but commas it refuses too.
    if text.split(',').all(str::is_empty) {
        return Err(err(
            col,
            format!("{}: {text:?} has no value: write e.g. 1,15", kind.name()),
        ));
    }
    let mut offset = 0;
    for part in text.split(',') {
        let c = col + offset;
        offset += part.len() + 1;
        if !part.is_empty() {
            element(&mut f, part, kind, c)?;
        }
    }
    if kind == Kind::DayOfWeek && f.has(7) {
        f.set(0);
        f.unset(7);
    }
    Ok(f)
}

fn err(column: usize, message: String) -> ScheduleError {
    ScheduleError { column, message }
}

fn element(f: &mut Field, part: &str, kind: Kind, col: usize) -> Result<(), ScheduleError> {
    let lower = part.to_ascii_lowercase();
    if let Some(special) = special(f, &lower, kind, col)? {
        return Ok(special);
    }
    let (lo_max, hi_max) = kind.range();
    let (range, step) = match lower.split_once('/') {
        Some((r, s)) => {
            let step = digits(s).ok_or_else(|| {
                err(
                    col + r.len() + 1,
                    format!(
                        "{}: step {s:?} is not a number: write e.g. */5",
                        kind.name()
                    ),
                )
            })?;
            // A step runs from 1 to the field's maximum (`*/59` minutes is valid, `*/60` not;
            // years up to 2099, as Supercronic, though past 129 only the first year is left).
            let max_step = hi_max;
            if step == 0 || step > max_step {
                return Err(err(
                    col + r.len() + 1,
                    format!(
                        "{} step {step} is out of range: use 1-{max_step} (e.g. */{})",
                        kind.name(),
                        max_step.min(15)
                    ),
                ));
            }
            (r, Some(step))
        }
        None => (lower.as_str(), None),
    };
    let (lo, hi) = if range == "*" || range == "?" {
        if step.is_none() {
            f.star = true;
        }
        (lo_max, if kind == Kind::DayOfWeek { 6 } else { hi_max })
    } else if let Some((a_text, b_text)) = range.split_once('-') {
        let a = value(a_text, kind, col)?;
        let b = value(b_text, kind, col + a_text.len() + 1)?;
        (a, b)
    } else {
        let a = value(range, kind, col)?;
        // `a/s` means a to the maximum, step s.
        (
            a,
            if step.is_some() {
                if kind == Kind::DayOfWeek {
                    6
                } else {
                    hi_max
                }
            } else {
                a
            },
        )
    };
    let wraps = kind == Kind::DayOfWeek && lo > hi;
    if lo > hi && !wraps {
        return Err(err(col, format!("{}: range {range:?} runs backwards: write the smaller value first (e.g. {hi}-{lo})", kind.name())));
    }
    let step = step.unwrap_or(1);
    let values: Vec<u32> = if wraps {
        // Weekday wrap, e.g. 5-1 = Fri, Sat, Sun, Mon (7 counts as Sunday).
        (lo..=6).chain(0..=hi % 7).collect()
    } else {
        (lo..=hi).collect()
    };
    for v in values.into_iter().step_by(step as usize) {
        f.set(if kind == Kind::Year { v - 1970 } else { v });
    }
    Ok(())
}

/// A decimal number of ASCII digits only: `u32::from_str` would also take `+5`, which no cron
/// (nor Supercronic) accepts.
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A plain value or a name.
fn value(text: &str, kind: Kind, col: usize) -> Result<u32, ScheduleError> {
    let (lo, hi) = kind.range();
    if let Some(v) = digits(text) {
        if v < lo || v > hi {
            return Err(err(
                col,
                format!("{} {v} is out of range: use {lo}-{hi}", kind.name()),
            ));
        }
        return Ok(v);
    }
    let base = if kind == Kind::Month { 1 } else { 0 };
    if let Some(i) = kind.names().iter().position(|n| *n == text) {
        return Ok(i as u32 + base);
    }
    if let Some(i) = kind.full_names().iter().position(|n| *n == text) {
        return Ok(i as u32 + base);
    }
    let hint = match kind {
        Kind::Month => "1-12 or jan-dec".to_string(),
        Kind::DayOfWeek => "0-7 or sun-sat".to_string(),
        _ => format!("{lo}-{hi}"),
    };
    Err(err(
        col,
        format!(
            "{}: {text:?} is not valid: use {hint}, *, ranges a-b, lists a,b and steps */n",
            kind.name()
        ),
    ))
}

/// Day-of-month and day-of-week specials. `Ok(Some(()))` when `text` was one.
fn special(f: &mut Field, text: &str, kind: Kind, col: usize) -> Result<Option<()>, ScheduleError> {
    match kind {
        Kind::DayOfMonth => {
            if text == "l" {
                f.last_day = true;
                return Ok(Some(()));
            }
            if text == "lw" || text == "wl" {
                f.last_weekday = true;
                return Ok(Some(()));
            }
            if let Some(n) = text.strip_suffix('w') {
                let d = value(n, kind, col)?;
                f.nearest_weekday.push(d);
                return Ok(Some(()));
            }
            Ok(None)
        }
        Kind::DayOfWeek => {
            if let Some((d, k)) = text.split_once('#') {
                let d = value(d, kind, col)? % 7;
                let k = digits(k).filter(|k| (1..=5).contains(k)).ok_or_else(|| {
                    err(col, format!("day of week {text:?}: the week number after # must be 1-5 (e.g. fri#2)"))
                })?;
                f.nth.push((d, k));
                return Ok(Some(()));
            }
            if let Some(d) = text.strip_suffix('l') {
                if !d.is_empty() {
                    let d = value(d, kind, col)? % 7;
                    f.last_of.push(d);
                    return Ok(Some(()));
                }
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Kind};

    /// Found by tests/cron_conformance.rs against Supercronic's parser: what it accepts (empty
    /// list elements, year steps to 2099) parses, and a signed number does not.
    #[test]
    fn supercronic_forms_parse_and_signs_do_not() {
        let minutes = parse("0,,30,", Kind::Minute, 1).unwrap();
        assert_eq!(minutes.values(0, 59), [0, 30]);
        assert!(parse(",", Kind::Minute, 1).is_err());
        assert!(parse(",,", Kind::Minute, 1).is_err());
        assert_eq!(parse("*/1999", Kind::Year, 1).unwrap().values(0, 129), [0]);
        assert!(parse("*/2100", Kind::Year, 1).is_err());
        for bad in ["+5", "*/+5", "1-+3", "1#+2", "\u{663}"] {
            let kind = if bad.contains('#') {
                Kind::DayOfWeek
            } else {
                Kind::Minute
            };
            assert!(parse(bad, kind, 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_range_end_is_reported_at_its_own_column() {
        let e = parse("jan-foo", Kind::Month, 10).unwrap_err();
        assert_eq!(e.column, 14, "{e}");
    }
}
