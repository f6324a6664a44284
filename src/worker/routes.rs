//! Route tables: which handler runs each (queue, job name). Configured queues take their
//! `[queues.Q.handlers]` (a handler named `*` takes every name without one of its own, as a
//! BullMQ worker's single processor does); the crontab's queue (`[cron] queue`, default `cron`)
//! also takes one exec handler per crontab command entry, keyed by entry id. Built at start
//! and again on each reload (`reload.rs` swaps them).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use super::handler::echo::{EchoMode, EntryInfo};
use super::handler::exec::Exec;
use super::handler::Handler;
use super::{Route, RouteTable};
use crate::config::{Config, QueueConfig};
use crate::cron::window::RunWindow;
use crate::cron::{Action, Plan};

/// The handler name that takes every job name without a handler of its own
/// (`[queues.Q.handlers."*"]`), Bull's `__default__` included.
pub const CATCH_ALL: &str = "*";

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
    let cron_queue = config.cron.queue.as_str();
    let mut by_queue: BTreeMap<String, (usize, Routes)> = config
        .queues
        .iter()
        // A table without handlers only declares the queue (e.g. its `layout`, for producing
        // into a Bull queue that Node workers run): consuming it would fail every job.
        // [`unconsumed`] names them at start.
        .filter(|(queue, q)| *queue != cron_queue && !q.handlers.is_empty())
        .map(|(queue, q)| {
            let routes = configured(q, config, &client);
            (queue.clone(), (q.concurrency.get(), routes))
        })
        .collect();
    let cron = cron_table(config, plan);
    if !cron.is_empty() || config.queues.contains_key(cron_queue) {
        // `[cron] concurrency`, not `[worker] concurrency`: crontab entries due together all
        // run at their time (Supercronic's behaviour); each entry's overlap policy bounds it.
        let concurrency = config.cron.concurrency;
        by_queue.insert(cron_queue.to_string(), (concurrency.get(), cron));
    }
    by_queue
}

/// Queues declared in the config that this daemon does not consume (a table with settings and
/// no handlers), for one warning each at start.
pub fn unconsumed(config: &Config) -> Vec<&str> {
    config
        .queues
        .iter()
        .filter(|(queue, q)| q.handlers.is_empty() && **queue != config.cron.queue)
        .map(|(queue, _)| queue.as_str())
        .collect()
}

/// The crontab queue's routes: its configured handlers plus one per command entry.
pub fn cron_table(config: &Config, plan: &Plan) -> Routes {
    let client = reqwest::Client::new();
    let cron_queue = config.cron.queue.as_str();
    let mut routes = config
        .queues
        .get(cron_queue)
        .map(|q| configured(q, config, &client))
        .unwrap_or_default();
    // `position`: the entry's index among the command entries, as Supercronic numbers its jobs.
    for (position, e) in plan.commands().enumerate() {
        if let Action::Command {
            queue: _,
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
                handler: Handler::Exec(
                    Exec::new(shell, command, env.clone()).with_policy(config.job_env.policy(None)),
                ),
                timeout: e.timeout.or(config.job_settings(cron_queue, &e.id).timeout),
                echo: EchoMode::of(config.log_output, config.passthrough_logs),
                entry: Some(Arc::new(entry)),
                window: Some(RunWindow::of(e)),
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
                window: None,
            };
            (name.clone(), Arc::new(route))
        })
        .collect()
}

/// Every consumed queue: its concurrency and its route table (the pool reads it per job, the
/// reload component replaces what it points to).
pub type Consumed = BTreeMap<String, (usize, RouteTable)>;
