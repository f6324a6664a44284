//! One-shot subcommands: `cron next`, `--test-crontab`, `healthcheck`, `enqueue`, and the
//! operations (`status`, `jobs`, `job`, `retry`, `remove`, `promote`, `pause`, `resume`,
//! `clean`, `schedules`).

mod cancel;
mod crontab;
mod crontab_checks;
mod crontab_policy;
mod crontab_report;
mod enqueue;
mod exit;
mod healthcheck;
mod open;
mod ops;
mod print;
mod programs;
mod schedules;
mod status;

/// How a command looks up the environment: `main` passes the process's, tests a map of
/// their own (so no command reads the environment itself).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub use crontab::{cron_next, test_crontab};
pub use crontab_checks::exec_checks;
pub use enqueue::enqueue;
pub use healthcheck::healthcheck;
pub use ops::run as ops;
pub use programs::run as programs;
