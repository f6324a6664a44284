//! The reload component: on each request (SIGUSR2, or a watched file changing) it loads the
//! config and crontab again; if they are invalid it keeps the old schedule and logs why; if
//! valid it swaps the plan and the `cron` queue's handlers at once, without waiting for running
//! jobs. It lives beside the route tables it swaps; how to load is passed in, so it reads no
//! environment.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::RouteTable;
use crate::config::Config;
use crate::cron::Plan;

/// Serves reload requests until `stop` fires or every sender is gone. `load` returns the new
/// config and plan, or the error text; `plan`'s receivers are the scheduler and `/health`.
pub async fn run(
    load: impl Fn() -> Result<(Config, Arc<Plan>), String>,
    mut requests: mpsc::Receiver<()>,
    plan: watch::Sender<Arc<Plan>>,
    cron_routes: Option<RouteTable>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            r = requests.recv() => if r.is_none() { return },
            _ = stop.cancelled() => return,
        }
        match load() {
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
/// included, where change notifications often do not. Ends when `stop` fires or the receiver
/// ([`run`]) is gone.
pub async fn watch_files(files: Vec<PathBuf>, reload: mpsc::Sender<()>, stop: CancellationToken) {
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    let mut last: Vec<_> = files.iter().map(|p| stamp(p)).collect();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono_tz::Tz;

    use super::*;
    use crate::config::Overrides;
    use crate::cron::parse::parse_crontab;

    #[tokio::test]
    async fn a_refused_reload_publishes_nothing_and_a_valid_one_swaps_plan_and_routes() {
        // An empty file: every default, no queue, no schedule.
        let flags = Overrides {
            config: Some("/dev/null".into()),
            ..Default::default()
        };
        let config = crate::config::load(&|_| None, &flags).unwrap();
        let tab = parse_crontab("*/5 * * * * echo hi\n").unwrap();
        let good = Plan::build(Some(("crontab", &tab)), &config, Tz::UTC).unwrap();
        let (plan_tx, mut plan_rx) = watch::channel(Plan::build(None, &config, Tz::UTC).unwrap());
        let table = RouteTable::default();
        // Popped from the end: the first request loads an invalid crontab, the second a valid one.
        let outcomes = Mutex::new(vec![Ok(good), Err("crontab:1: bad".to_string())]);
        let load = move || {
            let next = outcomes.lock().unwrap().pop().expect("two requests only");
            next.map(|plan| (config.clone(), plan))
        };
        let (requests, rx) = mpsc::channel(1);
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(load, rx, plan_tx, Some(table.clone()), stop.clone()));
        requests.send(()).await.unwrap();
        requests.send(()).await.unwrap();
        // Only the valid load is published (a refused one would show as an earlier change).
        plan_rx.changed().await.unwrap();
        let plan = plan_rx.borrow_and_update().clone();
        assert_eq!(plan.entries.len(), 1);
        assert!(table.read().unwrap().contains_key(&plan.entries[0].id));
        stop.cancel();
        task.await.unwrap();
    }
}
