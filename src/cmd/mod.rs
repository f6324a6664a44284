//! One-shot subcommands: `cron next`, `--test-crontab`, `healthcheck`, `enqueue`.

mod crontab;
mod enqueue;
mod healthcheck;

pub use crontab::{cron_next, test_crontab};
pub use enqueue::enqueue;
pub use healthcheck::healthcheck;
