//! `GET /metrics`: Prometheus text format. Job counters and durations come from this process;
//! queue depths, Redis latency and RSS are read at scrape time.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::metrics::{rss_bytes, BUCKETS};

/// The handler.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = render(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

async fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(4096);
    let m = &state.metrics;
    head(&mut out, "cronq_jobs_total", "counter", "Job runs finished by this process, by queue, job name and outcome (completed, retried, failed, released).");
    for ((q, n, end), v) in m.runs() {
        let _ = writeln!(
            out,
            "cronq_jobs_total{{queue=\"{}\",name=\"{}\",outcome=\"{}\"}} {v}",
            esc(&q),
            esc(&n),
            end.as_str()
        );
    }
    head(
        &mut out,
        "cronq_job_duration_seconds",
        "histogram",
        "Handler run time, by queue and job name.",
    );
    for ((q, n), h) in m.durations() {
        let labels = format!("queue=\"{}\",name=\"{}\"", esc(&q), esc(&n));
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += h.buckets[i];
            let _ = writeln!(
                out,
                "cronq_job_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "cronq_job_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "cronq_job_duration_seconds_sum{{{labels}}} {}", h.sum);
        let _ = writeln!(
            out,
            "cronq_job_duration_seconds_count{{{labels}}} {}",
            h.count
        );
    }
    let probes = state.status.queues();
    head(
        &mut out,
        "cronq_active_jobs",
        "gauge",
        "Jobs running in this process, by queue.",
    );
    for (q, p) in &probes {
        let _ = writeln!(
            out,
            "cronq_active_jobs{{queue=\"{}\"}} {}",
            esc(q),
            p.running()
        );
    }
    head(
        &mut out,
        "cronq_queue_jobs",
        "gauge",
        "Jobs in Redis by queue and state.",
    );
    let mut queues: Vec<String> = probes.keys().cloned().collect();
    queues.extend(state.config.queues.keys().cloned());
    queues.sort();
    queues.dedup();
    let latency = match state.status.store() {
        Some(store) => store.ping().await.ok(),
        None => None,
    };
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
                    let _ = writeln!(
                        out,
                        "cronq_queue_jobs{{queue=\"{}\",state=\"{s}\"}} {v}",
                        esc(q)
                    );
                }
            }
        }
    }
    let s = &state.sched;
    counter(
        &mut out,
        "cronq_cron_fires_total",
        "Cron ticks enqueued by this process.",
        s.fired.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "cronq_cron_skipped_total",
        "Cron ticks skipped by the overlap policy.",
        s.skipped.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "cronq_cron_missed_total",
        "Cron ticks missed (too late, or Redis failed until the next tick).",
        s.missed.load(Ordering::Relaxed),
    );
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
        head(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
    }
    head(
        &mut out,
        "cronq_redis_up",
        "gauge",
        "1 when Redis answered PING at scrape time.",
    );
    let _ = writeln!(out, "cronq_redis_up {}", u8::from(latency.is_some()));
    if let Some(l) = latency {
        head(
            &mut out,
            "cronq_redis_latency_seconds",
            "gauge",
            "PING round trip at scrape time.",
        );
        let _ = writeln!(out, "cronq_redis_latency_seconds {}", l.as_secs_f64());
    }
    let outages: u64 = probes.values().map(|p| p.beat.outages()).sum();
    counter(
        &mut out,
        "cronq_redis_reconnects_total",
        "Times a queue loop lost Redis and had to reconnect.",
        outages,
    );
    if let Some(rss) = rss_bytes() {
        head(
            &mut out,
            "cronq_process_resident_memory_bytes",
            "gauge",
            "Resident set size of the worker process.",
        );
        let _ = writeln!(out, "cronq_process_resident_memory_bytes {rss}");
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
        head(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {v}");
    }
    head(
        &mut out,
        "cronq_uptime_seconds",
        "gauge",
        "Seconds since the process started.",
    );
    let _ = writeln!(
        out,
        "cronq_uptime_seconds {}",
        state.status.uptime().as_secs_f64()
    );
    out
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    head(out, name, "counter", help);
    let _ = writeln!(out, "{name} {v}");
}

/// Escapes a label value (backslash, quote, newline).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
