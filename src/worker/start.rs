//! Starting the worker side: connecting to the store and starting one pool per consumed queue,
//! each retried with backoff until it succeeds or `stop` fires (a daemon started before its
//! Redis waits for it instead of exiting).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::dispatch::Dispatch;
use super::routes::Consumed;
use super::{routes, WorkerPool};
use crate::backoff::Doubling;
use crate::config::Config;
use crate::cron::Plan;
use crate::metrics::Metrics;
use crate::queue::{ConsumerOptions, Error, Store};
use crate::status::Status;

/// How long an idle fetch loop blocks on the marker; also bounds how long an idle pool takes to
/// stop.
pub const DRAIN_DELAY: Duration = Duration::from_secs(2);

/// Connects to the store, retrying with backoff (one log line per state change, not per try)
/// until it answers (`Ok(Some)`) or `stop` fires (`Ok(None)`). A configuration error (refused
/// credentials, an unusable URL) is returned at once: retrying cannot fix it.
pub async fn connect(config: &Config, stop: &CancellationToken) -> Result<Option<Store>, Error> {
    let mut delay = Doubling::new(Duration::from_millis(200), Duration::from_secs(5));
    let mut warned = false;
    let layouts = config.layouts();
    loop {
        let opened = tokio::select! {
            r = Store::open_with(&config.store, &config.prefix, &layouts) => r,
            _ = stop.cancelled() => return Ok(None),
        };
        match opened {
            Ok(store) => {
                if warned {
                    tracing::info!(store = %config.store.describe(), "the store is reachable again");
                }
                let mut warnings = store.settings_warnings().await;
                warnings.extend(store.layout_warnings(&layouts).await);
                for warning in warnings {
                    tracing::warn!("{warning}");
                }
                return Ok(Some(store));
            }
            Err(e) if e.is_config() => return Err(e),
            Err(e) if !warned => {
                tracing::error!(error = %e, "Redis is not reachable; retrying with backoff (health reports unhealthy)");
                warned = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(delay.next_delay()) => {}
            _ = stop.cancelled() => return Ok(None),
        }
    }
}

/// The pools, and every consumed queue's route table (swapped on reload).
pub struct Pools {
    /// One per consumed queue, in queue-name order.
    pub pools: Vec<WorkerPool>,
    /// Every consumed queue's concurrency and routes; the pools read the tables, the reload
    /// component writes them.
    pub routes: Consumed,
    /// The crontab entries another live daemon vouched for at the last contact; written by
    /// `claims::run`, read by the local runner.
    pub shared: super::claims::SharedEntries,
}

/// What starting the pools needs.
pub struct Shared<'a> {
    /// The connected store.
    pub store: &'a Store,
    /// The config.
    pub config: &'a Arc<Config>,
    /// Each started pool registers its probe here.
    pub status: &'a Arc<Status>,
    /// Phase 3 of shutdown, held by every Dispatch: terminate running handlers.
    pub cut_off: &'a CancellationToken,
    /// Phases 1-2: stops the retries here.
    pub stop: &'a CancellationToken,
    /// Run counters.
    pub metrics: &'a Arc<Metrics>,
}

/// Starts a pool per consumed queue, retrying each with backoff; returns early (with the pools
/// started so far) when `stop` fires.
pub async fn start_pools(s: &Shared<'_>, plan: &Arc<Plan>) -> Pools {
    let config = s.config;
    for queue in routes::unconsumed(config) {
        // BullMQ's model is one processor per queue: a declared queue nobody here consumes is
        // worth one line, in case a handler was forgotten (Node workers may consume it).
        tracing::warn!(queue, "[queues.{queue}] has no handlers: this daemon does not consume it (add [queues.{queue}.handlers.\"*\"] to run every job name, or ignore this if other workers consume it)");
    }
    let tables = routes::tables(config, plan);
    let routes: Consumed = tables
        .iter()
        .map(|(q, c, t)| (q.clone(), (*c, t.clone())))
        .collect();
    let shared = super::claims::SharedEntries::default();
    if let Some((_, table)) = routes.get(&config.cron.queue) {
        // Ends when `stop` fires; its vouchers then lapse within `claims::CLAIM_TTL`.
        let (store, queue, stop) = (s.store.clone(), config.cron.queue.clone(), s.stop.clone());
        let (holder, table, sh) = (config.worker_id.clone(), table.clone(), shared.clone());
        tokio::spawn(super::claims::run(store, queue, holder, table, sh, stop));
    }
    let mut pools = Vec::new();
    for (queue, concurrency, table) in tables {
        let opts = ConsumerOptions {
            concurrency,
            lock_duration: config.lock_duration,
            stalled_interval: config.stalled_interval,
            max_stalled_count: config.max_stalled_count,
            drain_delay: DRAIN_DELAY,
            idle_release: config.idle_release,
            worker_name: config.worker_name.clone(),
            remove_on_complete: config.defaults.options.remove_on_complete,
            remove_on_fail: config.defaults.options.remove_on_fail,
            metrics_points: config.metrics_points,
            groups: config.queues.get(&queue).and_then(|q| q.groups.clone()),
        };
        let mut delay = Doubling::new(Duration::from_millis(200), Duration::from_secs(5));
        loop {
            let mut dispatch =
                Dispatch::new(&queue, table.clone(), s.cut_off.clone(), s.metrics.clone())
                    .timing_into(s.status.timings());
            if queue == config.cron.queue {
                dispatch = dispatch.refusing_commands().handing_back(s.store.clone());
            }
            if let Some(to) = config
                .queues
                .get(&queue)
                .and_then(|q| q.dead_letter.as_ref())
            {
                let to = super::dispatch::dead_letter::DeadLetter::new(
                    to,
                    s.store.clone(),
                    &config.worker_id,
                );
                dispatch = dispatch.dead_lettering(to);
            }
            match WorkerPool::start(s.store, &queue, opts.clone(), dispatch).await {
                Ok(pool) => {
                    s.status.add_queue(&queue, pool.probe());
                    tracing::info!(queue = %queue, concurrency, "worker pool started");
                    pools.push(pool);
                    break;
                }
                Err(e) => {
                    tracing::warn!(queue = %queue, error = %e, "cannot start the worker pool; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay.next_delay()) => {}
                _ = s.stop.cancelled() => return Pools { pools, routes, shared },
            }
        }
    }
    Pools {
        pools,
        routes,
        shared,
    }
}
