//! Calendar arithmetic and what the day specials mean on a given date: `L`, `LW`, `nW` for
//! the day of month, `nL` and `n#k` for the day of week, and the classic rule that a
//! restricted day of month and a restricted day of week match when either does. Pure; the
//! [`super::field`] parser only records the specials, the schedule search asks here whether a
//! date matches them.

use chrono::{Datelike, NaiveDate, Weekday};

use super::field::Field;

/// The first day of the month after `d`'s.
pub(crate) fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    }
}

/// The number of the last day of `d`'s month.
pub(crate) fn last_day(d: NaiveDate) -> u32 {
    first_of_next_month(d)
        .and_then(|n| n.pred_opt())
        .map(|l| l.day())
        .unwrap_or(28)
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Whether date `d` matches day-of-month field `dom` and day-of-week field `dow`: when both
/// are restricted, either one matching is enough (classic cron).
pub(crate) fn day_matches(dom: &Field, dow: &Field, d: NaiveDate) -> bool {
    let by_dom = || dom_matches(dom, d);
    let by_dow = || dow_matches(dow, d);
    match (dom.star, dow.star) {
        (true, true) => true,
        (true, false) => by_dow(),
        (false, true) => by_dom(),
        (false, false) => by_dom() || by_dow(),
    }
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
pub(crate) fn nearest_weekday(d: NaiveDate, n: u32) -> Option<u32> {
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
