//! The cron room: crontab entries turned into jobs. The dialect it reads (`parse`, `field`,
//! `schedule`, `zone`, `text`) is the pure room [`crate::crontab`] below it, which the config
//! and the Bull layout's repeatable jobs read too.
//! - [`scheduler`]: the plan of entries from crontab lines and `[[schedule]]` tables (`plan`),
//!   the scheduler that turns ticks into jobs with deterministic ids, and the schedule rows
//!   and "run now" shown by the API, CLI and dashboard (`scheduler::report`).
//!
//! - [`backfill`]: an entry's ticks of a past range, added now with their usual ids.
//! - [`pauses`]: one entry paused by an operator, kept in the store so replicas agree.
//! - [`checkin`], [`sentry_checkin`]: a dead-man's-switch service told of each run;
//!   [`checkin_state`]: each entry's latest check-in and its outcome, as this daemon sent it.
//!
//! The `--test-crontab` / `cron next` reports are CLI output and live in `cmd`.

pub mod backfill;
pub mod checkin;
pub mod checkin_state;
pub mod marks;
pub mod notify;
pub mod pauses;
pub mod plan;
pub mod run_output;
pub mod scheduler;
pub mod sentry_checkin;
pub mod window;

pub use plan::{Action, Plan, PlannedEntry, CRON_QUEUE};
pub use scheduler::{report, SchedulerStats};
