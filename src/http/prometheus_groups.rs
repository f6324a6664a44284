//! `/metrics` families of fair groups (issue 30 point 3): `cronq_group_running{queue,group}`
//! and `cronq_group_parked{queue,group}`, read at scrape time for each queue with a group
//! setting. Label cardinality is bounded: at most `MAX_REPORTED_GROUPS` (50) groups per queue,
//! the busiest, since any producer can invent group ids.

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::metrics::Labels;

/// Registers the two families (empty when no queue has groups, or the store is away).
pub(super) async fn register(state: &AppState, reg: &mut Registry) {
    let running = Family::<Labels, Gauge>::default();
    let parked = Family::<Labels, Gauge>::default();
    if let Some(store) = state.status.store() {
        for (queue, q) in &state.config.queues {
            let Some(policy) = &q.groups else { continue };
            let Ok(counts) = store.group_counts(queue, policy).await else {
                continue;
            };
            for c in counts {
                let labels = vec![
                    ("queue", queue.as_str().into()),
                    ("group", c.group.as_str().into()),
                ];
                let set = |family: &Family<Labels, Gauge>, v: u64| {
                    family
                        .get_or_create(&labels)
                        .set(i64::try_from(v).unwrap_or(i64::MAX));
                };
                set(&running, c.running);
                set(&parked, c.parked);
            }
        }
    }
    reg.register(
        "cronq_group_running",
        "Jobs of a group running now on every daemon, by queue and group (the 50 busiest groups of each queue with group_concurrency or group_rate).",
        running,
    );
    reg.register(
        "cronq_group_parked",
        "Jobs of a group waiting for room in it (set aside on Redis, ready on the embedded store), by queue and group (the 50 busiest groups).",
        parked,
    );
}
