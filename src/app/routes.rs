//! Route tables: which handler runs each (queue, job name). Configured queues take their
//! `[queues.Q.handlers]`; the `cron` queue also takes one exec handler per crontab command
//! entry, keyed by entry id.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::cron::{Action, Plan, CRON_QUEUE};
use crate::worker::handler::exec::Exec;
use crate::worker::handler::Handler;
use crate::worker::{Route, RouteTable};

/// Every consumed queue with its concurrency and routes.
pub(super) fn tables(config: &Config, plan: &Plan) -> Vec<(String, usize, RouteTable)> {
    let client = reqwest::Client::new();
    let mut by_queue: BTreeMap<String, (usize, HashMap<String, Arc<Route>>)> = BTreeMap::new();
    for (queue, q) in &config.queues {
        let routes = q
            .handlers
            .iter()
            .map(|(name, h)| {
                let route = Route {
                    handler: Handler::from_config(&h.kind, &client),
                    timeout: h.job.timeout,
                };
                (name.clone(), Arc::new(route))
            })
            .collect();
        by_queue.insert(queue.clone(), (q.concurrency.get(), routes));
    }
    let cron = cron_table(config, plan);
    if !cron.is_empty() {
        let entry = by_queue
            .entry(CRON_QUEUE.to_string())
            .or_insert_with(|| (config.concurrency.get(), HashMap::new()));
        entry.1.extend(cron);
    }
    by_queue
        .into_iter()
        .map(|(q, (c, routes))| (q, c, Arc::new(RwLock::new(Arc::new(routes)))))
        .collect()
}

/// The `cron` queue's routes: configured handlers plus one per command entry.
pub(super) fn cron_table(config: &Config, plan: &Plan) -> Vec<(String, Arc<Route>)> {
    let client = reqwest::Client::new();
    let configured = config.queues.get(CRON_QUEUE).into_iter().flat_map(|q| {
        q.handlers.iter().map(|(name, h)| {
            let route = Route {
                handler: Handler::from_config(&h.kind, &client),
                timeout: h.job.timeout,
            };
            (name.clone(), Arc::new(route))
        })
    });
    let entries = plan.commands().filter_map(|e| match &e.action {
        Action::Command {
            shell,
            command,
            env,
        } => Some((
            e.id.clone(),
            Arc::new(Route {
                handler: Handler::Exec(Exec::new(shell, command, env.clone())),
                timeout: e.timeout.or(config.job_settings(CRON_QUEUE, &e.id).timeout),
            }),
        )),
        Action::Enqueue { .. } => None,
    });
    configured.chain(entries).collect()
}
