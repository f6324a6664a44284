//! Wiring: the only place that reads the environment, binds the port and installs signal
//! handlers. [`run`] dispatches the command line; [`daemon`] starts the components in order
//! and shuts them down in the order of DESIGN.md:
//! 1. stop the scheduler, report `draining`; 2. stop fetching, let running jobs finish;
//! 3. at the deadline, terminate handlers and requeue their jobs; 4. close Redis, exit 0.

mod load;
mod notify;
mod recycle;
mod routes;
mod supervise;

use load::Startup;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, DaemonArgs};
use crate::config::Config;
use crate::cron::{scheduler, Plan, SchedulerStats};
use crate::http::{router, AppState};
use crate::metrics::Metrics;
use crate::queue::{ConsumerOptions, Store};
use crate::status::Status;
use crate::worker::dispatch::Dispatch;
use crate::worker::handler::KILL_GRACE;
use crate::worker::WorkerPool;

/// How long an idle fetch loop blocks on the marker; also bounds how long an idle pool takes to
/// stop.
const DRAIN_DELAY: Duration = Duration::from_secs(2);

/// Runs what the command line asks for.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // A positional CRONTAB (Supercronic's way) counts as --crontab, for tools too.
    let mut cli = cli;
    cli.daemon = cli.daemon_args();
    match cli.command {
        Some(Command::Run(args)) => daemon(&args).await,
        Some(Command::Cron(c)) => Ok(crate::cmd::cron_next(c)),
        Some(Command::Healthcheck { url }) => crate::cmd::healthcheck(url, &cli.daemon).await,
        Some(Command::Enqueue(args)) => crate::cmd::enqueue(args, &cli.daemon).await,
        Some(op) => crate::cmd::ops(&op, &cli.daemon)
            .await
            .unwrap_or(Ok(ExitCode::SUCCESS)),
        None => match cli.test_crontab {
            // No file named: the configured crontab (a positional CRONTAB counts).
            Some(file) => Ok(crate::cmd::test_crontab(
                file.unwrap_or_default(),
                &cli.daemon,
            )),
            None => daemon(&cli.daemon).await,
        },
    }
}

/// The process environment, the one place it is read.
pub fn env_var(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Runs the daemon until a signal stops it.
async fn daemon(args: &DaemonArgs) -> anyhow::Result<ExitCode> {
    let Startup {
        config,
        plan,
        crontab_file,
    } = match load::startup(args) {
        Ok(s) => s,
        Err(message) => {
            crate::telemetry::print_error(&message);
            return Ok(ExitCode::from(2));
        }
    };
    let api_token: Option<Arc<str>> = env_var("API_TOKEN")
        .filter(|t| !t.is_empty())
        .map(Arc::from);
    let api_locked = check_exposure(&config, api_token.is_some(), args.insecure_open_api);
    let config = Arc::new(config);
    let signals = crate::shutdown::signals().context("installing signal handlers")?;
    // `stop` is phases 1-2 (held by the scheduler and the pools' owner below); `cut_off` is
    // phase 3 (held by every Dispatch through its pool); `closing` ends SSE streams last.
    let stop = CancellationToken::new();
    let cut_off = CancellationToken::new();
    let closing = CancellationToken::new();
    // Reload requests: SIGUSR2 (the signal watcher) and, with --watch, file changes; one
    // receiver, the reload loop below.
    let (reload_tx, reload_rx) = mpsc::channel(1);
    if args.watch {
        let files = [Some(config.crontab.clone()), config.file.clone()]
            .into_iter()
            .flatten()
            .collect();
        tokio::spawn(load::watch_files(files, reload_tx.clone()));
    }
    tokio::spawn(crate::shutdown::watch(
        signals,
        stop.clone(),
        cut_off.clone(),
        config.shutdown_timeout,
        reload_tx,
    ));
    if args.no_reap {
        tracing::info!("-no-reap: orphaned processes are not reaped, even as PID 1");
    } else {
        crate::reaper::spawn_if_init();
    }
    let notifier = notify::Notifier::from_env();

    let status = Status::new(
        config.lock_duration,
        config.store.describe(),
        config.store.kind(),
    );
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (WORKER_LISTEN)", config.listen))?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), store = config.store.kind(), at = %config.store.describe(),
        listen = %listener.local_addr()?, queues = ?config.queues.keys().collect::<Vec<_>>(), entries = plan.entries.len(),
        crontab = %crontab_file.as_deref().unwrap_or("(none)"), api_token = api_token.is_some(), "cronq worker starting");
    let metrics = Arc::new(Metrics::default());
    let stats = Arc::new(SchedulerStats::default());
    let (plan_tx, plan_rx) = watch::channel(plan.clone());
    let state = AppState {
        status: status.clone(),
        config: config.clone(),
        plan: plan_rx.clone(),
        metrics: metrics.clone(),
        sched: stats.clone(),
        api_token,
        api_locked,
        sse: Arc::new(crate::http::events::Hub::new(config.http.max_sse_clients)),
        closing: closing.clone(),
    };
    // `-prometheus-listen-address`: /metrics alone on a second port, as Supercronic serves it.
    let prometheus = match &args.prometheus_listen_address {
        None => None,
        Some(addr) => {
            let addr = prometheus_addr(addr);
            let l = TcpListener::bind(&addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (-prometheus-listen-address)"))?;
            tracing::info!(listen = %l.local_addr()?, "serving /metrics (-prometheus-listen-address)");
            let app = crate::http::metrics_router(state.clone());
            Some(tokio::spawn(crate::http::serve::serve(
                l,
                app,
                config.http.idle_timeout,
                closing.clone(),
            )))
        }
    };
    // The HTTP server outlives the drain (health says `draining`); it stops last.
    let http = tokio::spawn(crate::http::serve::serve(
        listener,
        router(state),
        config.http.idle_timeout,
        closing.clone(),
    ));

    let store = match connect(&config, &stop).await {
        Ok(store) => store,
        Err(e) => {
            // Wrong credentials or an unusable URL: retrying cannot help, and an orchestrator
            // restarting us would only repeat it. Exit 2, as for any configuration error.
            eprintln!("error: {e}");
            status.set_draining();
            closing.cancel();
            let _ = http.await;
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(store) = store {
        status.set_store(store.clone());
        let shared = Shared {
            store: &store,
            config: &config,
            status: &status,
            cut_off: &cut_off,
            stop: &stop,
            metrics: &metrics,
        };
        let pools = start_pools(&shared, &plan).await;
        let sched = {
            let (store, config, stop) = (store.clone(), config.clone(), stop.clone());
            tokio::spawn(supervise::supervise(
                "scheduler",
                status.clone(),
                stop.clone(),
                move || {
                    scheduler::run(
                        store.clone(),
                        config.clone(),
                        plan_rx.clone(),
                        stats.clone(),
                        stop.clone(),
                    )
                },
            ))
        };
        let reloader = tokio::spawn(load::reload_loop(
            args.clone(),
            reload_rx,
            plan_tx,
            pools.cron_routes.clone(),
        ));
        let dispatchers = pools
            .pools
            .iter()
            .map(|p| (p.queue().to_string(), p.dispatch()))
            .collect();
        tokio::spawn(route_cancels(store.clone(), dispatchers, stop.clone()));
        status.set_ready();
        notifier.ready();
        tokio::spawn(recycle::watch(
            config.limits,
            metrics.clone(),
            status.clone(),
            stop.clone(),
            cut_off.clone(),
            config.shutdown_timeout,
        ));
        stop.cancelled().await;
        status.set_draining();
        notifier.stopping();
        let _ = sched.await;
        reloader.abort();
        let wait = config.shutdown_timeout + KILL_GRACE + DRAIN_DELAY + Duration::from_secs(2);
        futures::future::join_all(pools.pools.into_iter().map(|p| p.drain(wait))).await;
    } else {
        status.set_draining();
        notifier.stopping();
    }
    closing.cancel();
    let _ = http.await;
    if let Some(p) = prometheus {
        let _ = p.await;
    }
    tracing::info!("cronq worker stopped");
    Ok(ExitCode::SUCCESS)
}

/// Routes cancel requests (from any daemon: overlap = "replace") to the pool running the job.
async fn route_cancels(
    store: Store,
    pools: std::collections::HashMap<String, Arc<Dispatch>>,
    stop: CancellationToken,
) {
    // Sender: the store's listener below; receiver: this loop.
    let (tx, mut rx) = mpsc::channel(64);
    let listen = tokio::spawn({
        let (store, stop) = (store.clone(), stop.clone());
        async move { store.listen_cancels(tx, stop).await }
    });
    while let Some((queue, id)) = rx.recv().await {
        if pools.get(&queue).is_some_and(|d| d.cancel(&id)) {
            tracing::info!(queue = %queue, job_id = %id, "job cancelled on request");
        }
    }
    let _ = listen.await;
}

/// Supercronic's `:9746` form (no host) listens on every interface.
fn prometheus_addr(addr: &str) -> String {
    match addr.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => addr.to_string(),
    }
}

/// An API that can change jobs must not be open to the network: on a non-loopback address
/// without `API_TOKEN` (and without an explicit `--insecure-open-api`) the daemon still starts,
/// so that `/health` and `/metrics` work with no setup, but the API and dashboard stay closed
/// (401 saying how to open them). Returns whether they are closed; warns once if so.
fn check_exposure(config: &Config, has_token: bool, insecure_ok: bool) -> bool {
    if has_token || insecure_ok || config.listen.ip().is_loopback() {
        return false;
    }
    tracing::warn!(
        listen = %config.listen,
        "API_TOKEN is not set and the listen address is reachable from the network: the API and \
         dashboard are disabled (401); /health and /metrics are served. To enable them, set \
         API_TOKEN (clients send Authorization: Bearer <token>), listen on 127.0.0.1, or pass \
         --insecure-open-api"
    );
    true
}

/// Connects to Redis, retrying with backoff (one log line per state change, not per try) until
/// it answers (`Ok(Some)`) or `stop` fires (`Ok(None)`). A configuration error (refused
/// credentials, an unusable URL) is returned at once: retrying cannot fix it.
async fn connect(
    config: &Config,
    stop: &CancellationToken,
) -> Result<Option<Store>, crate::queue::Error> {
    let mut delay = Duration::from_millis(200);
    let mut warned = false;
    loop {
        let opened = tokio::select! {
            r = Store::open(&config.store, &config.prefix) => r,
            _ = stop.cancelled() => return Ok(None),
        };
        match opened {
            Ok(store) => {
                if warned {
                    tracing::info!(store = %config.store.describe(), "the store is reachable again");
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
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => return Ok(None),
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The pools, and the `cron` queue's route table (swapped on reload).
struct Pools {
    pools: Vec<WorkerPool>,
    cron_routes: Option<crate::worker::RouteTable>,
}

/// What starting the pools needs.
struct Shared<'a> {
    store: &'a Store,
    config: &'a Arc<Config>,
    status: &'a Arc<Status>,
    cut_off: &'a CancellationToken,
    stop: &'a CancellationToken,
    metrics: &'a Arc<Metrics>,
}

async fn start_pools(s: &Shared<'_>, plan: &Arc<Plan>) -> Pools {
    let Shared {
        store,
        config,
        status,
        cut_off,
        stop,
        metrics,
    } = *s;
    let tables = routes::tables(config, plan);
    let cron_routes = tables
        .iter()
        .find(|(q, _, _)| q == crate::cron::CRON_QUEUE)
        .map(|(_, _, t)| t.clone());
    let mut pools = Vec::new();
    for (queue, concurrency, table) in tables {
        let opts = ConsumerOptions {
            concurrency,
            lock_duration: config.lock_duration,
            stalled_interval: config.stalled_interval,
            max_stalled_count: config.max_stalled_count,
            drain_delay: DRAIN_DELAY,
            worker_name: config.worker_name.clone(),
            remove_on_complete: config.defaults.remove_on_complete,
            remove_on_fail: config.defaults.remove_on_fail,
            metrics_points: config.metrics_points,
        };
        let mut delay = Duration::from_millis(200);
        loop {
            let mut dispatch =
                Dispatch::new(&queue, table.clone(), cut_off.clone(), metrics.clone())
                    .timing_into(status.timings());
            if queue == crate::cron::CRON_QUEUE {
                dispatch = dispatch.refusing_commands();
            }
            match WorkerPool::start(store, &queue, opts.clone(), dispatch).await {
                Ok(pool) => {
                    status.add_queue(&queue, pool.probe());
                    tracing::info!(queue = %queue, concurrency, "worker pool started");
                    pools.push(pool);
                    break;
                }
                Err(e) => {
                    tracing::warn!(queue = %queue, error = %e, "cannot start the worker pool; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.cancelled() => return Pools { pools, cron_routes },
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
    Pools { pools, cron_routes }
}

/// The config for one-shot tools (`enqueue`, `healthcheck`, `--test-crontab`), or the error
/// text to print.
pub fn load_config_for_tools(args: &DaemonArgs) -> Result<Config, String> {
    load::load_config(args)
}

/// The schedule plan for one-shot tools (`schedules`), or the error text.
pub fn load_plan_for_tools(config: &Config) -> Result<Arc<Plan>, String> {
    load::load_plan(config).map(|(plan, _)| plan)
}
