//! `GET /health`: 200 `healthy`, 503 `unhealthy` (the store does not answer, or a queue with ready
//! jobs and free slots has not fetched for longer than the lock duration) or 503 `draining`.
//! Health reflects consumption, not just a connection: the classic failure of a BullMQ worker
//! is a live process that no longer takes jobs after a Redis restart.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use super::health_queue::QueueReading;
use super::health_unconsumed::{unconsumed, UnconsumedQueue};
use super::AppState;
use crate::queue::JobCounts;
use crate::status::{QueueProbe, Status};

/// How long a health probe waits for the store.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How old the per-queue counts a probe reports may be. Counting costs seven commands per
/// queue, and probes come every few seconds (two per period under Kubernetes): on a
/// per-command bill they cost more than the idle daemon. The verdict never rests on old
/// counts: a queue that could be stuck is counted afresh whenever one `EXISTS` says some
/// candidate has jobs ready.
const COUNTS_MAX_AGE: Duration = Duration::from_secs(30);

/// The body of `/health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `healthy`, `unhealthy` or `draining`.
    pub status: &'static str,
    /// Why not healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Now, RFC 3339.
    pub timestamp: String,
    /// Seconds since start.
    pub uptime: f64,
    /// Which store jobs live in (`redis` or `embedded`).
    pub store: &'static str,
    /// The store's reachability, whichever store: `kind`, `url` or `path`, `connected`,
    /// `latency_ms`.
    pub storage: StoreHealth,
    /// Deprecated (kept one release for existing probes): the same as `storage`, always
    /// under this name and with the embedded file's path as `url`.
    pub redis: RedisHealth,
    /// Per consumed queue, and per declared queue no handler here consumes (`"consumed":
    /// false`, see [`super::health_unconsumed`]).
    pub queues: BTreeMap<String, QueueEntry>,
    /// Problems that leave the daemon working: one queue's data broken (a wrong-typed key),
    /// named by queue and key, with the fix (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Internal components restarted after a panic (absent when none was).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, crate::status::ComponentHealth>,
    /// Supervised programs, one entry per instance (absent when none is configured).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<crate::programs::InstanceStatus>,
    /// Schedule entries past their `alert_after` without a success (absent when none). They
    /// turn the probe 503 only with `[cron] stale_fails_health = true`: a stale job should page
    /// someone, not restart the container by surprise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_schedules: Vec<crate::cron::scheduler::success::StaleEntry>,
}

/// The store part of `/health`.
#[derive(Debug, Serialize)]
pub struct StoreHealth {
    /// `redis` or `embedded`.
    pub kind: &'static str,
    /// Whether a round trip of a no-op answered.
    pub connected: bool,
    /// Its round trip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Redis: where (redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Embedded: the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The deprecated `redis` part of `/health` (see [`StoreHealth`]).
#[derive(Debug, Serialize)]
pub struct RedisHealth {
    /// Whether a PING answered.
    pub connected: bool,
    /// Its round trip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Where (redacted).
    pub url: String,
}

/// One queue in `/health`'s `queues`: consumed here (the usual case) or only declared.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum QueueEntry {
    /// A queue this daemon runs jobs of.
    Consumed(QueueHealth),
    /// A queue declared in the config that no handler here consumes.
    Unconsumed(UnconsumedQueue),
}

/// One queue in `/health` that this daemon consumes.
#[derive(Debug, Serialize)]
pub struct QueueHealth {
    /// `consumed` (always `true`), its counts, or why they could not be read.
    #[serde(flatten)]
    pub reading: QueueReading,
    /// Jobs this process runs now.
    pub running: usize,
    /// Jobs this process may run at once.
    pub concurrency: usize,
    /// Seconds since its fetch loop last turned.
    pub last_fetch_s: f64,
}

/// The handler.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let mut h = assess(&state.status, &state.programs).await;
    let declared = unconsumed(&state.status, &state.config, PROBE_TIMEOUT).await;
    h.queues.extend(
        declared
            .into_iter()
            .map(|(q, entry)| (q, QueueEntry::Unconsumed(entry))),
    );
    let plan = state.plan.borrow().clone();
    h.stale_schedules = state
        .sched
        .successes
        .stale(&plan, chrono::Utc::now().timestamp());
    if !h.stale_schedules.is_empty()
        && state.config.cron.stale_fails_health
        && h.status == "healthy"
    {
        h.status = "unhealthy";
        let names: Vec<&str> = h.stale_schedules.iter().map(|s| s.entry.as_str()).collect();
        h.reason = Some(format!(
            "schedules without a success within their alert_after: {} ([cron] stale_fails_health = true)",
            names.join(", ")
        ));
    }
    let code = if h.status == "healthy" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(h))
}

/// Computes the health report.
pub async fn assess(status: &Status, programs: &crate::programs::Programs) -> Health {
    let mut reason = None;
    // Reasons are prefixed by the store's kind (`redis: …`, `embedded: …`).
    let kind = status.store_kind;
    let latency = match status.store() {
        None => {
            reason = Some(format!("{kind}: not connected yet"));
            None
        }
        Some(store) => match tokio::time::timeout(PROBE_TIMEOUT, store.ping()).await {
            Ok(Ok(d)) => Some(d),
            Ok(Err(e)) => {
                reason = Some(format!("{kind}: {e}"));
                None
            }
            Err(_) => {
                reason = Some(format!(
                    "{kind}: no answer to PING within {}s",
                    PROBE_TIMEOUT.as_secs()
                ));
                None
            }
        },
    };
    if reason.is_none() && !status.ready() {
        reason = Some("starting: worker pools are not running yet".to_string());
    }
    let mut queues = BTreeMap::new();
    let probes = status.queues();
    // Only a queue with a free slot whose fetch loop has been silent past `stuck_after` can be
    // stuck; whether any of them has jobs ready is one question (one `EXISTS` on Redis).
    let candidates: Vec<String> = probes
        .iter()
        .filter(|(_, p)| may_stick(p, status.stuck_after))
        .map(|(name, _)| name.clone())
        .collect();
    let mut suspects = false;
    if let (Some(_), Some(store), false) = (latency, status.store(), candidates.is_empty()) {
        match tokio::time::timeout(PROBE_TIMEOUT, store.any_ready(&candidates)).await {
            Ok(Ok(found)) => suspects = found,
            Ok(Err(e)) => reason = Some(format!("{kind}: {e}")),
            Err(_) => {
                reason = Some(format!(
                    "{kind}: asking for ready jobs got no answer within {}s",
                    PROBE_TIMEOUT.as_secs()
                ))
            }
        }
    }
    // Counted afresh: the suspects, and every queue whose last counts are too old.
    let fresh_needed: Vec<&String> = probes
        .keys()
        .filter(|name| {
            (suspects && candidates.contains(name))
                || status
                    .health_counts(name)
                    .is_none_or(|(age, _)| age > COUNTS_MAX_AGE)
        })
        .collect();
    // All at once, under one deadline: a store that answered PING and then froze must not make
    // the report slow, nor let it say healthy with the counts silently missing.
    let mut fresh: BTreeMap<&String, Result<JobCounts, crate::queue::Error>> = BTreeMap::new();
    let mut counted_in_time = true;
    if let (Some(_), Some(store), None) = (latency, status.store(), &reason) {
        let all = futures::future::join_all(fresh_needed.iter().map(|q| store.counts(q)));
        match tokio::time::timeout(PROBE_TIMEOUT, all).await {
            Ok(results) => {
                for (name, counted) in fresh_needed.iter().zip(results) {
                    if let Ok(c) = &counted {
                        status.set_health_counts(name, *c);
                    }
                    fresh.insert(name, counted);
                }
            }
            Err(_) => counted_in_time = false,
        }
    }
    if let (Some(_), Some(store), None) = (latency, status.store(), &reason) {
        // PING cannot see a Redis at maxmemory (it answers PING, refuses every write): the
        // last refused add can.
        if let Some(refusal) = store.write_refusal() {
            reason = Some(format!("{kind}: writes refused: {refusal}"));
        }
    }
    let mut warnings = Vec::new();
    for (name, probe) in probes.iter() {
        let (counts, error) = match fresh.get(name) {
            Some(Ok(c)) => (Some(*c), None),
            Some(Err(e)) => (None, Some(e)),
            None => (status.health_counts(name).map(|(_, c)| c), None),
        };
        match error {
            // The store as a whole is broken: the daemon cannot do its work.
            Some(e) if e.fault().is_store_wide() => {
                reason.get_or_insert_with(|| format!("{kind}: {e}"));
            }
            // One queue's data is broken (a wrong-typed key): that queue's row says so and
            // the daemon stays live; restarting it would not repair a key.
            Some(e) => warnings.push(e.to_string()),
            None if reason.is_none() && latency.is_some() && counts.is_none() => {
                reason = Some(if counted_in_time {
                    format!("{kind}: counting queue {name} failed")
                } else {
                    format!(
                        "{kind}: counting queue {name} got no answer within {}s",
                        PROBE_TIMEOUT.as_secs()
                    )
                });
            }
            None => {}
        }
        if reason.is_none() && suspects {
            // Fresh counts only: old ones could name jobs another worker took since.
            let counted = fresh.get(name).and_then(|r| r.as_ref().ok());
            reason = stuck(name, probe, counted, status.stuck_after);
        }
        queues.insert(
            name.clone(),
            QueueEntry::Consumed(QueueHealth {
                reading: QueueReading {
                    consumed: true,
                    counts,
                    error: error.map(|e| e.to_string()),
                },
                running: probe.running(),
                concurrency: probe.concurrency,
                last_fetch_s: round3(probe.beat.since_turn().as_secs_f64()),
            }),
        );
    }
    let programs = programs.status();
    if reason.is_none() {
        reason = fatal_program(&programs);
    }
    let latency_ms = latency.map(|d| round3(d.as_secs_f64() * 1000.0));
    let state = if status.draining() {
        "draining"
    } else if reason.is_some() {
        "unhealthy"
    } else {
        "healthy"
    };
    Health {
        status: state,
        reason,
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        uptime: round3(status.uptime().as_secs_f64()),
        store: kind,
        storage: StoreHealth {
            kind,
            connected: latency.is_some(),
            latency_ms,
            url: (kind != "embedded").then(|| status.redis_url.clone()),
            path: (kind == "embedded").then(|| status.redis_url.clone()),
        },
        redis: RedisHealth {
            connected: latency.is_some(),
            latency_ms,
            url: status.redis_url.clone(),
        },
        queues,
        warnings,
        components: status.components(),
        programs,
        stale_schedules: Vec::new(),
    }
}

/// A program that should run but gave up (FATAL) makes the daemon unhealthy, as a stuck
/// queue does: an orchestrator restarting the container is the next thing to try. One that
/// was stopped on purpose does not.
fn fatal_program(programs: &[crate::programs::InstanceStatus]) -> Option<String> {
    let p = programs
        .iter()
        .find(|p| p.wanted && p.state == crate::programs::ProgramState::Fatal)?;
    Some(format!(
        "program {} is FATAL: {} (worker tail {} stderr; worker start {} retries)",
        p.name, p.description, p.name, p.name
    ))
}

/// A queue is stuck when jobs are ready, this pool has a free slot, and its fetch loop has
/// been silent for longer than `after`. A saturated pool or an empty queue is not stuck.
fn stuck(
    name: &str,
    probe: &QueueProbe,
    counts: Option<&JobCounts>,
    after: Duration,
) -> Option<String> {
    let counts = counts?;
    (counts.ready() > 0 && may_stick(probe, after)).then(|| {
        format!(
            "queue {name}: {} jobs ready but no fetch for {:.0}s",
            counts.ready(),
            probe.beat.since_turn().as_secs_f64()
        )
    })
}

/// Whether the queue could be stuck, before asking the store: a free slot, and its fetch loop
/// silent for longer than `after`.
fn may_stick(probe: &QueueProbe, after: Duration) -> bool {
    probe.running() < probe.concurrency && probe.beat.since_turn() > after
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flattened reading leaves a consumed queue's JSON as it was, key order included.
    #[test]
    fn a_consumed_queue_keeps_its_json() {
        let entry = QueueEntry::Consumed(QueueHealth {
            reading: QueueReading {
                consumed: true,
                counts: Some(JobCounts {
                    waiting: 2,
                    ..JobCounts::default()
                }),
                error: None,
            },
            running: 1,
            concurrency: 5,
            last_fetch_s: 0.5,
        });
        assert_eq!(
            serde_json::to_string(&entry).unwrap(),
            r#"{"consumed":true,"waiting":2,"prioritized":0,"active":0,"delayed":0,"completed":0,"failed":0,"waiting-children":0,"running":1,"concurrency":5,"last_fetch_s":0.5}"#
        );
    }
}
