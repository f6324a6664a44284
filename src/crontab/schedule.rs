//! A schedule expression and its next fire instant in any IANA zone.
//!
//! Our own matcher rather than `croner` or `cron`: this dialect reads 6 fields as
//! `min hour dom mon dow YEAR` (not seconds), needs the classic cron daylight-saving rules
//! ([`dst`]), and must return "never again" at once for impossible dates; neither crate does
//! all three. Fields are bitsets ([`super::field`]), what the day specials mean on a date is
//! [`super::calendar`].
//!
//! Split by concern: this file is the type and its questions; [`macros`] reads `@macro`s and
//! `@every`; [`fields`] reads 5, 6 or 7 fields; [`search`] finds the next fire instant;
//! [`dst`] maps a wall time to its real instants.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use super::error::ScheduleError;
use super::field::Field;
use fields::{fields, Fields};
use macros::{parse_every, MACROS};

mod dst;
mod fields;
mod macros;
mod search;
#[cfg(test)]
mod tests;

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
    /// Up to `n` fire instants strictly after `from`, in order (fewer when it stops firing).
    pub fn upcoming(&self, from: DateTime<Utc>, tz: Tz, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut t = from;
        while out.len() < n {
            match self.next_after(t, tz) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }

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
