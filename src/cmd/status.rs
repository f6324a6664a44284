//! `worker status`: every queue under the prefix and in the config, with its counts and a
//! state; a queue with jobs waiting that a daemon with this configuration would not consume
//! says `no consumer here` rather than `IDLE` (a forgotten handler shows at a glance).

use super::print::{print_json, table};
use super::Env;
use crate::config::Config;
use crate::queue::{JobOpError, Store};

/// Prints the status table (or JSON with `json`).
pub(super) async fn status(
    store: &Store,
    config: &Config,
    json: bool,
    env: Env<'_>,
) -> Result<(), JobOpError> {
    let mut names = store.discover_queues().await?;
    names.extend(config.queues.keys().cloned());
    names.sort();
    names.dedup();
    let consumed = consumed_here(config, env);
    let mut rows = Vec::new();
    for name in names {
        let c = store.counts(&name).await?;
        let paused = store.is_paused(&name).await?;
        let here = consumed(&name);
        rows.push((name, c, paused, here));
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(n, c, p, here)| {
                serde_json::json!({"name": n, "counts": c, "paused": p, "consumed": here})
            })
            .collect();
        print_json(
            &serde_json::json!({ "store": store.kind(), "at": store.redacted_url(), "queues": v }),
        );
        return Ok(());
    }
    println!("store: {} ({})", store.kind(), store.redacted_url());
    let lines = rows.iter().map(|(n, c, p, here)| {
        let state = if *p {
            "PAUSED"
        } else if c.active > 0 {
            "RUNNING"
        } else if !here && c.ready() + c.delayed > 0 {
            // Jobs wait and this configuration runs none of them: say so rather than IDLE.
            "no consumer here"
        } else {
            "IDLE"
        };
        vec![
            n.clone(),
            state.into(),
            c.waiting.to_string(),
            c.prioritized.to_string(),
            c.active.to_string(),
            c.delayed.to_string(),
            c.completed.to_string(),
            c.failed.to_string(),
        ]
    });
    table(
        &[
            "QUEUE",
            "STATE",
            "WAITING",
            "PRIORITIZED",
            "ACTIVE",
            "DELAYED",
            "COMPLETED",
            "FAILED",
        ],
        lines,
    );
    Ok(())
}

/// Whether a daemon with this configuration consumes a queue: one with handlers, or the
/// crontab's queue when the crontab has command entries (an unreadable crontab counts as
/// consumed: such a daemon would not start, and the crontab error is not this command's).
fn consumed_here<'c>(config: &'c Config, env: Env<'_>) -> impl Fn(&str) -> bool + 'c {
    let zone = crate::cron::plan::daemon_zone(env);
    let cron =
        crate::cron::plan::load(config, zone).map_or(true, |(p, _)| p.commands().next().is_some());
    move |queue: &str| {
        config
            .queues
            .get(queue)
            .is_some_and(|q| !q.handlers.is_empty())
            || (queue == config.cron.queue && cron)
    }
}
