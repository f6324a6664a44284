//! stub
#![allow(missing_docs, unreachable_pub, dead_code)]
use chrono::{DateTime, Utc};
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    every: u64,
}
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ScheduleError {
    pub column: usize,
    pub message: String,
}
impl Schedule {
    pub fn parse(expr: &str) -> Result<Schedule, ScheduleError> {
        if expr.trim() == "* * * * * * *" {
            Ok(Schedule { every: 1 })
        } else if expr.split_whitespace().count() == 5 {
            Ok(Schedule { every: 60 })
        } else {
            Err(ScheduleError {
                column: 1,
                message: "stub".into(),
            })
        }
    }
    pub fn next_after(&self, after: DateTime<Utc>, _tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
        let s = after.timestamp();
        let n = (s / self.every as i64 + 1) * self.every as i64;
        DateTime::from_timestamp(n, 0)
    }
    pub fn is_reboot(&self) -> bool {
        false
    }
    pub fn is_fixed_time(&self) -> bool {
        false
    }
    pub fn looks_seconds_first(&self) -> bool {
        false
    }
    pub fn min_interval_secs(&self) -> Option<u64> {
        Some(self.every)
    }
}
impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "every {}", self.every)
    }
}
