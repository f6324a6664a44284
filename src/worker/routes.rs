//! Route tables: which handler runs each (queue, job name). Configured queues take their
//! `[queues.Q.handlers]`; the `cron` queue also takes one exec handler per crontab command
//! entry, keyed by entry id. Built at start and, for the `cron` queue, again on each reload.

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
    let client = reqwest::Client::new();
    let mut by_queue: BTreeMap<String, (usize, Routes)> = config
        .queues
        .iter()
        // A table without handlers only declares the queue (e.g. its `layout`, for producing
        // into a Bull queue that Node workers run): consuming it would fail every job.
        .filter(|(queue, q)| *queue != CRON_QUEUE && !q.handlers.is_empty())
        .map(|(queue, q)| {
            let routes = configured(q, &client, config.passthrough_logs);
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
        .into_iter()
        .map(|(q, (c, routes))| (q, c, Arc::new(RwLock::new(Arc::new(routes)))))
        .collect()
}

/// The `cron` queue's routes: its configured handlers plus one per command entry.
pub fn cron_table(config: &Config, plan: &Plan) -> Routes {
    let client = reqwest::Client::new();
    let mut routes = config
        .queues
        .get(CRON_QUEUE)
        .map(|q| configured(q, &client, config.passthrough_logs))
        .unwrap_or_default();
    // `position`: the entry's index among the command entries, as Supercronic numbers its jobs.
    for (position, e) in plan.commands().enumerate() {
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
                position,
                runs: Default::default(),
            };
            let route = Route {
                handler: Handler::Exec(Exec::new(shell, command, env.clone())),
                timeout: e.timeout.or(config.job_settings(CRON_QUEUE, &e.id).timeout),
                echo: EchoMode::of(config.log_output, config.passthrough_logs),
                entry: Some(Arc::new(entry)),
            };
            routes.insert(e.id.clone(), Arc::new(route));
        }
    }
    routes
}

fn configured(q: &QueueConfig, client: &reqwest::Client, passthrough: bool) -> Routes {
    q.handlers
        .iter()
        .map(|(name, h)| {
            let route = Route {
                handler: Handler::from_config(&h.kind, client),
                timeout: h.job.timeout,
                echo: EchoMode::of(h.log_output, passthrough),
                entry: None,
            };
            (name.clone(), Arc::new(route))
        })
        .collect()
}
