//! Backfill: run an entry's ticks of a past range now (Temporal's backfill), through
//! `worker schedules backfill ENTRY --from T --to T` and `POST /api/schedules/{id}/backfill`.
//! Each tick is added with its usual deterministic id (`cron-<entry>-<tick>`), so a tick that
//! already has a run (kept in the queue) adds nothing, and repeating a backfill adds nothing.
//! The runs are added at once, without jitter; their run window starts when they are added,
//! so none is dropped as late. The entry's overlap policy is not applied: a backfill is asked
//! for by an operator who wants these runs (use a queue's concurrency to bound them).

use chrono::{DateTime, Utc};

use super::plan::Plan;
use super::scheduler::{job_spec, ticks_between};
use crate::config::Config;
use crate::queue::{cron_job_id, Error, Store};

/// Most ticks one backfill adds.
pub const MAX_TICKS: usize = 1000;

/// Why a backfill added nothing.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// No entry has that id.
    #[error("no schedule entry {0:?}: see GET /api/schedules (or `worker schedules`) for the ids")]
    NoEntry(String),
    /// The range is empty, reversed, in the future or too large.
    #[error("{0}")]
    BadRange(String),
    /// The store failed (the ticks before it were added; repeating adds only the rest).
    #[error(transparent)]
    Store(#[from] Error),
}

/// Checks `from..=to` against `now` and the tick count of the range; pure.
pub fn check_range(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    ticks: usize,
) -> Result<(), BackfillError> {
    if from > to {
        return Err(BackfillError::BadRange(format!(
            "from {} is after to {}: give from <= to",
            from.to_rfc3339(),
            to.to_rfc3339()
        )));
    }
    if to > now {
        return Err(BackfillError::BadRange(format!(
            "to {} is in the future: a backfill runs past ticks (the schedule runs the rest)",
            to.to_rfc3339()
        )));
    }
    if ticks > MAX_TICKS {
        return Err(BackfillError::BadRange(format!(
            "the range holds more than {MAX_TICKS} ticks: split it into smaller ranges"
        )));
    }
    Ok(())
}

/// Adds the ticks of entry `id` in `from..=to`; returns how many were added (ticks whose run
/// already exists are not counted).
pub async fn backfill(
    store: &Store,
    config: &Config,
    plan: &Plan,
    id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<usize, BackfillError> {
    let e = plan
        .entries
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(|| BackfillError::NoEntry(id.to_string()))?;
    // One more than allowed, to tell "too many" without listing them all.
    let ticks = if from <= to {
        ticks_between(e, from, to, MAX_TICKS + 1)
    } else {
        Vec::new()
    };
    check_range(from, to, Utc::now(), ticks.len())?;
    let queue = e.job_target().0;
    let mut added = 0;
    for t in ticks {
        let job_id = cron_job_id(&e.id, t.timestamp());
        if store.state(queue, &job_id).await?.is_some() {
            continue;
        }
        let mut spec = job_spec(config, e, t);
        spec.delay = None;
        store.add(queue, spec).await?;
        added += 1;
    }
    tracing::info!(entry = e.label.as_str(), entry_id = %e.id, from = %from.to_rfc3339(), to = %to.to_rfc3339(), added, "backfill");
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::plan::tests::at;

    #[test]
    fn ranges_are_checked_with_the_fix() {
        let now = at("2027-01-02T00:00:00Z");
        let (a, b) = (at("2027-01-01T00:00:00Z"), at("2027-01-01T06:00:00Z"));
        assert!(check_range(a, b, now, 7).is_ok());
        assert!(check_range(b, a, now, 0)
            .unwrap_err()
            .to_string()
            .contains("from <= to"));
        let future = at("2027-01-03T00:00:00Z");
        assert!(check_range(a, future, now, 0)
            .unwrap_err()
            .to_string()
            .contains("future"));
        let err = check_range(a, b, now, MAX_TICKS + 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("smaller ranges"), "{err}");
    }
}
