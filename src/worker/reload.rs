//! The reload component: on each request (SIGUSR2, or a watched file changing) it loads the
//! config and crontab again; if they are invalid it keeps the old ones and logs why; if valid it
//! swaps the plan and the handlers of every running queue at once (the next job takes the new
//! route; a running job finishes with the one it started with). What cannot change without a
//! restart (a new queue, a concurrency, a layout, the Redis connection, …) is named in a warning
//! on every reload until then (`restart.rs`): the log never says "reloaded" for a change that is
//! not running. It lives beside the route tables it swaps; how to load is passed in, so it reads
//! no environment.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::restart;
use super::routes::Consumed;
use crate::config::Config;
use crate::cron::Plan;

/// Serves reload requests until `stop` fires or every sender is gone. `load` returns the new
/// config and plan, or the error text; `plan`'s receivers are the scheduler and `/health`.
/// `running` is what the daemon started with: the consumed queues and the config.
pub async fn run(
    load: impl Fn() -> Result<(Config, Arc<Plan>), String>,
    mut requests: mpsc::Receiver<()>,
    plan: watch::Sender<Arc<Plan>>,
    running: (Consumed, Arc<Config>),
    stop: CancellationToken,
) {
    let (consumed, started) = running;
    // The last config applied, to name what each reload changes.
    let mut applied = (*started).clone();
    loop {
        tokio::select! {
            r = requests.recv() => if r.is_none() { return },
            _ = stop.cancelled() => return,
        }
        match load() {
            Err(message) => {
                tracing::error!(error = %message, "reload refused: the new crontab or config is invalid; keeping the current schedule and handlers")
            }
            Ok((config, new_plan)) => {
                let fresh = super::routes::fresh(&config, &new_plan);
                let pending = restart::needs_restart(&started, &config, &consumed, &fresh);
                let changed = restart::changed_handlers(&applied, &config);
                for (queue, (_, routes)) in fresh {
                    if let Some((_, table)) = consumed.get(&queue) {
                        *table.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(routes);
                    }
                }
                let entries = new_plan.entries.len();
                let changed = changed.join(", ");
                if pending.is_empty() {
                    tracing::info!(entries, handlers_changed = %changed, "reloaded the schedule and the handlers");
                } else {
                    let pending = pending.join("; ");
                    tracing::warn!(entries, handlers_changed = %changed, needs_restart = %pending,
                        "partly reloaded: the schedule and the handlers of running queues are applied, but these changes need a restart: {pending}");
                }
                applied = config;
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
    use crate::crontab::parse::parse_crontab;

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
        let table = crate::worker::RouteTable::default();
        let consumed: Consumed = [(crate::cron::CRON_QUEUE.to_string(), (1, table.clone()))].into();
        let started = Arc::new(config.clone());
        // Popped from the end: the first request loads an invalid crontab, the second a valid one.
        let outcomes = Mutex::new(vec![Ok(good), Err("crontab:1: bad".to_string())]);
        let load = move || {
            let next = outcomes.lock().unwrap().pop().expect("two requests only");
            next.map(|plan| (config.clone(), plan))
        };
        let (requests, rx) = mpsc::channel(1);
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(load, rx, plan_tx, (consumed, started), stop.clone()));
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
