//! The job one tick adds: [`job_spec`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::super::plan::{Action, PlannedEntry};
use crate::config::cron_policy::JitterMode;
use crate::config::Config;
use crate::queue::{cron_job_id, JobOverrides, JobSpec};

/// The job one tick of `e` adds: its target, its data (a command entry's job carries only
/// where it came from, never the command), its attempts, backoff and retention (a command
/// entry's own, see [`PlannedEntry::runs`]; else the target handler's), the
/// deterministic id, and a random start delay when the entry has `jitter`.
pub fn job_spec(config: &Config, e: &PlannedEntry, at: DateTime<Utc>) -> JobSpec {
    let (queue, name) = e.job_target();
    let data = match &e.action {
        Action::Enqueue { data, .. } => data.clone(),
        Action::Command { .. } => serde_json::json!({
            "entry": e.id,
            "source": e.place,
            "scheduled": at.to_rfc3339(),
        }),
    };
    let delay = jitter_delay(e);
    let overrides = JobOverrides {
        job_id: Some(cron_job_id(&e.id, at.timestamp())),
        delay,
        ..JobOverrides::default()
    };
    // A command entry's run takes its own settings (one attempt by default, bounded history);
    // an enqueue entry's job is its target handler's, as any producer's would be.
    let defaults = match &e.runs {
        Some(runs) => runs,
        None => &config.job_settings(queue, name).options,
    };
    JobSpec::for_handler(name, data, defaults, overrides)
}

/// The start delay of one tick of `e`: none without `jitter`; with `jitter_mode = "random"` a
/// new one each tick; with `"fixed"` the same one every tick and on every replica, hashed
/// from the entry id (systemd's `FixedRandomDelay`), so a fleet of entries spreads over the
/// window once and each keeps an even spacing.
pub fn jitter_delay(e: &PlannedEntry) -> Option<Duration> {
    let bound = e.policy.jitter?.as_millis() as u64;
    let ms = match e.policy.jitter_mode {
        JitterMode::Random => {
            use rand::Rng;
            rand::thread_rng().gen_range(0..=bound)
        }
        JitterMode::Fixed => stable_hash(&e.id) % (bound + 1),
    };
    Some(Duration::from_millis(ms))
}

/// FNV-1a over the id: the same number on every build, platform and replica, unlike std's
/// `DefaultHasher`, whose algorithm may change between Rust releases.
fn stable_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cron_policy::PolicySettings;

    fn entry(id: &str, jitter_s: u64, mode: JitterMode) -> PlannedEntry {
        let mut e = crate::cron::plan::tests::test_entry(id, "* * * * *");
        e.policy = PolicySettings {
            jitter: Some(Duration::from_secs(jitter_s)),
            jitter_mode: Some(mode),
            ..PolicySettings::default()
        }
        .resolve();
        e
    }

    #[test]
    fn fixed_jitter_is_stable_per_entry_and_spread_across_entries() {
        let a = entry("backup", 600, JitterMode::Fixed);
        let first = jitter_delay(&a).unwrap();
        for _ in 0..20 {
            assert_eq!(jitter_delay(&a), Some(first), "same delay every tick");
        }
        // A replica builds its own entry from the same config: same delay.
        assert_eq!(
            jitter_delay(&entry("backup", 600, JitterMode::Fixed)),
            Some(first)
        );
        assert!(first <= Duration::from_secs(600));
        // Known value: the hash is part of the contract (replicas on other builds agree).
        assert_eq!(stable_hash("backup") % 600_001, first.as_millis() as u64);
        let spread: std::collections::BTreeSet<_> = (0..50)
            .map(|i| jitter_delay(&entry(&format!("e{i}"), 600, JitterMode::Fixed)).unwrap())
            .collect();
        assert!(
            spread.len() > 45,
            "entries spread over the window: {}",
            spread.len()
        );
    }

    #[test]
    fn random_jitter_varies_within_the_bound_and_none_without_jitter() {
        let e = entry("x", 600, JitterMode::Random);
        let seen: std::collections::BTreeSet<_> =
            (0..50).map(|_| jitter_delay(&e).unwrap()).collect();
        assert!(seen.len() > 1, "a new delay per tick");
        assert!(seen.iter().all(|d| *d <= Duration::from_secs(600)));
        let mut none = entry("x", 0, JitterMode::Fixed);
        none.policy.jitter = None;
        assert_eq!(jitter_delay(&none), None);
    }
}
