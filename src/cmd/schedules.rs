//! `worker schedules pause ENTRY [--note …]` and `worker schedules resume ENTRY`: the same
//! cron-room calls as `POST /api/schedules/{id}/pause|resume`, straight to the store, so every
//! daemon on it sees the pause by its next tick. (`worker schedules` alone lists; see `ops`.)

use std::process::ExitCode;

use super::Env;
use crate::cli::SchedulesCommand;
use crate::config::Config;
use crate::cron::pauses::{self, Pauses};
use crate::queue::Store;

/// Runs `action` against `store` with the plan of `config`.
pub(super) async fn run(
    store: &Store,
    config: &Config,
    action: &SchedulesCommand,
    env: Env<'_>,
) -> anyhow::Result<ExitCode> {
    let plan = match crate::cron::plan::load(config, crate::cron::plan::daemon_zone(env)) {
        Ok((p, _)) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    // This process runs no scheduler: its memory of pauses is thrown away.
    let known = Pauses::default();
    if let SchedulesCommand::Backfill { entry, from, to } = action {
        return backfill(store, config, &plan, entry, from, to).await;
    }
    let result = match action {
        SchedulesCommand::Pause { entry, note } => {
            pauses::pause(store, &plan, &known, entry, note.as_deref())
                .await
                .map(|p| match p.note {
                    Some(n) => println!("paused {entry} ({n})"),
                    None => println!("paused {entry}"),
                })
        }
        SchedulesCommand::Resume { entry } => pauses::resume(store, &plan, &known, entry)
            .await
            .map(|was| {
                if was {
                    println!("resumed {entry}");
                } else {
                    println!("{entry} was not paused");
                }
            }),
        SchedulesCommand::Backfill { .. } => Ok(()),
    };
    super::exit::ended(result)
}

async fn backfill(
    store: &Store,
    config: &Config,
    plan: &crate::cron::Plan,
    entry: &str,
    from: &str,
    to: &str,
) -> anyhow::Result<ExitCode> {
    let instant = |flag: &str, text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| format!("--{flag} {text:?}: {e}; use RFC 3339, e.g. 2027-01-01T03:00:00Z"))
    };
    let (from, to) = match (instant("from", from), instant("to", to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let added = crate::cron::backfill::backfill(store, config, plan, entry, from, to).await;
    super::exit::ended(added.map(|n| println!("added {n} run(s) of {entry}")))
}
