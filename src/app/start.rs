//! The start phase: load, install signal handlers, listen, connect, start the components.
//! Hands a [`Running`] daemon to the drain phase.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use signal_hook_tokio::Signals;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::drain::{Running, Work};
use super::{env_var, notify, recycle, supervise};
use crate::cli::DaemonArgs;
use crate::config::Config;
use crate::cron::{scheduler, Plan, SchedulerStats};
use crate::http::{router, AppState};
use crate::metrics::Metrics;
use crate::queue::Store;
use crate::status::Status;
use crate::worker::local::LocalRunner;
use crate::worker::local_backlog::{self, Backlog};
use crate::worker::start::{connect, start_pools, Shared};
use crate::worker::{cancels, reload};

/// Starts the daemon; `Err(code)` when it must exit at once (bad config: 2).
pub(super) async fn start(args: &DaemonArgs) -> anyhow::Result<Result<Running, ExitCode>> {
    let checked = super::load(args).and_then(|loaded| {
        let prometheus = args
            .prometheus_listen_address
            .as_deref()
            .map(crate::cli::prometheus_addr)
            .transpose()
            .map_err(|e| format!("error: {e}"))?;
        let token = api_token(env_var("API_TOKEN")).map_err(|e| format!("error: {e}"))?;
        Ok((loaded, prometheus, token))
    });
    let ((config, plan, crontab_file), prometheus, api_token) = match checked {
        Ok(checked) => checked,
        Err(message) => {
            crate::telemetry::print_error(&message);
            return Ok(Err(ExitCode::from(2)));
        }
    };
    // One daemon per embedded file: take its lock now (atomic, unlike looking at who holds
    // it) and refuse at once (exit 2) rather than wait as a standby. Held by the Running
    // daemon (`r.embedded_lock`) until it is dropped; the consumers share it (see queue::embedded::lock).
    let embedded_lock = match &config.store {
        crate::queue::StoreTarget::Embedded(path) => {
            match crate::queue::embedded::claim_for_daemon(path) {
                Ok(lock) => Some(lock),
                Err(message) => {
                    crate::telemetry::print_error(&format!("error: {message}"));
                    return Ok(Err(ExitCode::from(2)));
                }
            }
        }
        _ => None,
    };
    let signals = crate::shutdown::signals().context("installing signal handlers")?;
    let config = Arc::new(config);
    let mut r = running(config.clone());
    r.embedded_lock = embedded_lock;
    // Programs need no store: they start now and stop at `stop`, beside the drain (drain.rs).
    let (supervisor, programs) = crate::programs::Supervisor::for_config(&config);
    r.programs_handle = programs.clone();
    r.programs = Some(tokio::spawn(supervisor.run(r.stop.clone())));
    // Reload requests: SIGUSR2 (the signal watcher) and, with --watch, file changes; one
    // receiver, the reload component started with the pools.
    let (reload_tx, reload_rx) = mpsc::channel(1);
    watch_process(args, &r, signals, reload_tx);
    let (plan_tx, plan_rx) = watch::channel(plan.clone());
    let metrics = Arc::new(Metrics::default());
    let stats = Arc::new(SchedulerStats::default());
    let front = Front {
        prometheus,
        api_token,
        crontab_file,
    };
    r.http = serve(args, &r, plan_rx.clone(), &metrics, &stats, front).await?;
    let store = match connect(&config, &r.stop).await {
        Ok(store) => store,
        Err(e) => {
            // Wrong credentials or an unusable URL: retrying cannot help, and an orchestrator
            // restarting us would only repeat it. Exit 2, as for any configuration error.
            return Ok(Err(refuse(r, &e).await));
        }
    };
    if let Some(store) = store {
        // A second live daemon with our WORKER_ID would requeue our jobs as its own: refuse.
        let identity = crate::queue::Identity::new(&config.worker_id);
        match store.claim_identity(&identity, r.closing.clone()).await {
            Ok(()) => {}
            Err(e) if !e.is_config() => {
                // Redis went away in between: the pools wait for it; stalled recovery covers
                // what an instant recovery would have done.
                tracing::warn!(error = %e, "could not claim the WORKER_ID; continuing without");
            }
            Err(e) => return Ok(Err(refuse(r, &e).await)),
        }
        let mut work = start_work(&r, store, &plan, plan_rx, &metrics, stats).await;
        let load = {
            let args = args.clone();
            // A valid reload also applies `[programs]` (Supervisor's reread + update).
            move || {
                let loaded = super::load(&args).map(|(c, p, _)| (c, p));
                loaded.inspect(|(c, _)| programs.reload(c.programs.clone()))
            }
        };
        let routes = std::mem::take(&mut work.routes);
        tokio::spawn(reload::run(
            load,
            reload_rx,
            plan_tx,
            (routes, config.clone()),
            r.stop.clone(),
        ));
        r.status.set_ready();
        r.notifier.ready();
        let (m, s) = (metrics.clone(), r.status.clone());
        let limits = recycle::watch(config.limits, m, s, r.stop.clone());
        tokio::spawn(limits);
        r.work = Some(work);
    }
    Ok(Ok(r))
}

/// The daemon before anything runs: its status and shutdown tokens.
/// Gives up at start on a store error no retry can fix (the configuration's, exit 2): says it,
/// closes the HTTP front already serving /health (so the probe sees the daemon go), and answers
/// the exit code. One place, so each such refusal at start ends the same way.
async fn refuse(mut r: Running, e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    r.status.set_draining();
    r.closing.cancel();
    let _ = r.http.remove(0).await;
    ExitCode::from(2)
}

fn running(config: Arc<Config>) -> Running {
    Running {
        status: Status::new(
            config.lock_duration,
            config.store.describe(),
            config.store.kind(),
        ),
        notifier: notify::Notifier::from_env(),
        config,
        stop: CancellationToken::new(),
        cut_off: CancellationToken::new(),
        closing: CancellationToken::new(),
        http: Vec::new(),
        work: None,
        embedded_lock: None,
        programs: None,
        programs_handle: Default::default(),
    }
}

/// The process-level watchers: signals (which fire `stop`, then `cut_off`, and ask for
/// reloads), the file watcher with `--watch`, and the zombie reaper when PID 1.
fn watch_process(args: &DaemonArgs, r: &Running, signals: Signals, reload: mpsc::Sender<()>) {
    let config = &r.config;
    if args.watch {
        let files = [Some(config.crontab.clone()), config.file.clone()];
        let files = files.into_iter().flatten().collect();
        let watcher = reload::watch_files(files, reload.clone(), r.stop.clone());
        tokio::spawn(watcher);
    }
    let (s, c) = (r.stop.clone(), r.cut_off.clone());
    tokio::spawn(crate::shutdown::watch(signals, s, c, reload));
    if args.no_reap {
        tracing::info!("-no-reap: orphaned processes are not reaped, even as PID 1");
    } else {
        crate::reaper::spawn_if_init();
    }
}

/// What the HTTP servers need besides the config, checked before anything is bound.
struct Front {
    /// The `-prometheus-listen-address` to bind, default port applied.
    prometheus: Option<String>,
    /// `API_TOKEN`, trimmed.
    api_token: Option<Arc<str>>,
    /// The crontab's name, for the first log line.
    crontab_file: Option<String>,
}

/// `API_TOKEN` as clients can send it: a trailing newline (a secret file, `echo`) and
/// surrounding blanks are dropped; unset or empty means no token; a value of blanks only is
/// refused (no client could ever match it).
fn api_token(value: Option<String>) -> Result<Option<Arc<str>>, String> {
    match value {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v.trim().is_empty() => Err(
            "API_TOKEN is set but blank (spaces or newlines only): no client could send it; \
             set a real token or unset API_TOKEN"
                .into(),
        ),
        Some(v) => Ok(Some(Arc::from(v.trim()))),
    }
}

/// Binds the HTTP port (and the `-prometheus-listen-address` one) and serves. The servers
/// outlive the drain (health says `draining`); `closing` stops them last.
async fn serve(
    args: &DaemonArgs,
    r: &Running,
    plan: watch::Receiver<Arc<Plan>>,
    metrics: &Arc<Metrics>,
    stats: &Arc<SchedulerStats>,
    front: Front,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let config = &r.config;
    let Front {
        prometheus,
        api_token,
        crontab_file,
    } = front;
    let api_locked = check_exposure(config, api_token.is_some(), args.insecure_open_api);
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (WORKER_LISTEN)", config.listen))?;
    // Both ports are bound before the daemon says it is starting.
    let prometheus =
        match &prometheus {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                format!("cannot listen on {addr} (-prometheus-listen-address)")
            })?),
            None => None,
        };
    warn_embedded_with_queues(config);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), store = config.store.kind(), at = %config.store.describe(),
        listen = %listener.local_addr()?, queues = ?config.queues.keys().collect::<Vec<_>>(), entries = plan.borrow().entries.len(),
        crontab = %crontab_file.as_deref().unwrap_or("(none)"), api_token = api_token.is_some(), "cronq worker starting");
    warn_if_idle(config, plan.borrow().entries.len());
    let state = AppState {
        status: r.status.clone(),
        config: config.clone(),
        plan,
        metrics: metrics.clone(),
        sched: stats.clone(),
        api_token,
        api_locked,
        sse: Arc::new(crate::http::events::Hub::new(config.http.max_sse_clients)),
        closing: r.closing.clone(),
        programs: r.programs_handle.clone(),
    };
    let idle = config.http.idle_timeout;
    // The main server first: the drain phase awaits it first.
    let mut servers = vec![tokio::spawn(crate::http::serve::serve(
        listener,
        router(state.clone()),
        idle,
        r.closing.clone(),
    ))];
    // `-prometheus-listen-address`: /metrics alone on a second port, as Supercronic serves it.
    if let Some(l) = prometheus {
        tracing::info!(listen = %l.local_addr()?, "serving /metrics (-prometheus-listen-address)");
        let app = crate::http::metrics_router(state);
        let serve = crate::http::serve::serve(l, app, idle, r.closing.clone());
        servers.push(tokio::spawn(serve));
    }
    Ok(servers)
}

/// Starts the pools, the supervised scheduler and the cancel router on a connected store.
async fn start_work(
    r: &Running,
    store: Store,
    plan: &Arc<Plan>,
    plan_rx: watch::Receiver<Arc<Plan>>,
    metrics: &Arc<Metrics>,
    stats: Arc<SchedulerStats>,
) -> Work {
    r.status.set_store(store.clone());
    let shared = Shared {
        store: &store,
        config: &r.config,
        status: &r.status,
        cut_off: &r.cut_off,
        stop: &r.stop,
        metrics,
    };
    let pools = start_pools(&shared, plan).await;
    // Crontab commands run here while the store is down (`[cron] when_store_down`), through
    // the crontab queue's own routes; shutdown waits for them (`drain.rs`).
    // Their runs are recorded in the store once it answers again (`worker/local_backlog.rs`).
    let local = pools.routes.get(&r.config.cron.queue).map(|(_, table)| {
        let (queue, cut_off) = (&r.config.cron.queue, r.cut_off.clone());
        let shared = pools.shared.clone();
        let backlog = Backlog::new();
        let flush = local_backlog::flush(
            backlog.clone(),
            store.clone(),
            queue.clone(),
            r.stop.clone(),
        );
        tokio::spawn(flush);
        LocalRunner::new(
            queue,
            table.clone(),
            shared,
            cut_off,
            metrics.clone(),
            backlog,
        )
    });
    let sched = {
        let (store, config, stop) = (store.clone(), r.config.clone(), r.stop.clone());
        let runs = local
            .clone()
            .map(|l| Arc::new(l) as Arc<dyn scheduler::LocalRuns>);
        tokio::spawn(supervise::supervise(
            "scheduler",
            r.status.clone(),
            stop.clone(),
            move || {
                scheduler::run(
                    store.clone(),
                    config.clone(),
                    plan_rx.clone(),
                    stats.clone(),
                    runs.clone(),
                    stop.clone(),
                )
            },
        ))
    };
    let dispatchers = pools
        .pools
        .iter()
        .map(|p| (p.queue().to_string(), p.dispatch()));
    tokio::spawn(cancels::run(
        store.clone(),
        dispatchers.collect(),
        r.config.worker_id.clone(),
        metrics.clone(),
        r.stop.clone(),
    ));
    Work {
        store,
        sched,
        pools: pools.pools,
        routes: pools.routes,
        local,
    }
}

/// The embedded store with consumed queues: Node producers adding jobs to Redis would never be
/// seen, while /health is green. Said once, at start, with the fix.
fn warn_embedded_with_queues(config: &Config) {
    let consumed: Vec<&String> = config
        .queues
        .iter()
        .filter(|(name, q)| *name != crate::cron::CRON_QUEUE && !q.handlers.is_empty())
        .map(|(name, _)| name)
        .collect();
    if matches!(config.store, crate::queue::StoreTarget::Embedded(_)) && !consumed.is_empty() {
        tracing::warn!(
            queues = ?consumed,
            "no Redis is configured (REDIS_URL, REDIS_HOST, [redis], --redis-url, or a .env \
             in the working directory): these queues use the embedded store, and jobs that \
             producers add to Redis will not be seen; set REDIS_URL to consume them"
        );
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

/// Says why a daemon with no handlers and no schedule consumes nothing: the image ships neither
/// (its examples would run a team's real jobs), so this is how a fresh `docker run` starts.
fn warn_if_idle(config: &Config, entries: usize) {
    if config.queues.is_empty() && entries == 0 && config.programs.is_empty() {
        let file = config.file.as_ref().map(|f| f.display().to_string());
        tracing::warn!(config = %file.as_deref().unwrap_or("(none)"), crontab = %config.crontab.display(),
            "nothing to run: no queue handlers and no crontab entries, so no job is consumed or scheduled; \
             mount or COPY a config at ./config/worker.toml (or set WORKER_CONFIG) and/or a crontab at ./crontab (or set CRONTAB)");
    }
}
