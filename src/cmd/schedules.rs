//! `worker schedules pause ENTRY [--note …]` and `worker schedules resume ENTRY`: the same
//! cron-room calls as `POST /api/schedules/{id}/pause|resume`, straight to the store, so every
//! daemon on it sees the pause by its next tick. (`worker schedules` alone lists; see `ops`.)

use std::process::ExitCode;

use crate::cli::SchedulesCommand;
use crate::config::Config;
use crate::cron::pauses::{self, PauseError, Pauses};
use crate::queue::Store;

/// Runs `action` against `store` with the plan of `config`.
pub(super) async fn run(
    store: &Store,
    config: &Config,
    action: &SchedulesCommand,
    env: &dyn Fn(&str) -> Option<String>,
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
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ (PauseError::NoEntry(_) | PauseError::BadNote(_))) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
        Err(PauseError::Store(e)) => Err(e.into()),
    }
}
