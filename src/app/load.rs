//! Start-up loading (config, crontab, plan) and the reload loop. Errors are returned as the
//! complete text to print, each line naming `FILE:LINE`; the daemon then exits 2.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::env_var;
use super::zone;
use crate::cli::DaemonArgs;
use crate::config::Config;
use crate::cron::parse::{parse_crontab, Crontab};
use crate::cron::Plan;
use crate::worker::RouteTable;

/// What the daemon starts with.
pub(crate) struct Startup {
    /// Validated config.
    pub(crate) config: Config,
    /// The scheduled entries.
    pub(crate) plan: Arc<Plan>,
    /// The crontab read, if any (for the first log line).
    pub(crate) crontab_file: Option<String>,
}

/// Loads everything the daemon needs, or the error text.
pub(super) fn startup(args: &DaemonArgs) -> Result<Startup, String> {
    let config = load_config(args)?;
    let (plan, crontab_file) = load_plan(&config)?;
    Ok(Startup {
        config,
        plan,
        crontab_file,
    })
}

/// The validated config.
pub(super) fn load_config(args: &DaemonArgs) -> Result<Config, String> {
    crate::config::load(&env_var, &args.overrides()).map_err(|e| format!("error: {e}"))
}

/// Reads and parses the configured crontab. `Ok(None)` when the default `./crontab` does not
/// exist (no schedule); an explicitly named file must exist.
pub(super) fn read_crontab(config: &Config) -> Result<Option<(String, Crontab)>, String> {
    let path = &config.crontab;
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !config.crontab_explicit => {
            return Ok(None)
        }
        Err(e) => return Err(format!("error: {name}: cannot read crontab: {e}")),
    };
    let text = crate::cron::text::decode(bytes).map_err(|d| format!("error: {name}:{d}"))?;
    match parse_crontab(&text) {
        Ok(tab) => {
            for w in &tab.warnings {
                tracing::warn!("{name}:{w}");
            }
            Ok(Some((name, tab)))
        }
        Err(errors) => Err(errors
            .0
            .iter()
            .map(|d| format!("error: {name}:{d}"))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

pub(super) fn load_plan(config: &Config) -> Result<(Arc<Plan>, Option<String>), String> {
    let crontab = read_crontab(config)?;
    let plan = Plan::build(
        crontab.as_ref().map(|(n, t)| (n.as_str(), t)),
        config,
        zone::daemon_zone(),
    )
    .map_err(|errs| {
        errs.iter()
            .map(|e| format!("error: {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok((plan, crontab.map(|(n, _)| n)))
}

/// Reloads on each message (SIGUSR2): parses the new crontab and config first; if invalid,
/// keeps the old schedule and logs why; if valid, swaps the plan and the `cron` queue's
/// handlers at once, without waiting for running jobs.
pub(super) async fn reload_loop(
    args: DaemonArgs,
    mut requests: mpsc::Receiver<()>,
    plan: watch::Sender<Arc<Plan>>,
    cron_routes: Option<RouteTable>,
) {
    while requests.recv().await.is_some() {
        let loaded = load_config(&args).and_then(|c| load_plan(&c).map(|(p, _)| (c, p)));
        match loaded {
            Err(message) => {
                tracing::error!(error = %message, "reload refused: the new crontab or config is invalid; keeping the current schedule")
            }
            Ok((config, new_plan)) => {
                match &cron_routes {
                    Some(table) => {
                        let fresh = super::routes::cron_table(&config, &new_plan);
                        *table.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
                    }
                    None if new_plan.commands().next().is_some() => tracing::warn!(
                        "the new crontab has command lines but no `cron` queue consumer was started: restart to run them"
                    ),
                    None => {}
                }
                tracing::info!(entries = new_plan.entries.len(), "reloaded the schedule");
                let _ = plan.send(new_plan);
            }
        }
    }
}

/// Asks for a reload when one of `files` changes (modification time or size), checked every
/// 500 ms: cheap, and works on every filesystem, bind mounts and ConfigMap symlink swaps
/// included, where change notifications often do not.
pub(super) async fn watch_files(files: Vec<std::path::PathBuf>, reload: mpsc::Sender<()>) {
    let stamp = |p: &std::path::Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    let mut last: Vec<_> = files.iter().map(|p| stamp(p)).collect();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tick.tick().await;
        let now: Vec<_> = files.iter().map(|p| stamp(p)).collect();
        if now != last {
            last = now;
            tracing::info!("a watched file changed: reloading");
            if reload.send(()).await.is_err() {
                return;
            }
        }
    }
}
