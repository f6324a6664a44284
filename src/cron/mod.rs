//! The cron room, in two halves:
//! - [`dialect`]: the crontab dialect (`parse`, `field`, `schedule`, `zone`, `text`), pure:
//!   no tokio, no store, no environment;
//! - [`scheduler`]: the plan of entries from crontab lines and `[[schedule]]` tables (`plan`),
//!   the scheduler that turns ticks into jobs with deterministic ids, and the schedule rows
//!   and "run now" shown by the API, CLI and dashboard (`scheduler::report`).
//!
//! The `--test-crontab` / `cron next` reports are CLI output and live in `cmd`.
//! The dialect's modules are re-exported here so `crate::cron::parse`, `crate::cron::schedule`,
//! `crate::cron::zone`, `crate::cron::text` and `crate::cron::report` keep working.

pub mod dialect;
pub mod marks;
pub mod plan;
pub mod scheduler;
pub mod window;

pub use dialect::schedule::{Schedule, ScheduleError};
pub use dialect::{parse, schedule, text, zone};
pub use plan::{Action, Plan, PlannedEntry, CRON_QUEUE};
pub use scheduler::{report, SchedulerStats};
