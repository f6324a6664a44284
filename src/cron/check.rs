//! stub
#![allow(missing_docs, unreachable_pub)]
use super::schedule::{Schedule, ScheduleError};
use chrono::{DateTime, Utc};
pub fn test_report(
    _file: &str,
    text: &str,
    _now: DateTime<Utc>,
    _tz: chrono_tz::Tz,
) -> (String, String, bool) {
    match super::parse::parse_crontab(text) {
        Ok(_) => (String::new(), String::new(), true),
        Err(e) => (String::new(), e.to_string(), false),
    }
}
pub fn next_fires(
    expr: &str,
    tz: chrono_tz::Tz,
    from: DateTime<Utc>,
    n: usize,
) -> Result<Vec<DateTime<Utc>>, ScheduleError> {
    let s = Schedule::parse(expr)?;
    let mut v = vec![];
    let mut t = from;
    for _ in 0..n {
        match s.next_after(t, tz) {
            Some(x) => {
                v.push(x);
                t = x;
            }
            None => break,
        }
    }
    Ok(v)
}
