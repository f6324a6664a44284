//! The cron room: the crontab dialect (`parse`, `schedule`, `zone`: pure, no I/O but reading
//! the daemon's zone), the `--test-crontab` / `cron next` reports (`check`), the plan of
//! entries from crontab lines and `[[schedule]]` tables (`plan`), and the `scheduler` that
//! turns ticks into jobs with deterministic ids, noting the ticks it skips or misses (`marks`).

pub mod check;
mod field;
pub mod marks;
pub mod parse;
pub mod plan;
pub mod report;
pub mod schedule;
pub mod scheduler;
pub mod text;
pub mod zone;

pub use plan::{Action, Plan, PlannedEntry, CRON_QUEUE};
pub use scheduler::SchedulerStats;
