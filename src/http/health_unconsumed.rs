//! The queues `/health` lists although this daemon does not consume them: a `[queues.X]` table
//! with settings and no handlers. Each shows as `"consumed": false` with its counts and a hint,
//! beside the consumed queues under `queues`.
//!
//! Why they never make the daemon unhealthy: such a queue is often consumed elsewhere on
//! purpose (Node BullMQ workers next to this daemon), and a restart would not add a consumer
//! anyway. The point is that a forgotten handler is visible to whoever reads the probe,
//! not that the orchestrator restarts a healthy process.

use std::time::Duration;

use serde::Serialize;

use super::health_queue::QueueReading;
use crate::config::Config;
use crate::status::Status;

/// What one declared-but-unconsumed queue shows.
const HINT: &str = "no consumer here: add handlers to this queue (or a \"*\" catch-all), \
                    or ignore this if other workers (e.g. Node BullMQ) consume it";

/// How old the counts may be, as for the consumed queues: probes come every few seconds and
/// counting costs several commands per queue.
const COUNTS_MAX_AGE: Duration = Duration::from_secs(30);

/// A declared queue nobody here consumes.
#[derive(Debug, Serialize)]
pub struct UnconsumedQueue {
    /// `consumed` (always `false`), its counts, or why they could not be read.
    #[serde(flatten)]
    pub reading: QueueReading,
    /// What to do about it.
    pub hint: &'static str,
}

/// The declared-but-unconsumed queues with their counts. `deadline` bounds all the counting at
/// once; a count that misses it is left out (never a reason to be unhealthy, see the module
/// doc). Counts are kept in [`Status`]'s health cache like the consumed queues'.
pub async fn unconsumed(
    status: &Status,
    config: &Config,
    deadline: Duration,
) -> Vec<(String, UnconsumedQueue)> {
    let probes = status.queues();
    let names: Vec<&str> = crate::worker::routes::unconsumed(config)
        .into_iter()
        .filter(|q| !probes.contains_key(*q))
        .collect();
    let stale: Vec<&str> = names
        .iter()
        .copied()
        .filter(|q| {
            status
                .health_counts(q)
                .is_none_or(|(age, _)| age > COUNTS_MAX_AGE)
        })
        .collect();
    // Counting errors by queue: such a queue shows its error, not counts older than it.
    let mut errors: Vec<(&str, String)> = Vec::new();
    if let (Some(store), false) = (status.store(), stale.is_empty()) {
        let all = futures::future::join_all(stale.iter().map(|q| store.counts(q)));
        if let Ok(results) = tokio::time::timeout(deadline, all).await {
            for (q, counted) in stale.iter().zip(results) {
                match counted {
                    Ok(c) => status.set_health_counts(q, c),
                    Err(e) => errors.push((q, e.to_string())),
                }
            }
        }
    }
    names
        .into_iter()
        .map(|q| {
            let error = errors.iter().find(|(e, _)| *e == q).map(|(_, e)| e.clone());
            let counts = match error {
                Some(_) => None,
                None => status.health_counts(q).map(|(_, c)| c),
            };
            let entry = UnconsumedQueue {
                reading: QueueReading {
                    consumed: false,
                    counts,
                    error,
                },
                hint: HINT,
            };
            (q.to_string(), entry)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flattened reading leaves a declared queue's JSON as it was, key order included.
    #[test]
    fn a_declared_queue_keeps_its_json() {
        let entry = UnconsumedQueue {
            reading: QueueReading {
                consumed: false,
                counts: None,
                error: Some("WRONGTYPE at bull:ai:wait".into()),
            },
            hint: "no consumer here",
        };
        assert_eq!(
            serde_json::to_string(&entry).unwrap(),
            r#"{"consumed":false,"error":"WRONGTYPE at bull:ai:wait","hint":"no consumer here"}"#
        );
    }
}
