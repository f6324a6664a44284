//! `GET /metrics`: Prometheus exposition (OpenMetrics text) by `prometheus-client`. Job counters
//! and durations come from this process; queue depths, Redis latency and RSS are read at scrape
//! time into a registry built for that scrape.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::metrics::{rss_bytes, Labels};

/// The handler.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = render(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

/// A counter holding `v` (the scrape-time reading of a counter kept elsewhere).
fn counter(v: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(v);
    c
}

/// An integer gauge holding `v`.
fn gauge(v: u64) -> Gauge {
    let g = Gauge::default();
    g.set(i64::try_from(v).unwrap_or(i64::MAX));
    g
}

/// A float gauge holding `v`.
fn gauge_f64(v: f64) -> Gauge<f64, AtomicU64> {
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(v);
    g
}

/// Supercronic's families (`supercronic_*`), one series per crontab command entry, labelled
/// as the pools label them (position: the entry's index among the command entries).
fn supercronic_families(state: &AppState, reg: &mut Registry) {
    let plan = state.plan.borrow().clone();
    let skipped = state
        .sched
        .skipped_by_entry
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let entries: Vec<(String, String, usize, u64)> = plan
        .commands()
        .enumerate()
        .filter_map(|(position, e)| match &e.action {
            crate::cron::Action::Command { command, .. } => Some((
                command.clone(),
                e.schedule.to_string(),
                position,
                skipped.get(&e.id).copied().unwrap_or(0),
            )),
            _ => None,
        })
        .collect();
    let deadlines = entries.iter().map(|(command, schedule, position, n)| {
        let labels = crate::metrics::supercronic::EntryLabels {
            command,
            position: *position,
            schedule,
        };
        (labels, *n)
    });
    state.metrics.cron.register(reg, deadlines);
    last_success_family(state, &plan, reg);
}

/// Supervised programs, one series per instance (`program="NAME:00"`): its state (1 for the
/// current one, 0 for the others, so alerts can match `state="FATAL"`), automatic restarts
/// and uptime.
fn program_families(state: &AppState, reg: &mut Registry) {
    let programs = state.programs.status();
    if programs.is_empty() {
        return;
    }
    let states = Family::<Labels, Gauge>::default();
    let restarts = Family::<Labels, Counter>::default();
    let uptime = Family::<Labels, Gauge>::default();
    for p in &programs {
        let name = || vec![("program", p.name.as_str().into())];
        for s in crate::programs::ProgramState::ALL {
            let mut labels = name();
            labels.push(("state", s.as_str().into()));
            states.get_or_create(&labels).set(i64::from(p.state == s));
        }
        restarts.get_or_create(&name()).inc_by(p.restarts);
        uptime
            .get_or_create(&name())
            .set(i64::try_from(p.uptime_s.unwrap_or(0)).unwrap_or(i64::MAX));
    }
    reg.register(
        "cronq_program_state",
        "Supervised program instances by state (1 = the current one).",
        states,
    );
    reg.register(
        "cronq_program_restarts",
        "Automatic restarts of a program instance (after an exit, or a retry from BACKOFF).",
        restarts,
    );
    reg.register(
        "cronq_program_uptime_seconds",
        "Seconds since the program instance's process started (0 when none runs).",
        uptime,
    );
}

async fn render(state: &AppState) -> String {
    let mut reg = Registry::default();
    state.metrics.register(&mut reg);
    supercronic_families(state, &mut reg);
    program_families(state, &mut reg);

    let probes = state.status.queues();
    let active = Family::<Labels, Gauge>::default();
    for (q, p) in &probes {
        active
            .get_or_create(&vec![("queue", q.as_str().into())])
            .set(i64::try_from(p.running()).unwrap_or(i64::MAX));
    }
    reg.register(
        "cronq_active_jobs",
        "Jobs running in this process, by queue.",
        active,
    );

    let mut queues: Vec<String> = probes.keys().cloned().collect();
    queues.extend(state.config.queues.keys().cloned());
    queues.sort();
    queues.dedup();
    let latency = match state.status.store() {
        Some(store) => store.ping().await.ok(),
        None => None,
    };
    let depths = Family::<Labels, Gauge>::default();
    if let (Some(store), Some(_)) = (state.status.store(), latency) {
        for q in &queues {
            if let Ok(c) = store.counts(q).await {
                let states = [
                    ("waiting", c.waiting),
                    ("prioritized", c.prioritized),
                    ("active", c.active),
                    ("delayed", c.delayed),
                    ("completed", c.completed),
                    ("failed", c.failed),
                    ("waiting-children", c.waiting_children),
                ];
                for (s, v) in states {
                    depths
                        .get_or_create(&vec![("queue", q.as_str().into()), ("state", s.into())])
                        .set(i64::try_from(v).unwrap_or(i64::MAX));
                }
            }
        }
    }
    reg.register(
        "cronq_queue_jobs",
        "Jobs in Redis by queue and state.",
        depths,
    );
    super::prometheus_groups::register(state, &mut reg).await;

    let s = &state.sched;
    // Counter names without `_total`: the encoder appends it.
    for (name, help, v) in [
        (
            "cronq_cron_fires",
            "Cron ticks enqueued by this process.",
            &s.fired,
        ),
        (
            "cronq_cron_skipped",
            "Cron ticks skipped by the overlap policy.",
            &s.skipped,
        ),
        (
            "cronq_cron_missed",
            "Cron ticks missed (too late, or Redis failed until the next tick).",
            &s.missed,
        ),
    ] {
        reg.register(name, help, counter(v.load(Ordering::Relaxed)));
    }
    for (name, help, v) in [
        (
            "cronq_cron_pending",
            "Cron ticks due and not yet added.",
            &s.pending,
        ),
        (
            "cronq_cron_adds_in_flight",
            "Cron adds talking to the store now.",
            &s.in_flight,
        ),
    ] {
        reg.register(name, help, gauge(v.load(Ordering::Relaxed)));
    }
    reg.register(
        "cronq_redis_up",
        "1 when Redis answered PING at scrape time.",
        gauge(u64::from(latency.is_some())),
    );
    if let Some(l) = latency {
        reg.register(
            "cronq_redis_latency_seconds",
            "PING round trip at scrape time.",
            gauge_f64(l.as_secs_f64()),
        );
    }
    let outages: u64 = probes.values().map(|p| p.beat.outages()).sum();
    reg.register(
        "cronq_redis_reconnects",
        "Times a queue loop lost Redis and had to reconnect.",
        counter(outages),
    );
    if let Some(rss) = rss_bytes() {
        reg.register(
            "cronq_process_resident_memory_bytes",
            "Resident set size of the worker process.",
            gauge(rss),
        );
    }
    for (name, help, v) in [
        (
            "cronq_sse_clients",
            "Live-event (SSE) clients connected now ([http] max_sse_clients caps them).",
            state.sse.clients(),
        ),
        (
            "cronq_sse_readers",
            "Shared event readers running now: one per followed queue, whatever the clients.",
            state.sse.readers(),
        ),
    ] {
        reg.register(name, help, gauge(v as u64));
    }
    reg.register(
        "cronq_uptime_seconds",
        "Seconds since the process started.",
        gauge_f64(state.status.uptime().as_secs_f64()),
    );
    let mut out = String::with_capacity(4096);
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &reg);
    out
}

/// `cronq_cron_last_success_timestamp_seconds{entry}`: when each entry last completed, for an
/// alert on `time() - … > N` (entries with no known success have no series).
fn last_success_family(state: &AppState, plan: &crate::cron::Plan, reg: &mut Registry) {
    let known = state.sched.successes.all();
    let family = Family::<Vec<(String, String)>, Gauge<f64, AtomicU64>>::default();
    for e in &plan.entries {
        if let Some(s) = known.get(&e.id) {
            family
                .get_or_create(&vec![("entry".to_string(), e.id.clone())])
                .set(s.at_s as f64);
        }
    }
    reg.register(
        "cronq_cron_last_success_timestamp_seconds",
        "Unix time of each schedule entry's latest completed run.",
        family,
    );
}
