//! Route tables: which handler runs each (queue, job name). Configured queues take their
//! `[queues.Q.handlers]`; the `cron` queue also takes one exec handler per crontab command
//! entry, keyed by entry id. Built at start and again on each reload (`reload.rs` swaps them).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use super::handler::echo::{EchoMode, EntryInfo};
use super::handler::exec::Exec;
use super::handler::Handler;
use super::{Route, RouteTable};
use crate::config::{Config, QueueConfig};
use crate::cron::{Action, Plan, CRON_QUEUE};

/// One queue's routes by job name.
pub type Routes = HashMap<String, Arc<Route>>;

/// Every consumed queue with its concurrency and routes.
pub fn tables(config: &Config, plan: &Plan) -> Vec<(String, usize, RouteTable)> {
    fresh(config, plan)
        .into_iter()
        .map(|(q, (c, routes))| (q, c, Arc::new(RwLock::new(Arc::new(routes)))))
        .collect()
}

/// Every queue `config` and `plan` consume, with its concurrency and routes (at start, and on
/// each reload to swap into the running tables).
pub fn fresh(config: &Config, plan: &Plan) -> BTreeMap<String, (usize, Routes)> {
    let client = reqwest::Client::new();
    let mut by_queue: BTreeMap<String, (usize, Routes)> = config
        .queues
        .iter()
        // A table without handlers only declares the queue (e.g. its `layout`, for producing
        // into a Bull queue that Node workers run): consuming it would fail every job.
        .filter(|(queue, q)| *queue != CRON_QUEUE && !q.handlers.is_empty())
        .map(|(queue, q)| {
            let routes = configured(q, config, &client);
            (queue.clone(), (q.concurrency.get(), routes))
        })
        .collect();
    let cron = cron_table(config, plan);
    if !cron.is_empty() || config.queues.contains_key(CRON_QUEUE) {
        let concurrency = config
            .queues
            .get(CRON_QUEUE)
            .map_or(config.concurrency, |q| q.concurrency);
        by_queue.insert(CRON_QUEUE.to_string(), (concurrency.get(), cron));
    }
    by_queue
}

/// The `cron` queue's routes: its configured handlers plus one per command entry.
pub fn cron_table(config: &Config, plan: &Plan) -> Routes {
    let client = reqwest::Client::new();
    let mut routes = config
        .queues
        .get(CRON_QUEUE)
        .map(|q| configured(q, config, &client))
        .unwrap_or_default();
    for e in plan.commands() {
        if let Action::Command {
            shell,
            command,
            env,
        } = &e.action
        {
            let entry = EntryInfo {
                label: e.label.clone(),
                id: e.id.clone(),
                place: e.place.clone(),
                schedule: e.schedule.to_string(),
                command: command.clone(),
            };
            let route = Route {
                handler: Handler::Exec(
                    Exec::new(shell, command, env.clone()).with_policy(config.job_env.policy(None)),
                ),
                timeout: e.timeout.or(config.job_settings(CRON_QUEUE, &e.id).timeout),
                echo: EchoMode::of(config.log_output, config.passthrough_logs),
                entry: Some(Arc::new(entry)),
            };
            routes.insert(e.id.clone(), Arc::new(route));
        }
    }
    routes
}

fn configured(q: &QueueConfig, config: &Config, client: &reqwest::Client) -> Routes {
    q.handlers
        .iter()
        .map(|(name, h)| {
            let env = config.job_env.policy(h.pass_env.as_deref());
            let route = Route {
                handler: Handler::from_config(&h.kind, env, client),
                timeout: h.job.timeout,
                echo: EchoMode::of(h.log_output, config.passthrough_logs),
                entry: None,
            };
            (name.clone(), Arc::new(route))
        })
        .collect()
}
