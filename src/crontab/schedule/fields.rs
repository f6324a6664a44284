//! An expression of 5, 6 or 7 fields: which field each token is, and the two facts read off
//! the tokens themselves (fixed-time for the daylight-saving rules, and a 6-field expression
//! that looks seconds-first, for a warning).

use super::super::error::ScheduleError;
use super::super::field::{self, Field, Kind};

/// The parsed fields of an expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fields {
    pub(super) second: Field,
    pub(super) minute: Field,
    pub(super) hour: Field,
    pub(super) dom: Field,
    pub(super) month: Field,
    pub(super) dow: Field,
    pub(super) year: Field,
    pub(super) fixed_time: bool,
    /// 6 fields whose first looks like seconds (`*/15 * * * * *`), for a warning.
    pub(super) seconds_first_look: bool,
}

/// Parses 5, 6 or 7 whitespace-separated fields starting at column `col`.
pub(super) fn fields(text: &str, col: usize) -> Result<Fields, ScheduleError> {
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
