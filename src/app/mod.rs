//! Wiring: the only place that reads the environment, binds ports and installs signal
//! handlers. [`run`] dispatches the command line; the daemon is two phases, [`start::start`]
//! (load, listen, connect, start the components) and [`drain::Running::drain`] (shut them down
//! in the order ARCHITECTURE.md gives under "Shutdown order (SIGTERM)"). The components
//! themselves live in their rooms:
//! `worker::{start, routes, cancels, reload}`, `cron::scheduler`, `http`; `app` keeps the
//! process-level ones (signals in `shutdown`, `recycle`, `supervise`, systemd `notify`, the
//! `OTEL_*` variables in `traces`).

mod drain;
mod notify;
mod recycle;
mod start;
mod supervise;
mod traces;

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{Cli, Command, DaemonArgs};
use crate::config::Config;
use crate::cron::Plan;

/// Runs what the command line asks for.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // A positional CRONTAB (Supercronic's way) counts as --crontab, for tools too.
    let mut cli = cli;
    cli.daemon = cli.daemon_args();
    // The one-shot commands get the environment as a lookup, so that they never reach back
    // into `app`.
    let env = &env_var;
    match cli.command {
        Some(Command::Run(args)) => daemon(&args).await,
        Some(Command::Cron(c)) => Ok(crate::cmd::cron_next(c)),
        Some(Command::Healthcheck { url }) => crate::cmd::healthcheck(url, &cli.daemon, env).await,
        Some(Command::Enqueue(args)) => crate::cmd::enqueue(args, &cli.daemon, env).await,
        Some(
            ref op @ (Command::Programs(_)
            | Command::Start(_)
            | Command::Stop(_)
            | Command::Restart(_)
            | Command::Tail(_)),
        ) => crate::cmd::programs(op, &cli.daemon, env).await,
        Some(op) => crate::cmd::ops(&op, &cli.daemon, env)
            .await
            .unwrap_or(Ok(ExitCode::SUCCESS)),
        None => match cli.test_crontab {
            // No file named: the configured crontab (a positional CRONTAB counts).
            Some(file) => {
                // Every check the daemon makes at start first (the same `load`), then the
                // listing; exit 1 on any problem, as Supercronic's -test does.
                let mut args = cli.daemon.clone();
                if let Some(f) = file.clone() {
                    args.crontab = Some(f);
                }
                if let Err(message) = load(&args) {
                    eprintln!("{message}");
                    return Ok(ExitCode::from(1));
                }
                Ok(crate::cmd::test_crontab(
                    file.unwrap_or_default(),
                    &cli.daemon,
                    env,
                    crate::cron::plan::daemon_zone(&env_var),
                ))
            }
            None => daemon(&cli.daemon).await,
        },
    }
}

/// The process environment, the one place it is read.
pub fn env_var(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Runs the daemon until a signal (or a recycle limit) stops it.
async fn daemon(args: &DaemonArgs) -> anyhow::Result<ExitCode> {
    // Held until the daemon has drained: dropping it exports the last spans.
    let _traces = match traces::install(&env_var) {
        Ok(traces) => traces,
        Err(message) => {
            crate::telemetry::print_error(&format!("error: {message}"));
            return Ok(ExitCode::from(2));
        }
    };
    match start::start(args).await? {
        Ok(running) => Ok(running.drain().await),
        Err(code) => Ok(code),
    }
}

/// Loads the config, then the plan from it: at start and on each reload. Returns the crontab's
/// name too (for the first log line), or the complete error text to print. It stays here,
/// as wiring, because `cron::plan` depends on `config` and not the other way round.
fn load(args: &DaemonArgs) -> Result<(Config, Arc<Plan>, Option<String>), String> {
    let config = crate::config::load_text(&env_var, &args.overrides())?;
    let (plan, crontab) =
        crate::cron::plan::load(&config, crate::cron::plan::daemon_zone(&env_var))?;
    let problems = crate::cmd::exec_checks(&plan, env_var("PATH").as_deref());
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(|p| format!("error: {p}")).collect();
        return Err(lines.join("\n"));
    }
    Ok((config, plan, crontab))
}
