//! Sentry Crons check-ins (`ping = "sentry"` or `ping = "sentry:SLUG"`): each run of the entry
//! sends `in_progress`, then `ok` or `error`, as monitor check-ins through the Sentry client
//! the daemon installs from `SENTRY_DSN` (`-sentry-dsn`), on the `sentry` crate's own sender
//! thread: off the job's path like every check-in ([`super::checkin`]). The monitor's slug is
//! SLUG, else the entry id; a 5-field schedule is sent as the monitor's crontab (with the
//! entry's zone) so Sentry creates the monitor and knows when a run is late. Sentry takes only
//! 5-field crontabs: an entry with a seconds field checks in without one (set the monitor's
//! schedule in Sentry). The start and end of one run share a check-in id derived from the job
//! id, so every replica watching that run names the same check-in.

use std::hash::{Hash, Hasher};

use sentry::protocol::{MonitorCheckIn, MonitorCheckInStatus, MonitorConfig, MonitorSchedule};
use sentry::types::Uuid;

use super::checkin_state::{CheckIns, Event, Outcome, Service};
use super::plan::Plan;

// The rule lives with the `ping` setting it reads (config validates it too).
pub use crate::config::cron_policy::is_sentry;

/// The monitor slug of `entry` for `ping`: SLUG of `sentry:SLUG`, else the entry id made into
/// Sentry's slug alphabet (lowercase letters, digits, `-`, `_`).
pub fn slug(entry: &str, ping: &str) -> String {
    let raw = ping.strip_prefix("sentry:").unwrap_or(entry);
    raw.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '_') => c,
            _ => '-',
        })
        .take(50)
        .collect()
}

/// The check-in of `event` for run `job_id` of `entry`, `schedule` its cron text in zone `tz`.
pub fn check_in(
    entry: &str,
    ping: &str,
    job_id: &str,
    schedule: &str,
    tz: &str,
    event: Event,
) -> MonitorCheckIn {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    job_id.hash(&mut h);
    let lo = h.finish();
    "cronq".hash(&mut h);
    let id = (u128::from(h.finish()) << 64) | u128::from(lo);
    let monitor_config = MonitorSchedule::from_crontab(schedule)
        .ok()
        .map(|schedule| MonitorConfig {
            schedule,
            checkin_margin: None,
            max_runtime: None,
            timezone: Some(tz.to_string()),
            failure_issue_threshold: None,
            recovery_threshold: None,
        });
    MonitorCheckIn {
        check_in_id: Uuid::from_u128(id),
        monitor_slug: slug(entry, ping),
        status: match event {
            Event::Start => MonitorCheckInStatus::InProgress,
            Event::Success => MonitorCheckInStatus::Ok,
            Event::Fail => MonitorCheckInStatus::Error,
        },
        environment: None,
        duration: None,
        monitor_config,
    }
}

/// Why a Sentry check-in cannot be sent, and the fix.
pub const NO_CLIENT: &str =
    "no Sentry client: set SENTRY_DSN (or -sentry-dsn) to the project's DSN";

/// Hands the check-in to the installed Sentry client (queued, sent by its thread), recorded
/// in `state` as queued; without a client (no `SENTRY_DSN`) it is recorded as failed. That
/// is logged once per entry when the plan is read ([`warn_without_client`]), not per run.
pub fn send(state: &CheckIns, run: (&str, &str), ping: &str, cron: (&str, &str), event: Event) {
    let ((entry, job_id), (schedule, tz)) = (run, cron);
    let ticket = state.begin(entry, event, Service::Sentry, ping.to_string(), job_id);
    let Some(client) = sentry::Hub::current().client() else {
        tracing::debug!(entry_id = %entry, ?event, "Sentry check-in not sent: {NO_CLIENT}");
        return ticket.report(Outcome::Failed, 0, None, Some(NO_CLIENT.into()));
    };
    let mut c = check_in(entry, ping, job_id, schedule, tz, event);
    c.environment = client.options().environment.as_ref().map(|e| e.to_string());
    client.send_envelope(c.into());
    ticket.report(Outcome::Queued, 1, None, None);
}

/// The entries of `plan` with `ping = "sentry…"` while no Sentry client is installed: each
/// named in one warning with the fix, when the plan is read (at start and at each reload),
/// rather than once per run. Returns their ids.
pub fn warn_without_client(plan: &Plan) -> Vec<String> {
    if sentry::Hub::current().client().is_some() {
        return Vec::new();
    }
    let ids: Vec<String> = plan
        .entries
        .iter()
        .filter(|e| e.policy.ping.as_deref().is_some_and(is_sentry))
        .map(|e| e.id.clone())
        .collect();
    for e in plan.entries.iter().filter(|e| ids.contains(&e.id)) {
        tracing::warn!(entry_id = %e.id, place = %e.place, "ping = \"sentry\" but its check-ins cannot be sent: {NO_CLIENT}, or remove ping from the entry");
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_schedules_and_one_id_per_run() {
        assert_eq!(slug("Nightly Backup", "sentry"), "nightly-backup");
        assert_eq!(slug("x", "sentry:db-dump"), "db-dump");
        let start = check_in("e", "sentry", "cron-e-1", "0 3 * * *", "UTC", Event::Start);
        let end = check_in("e", "sentry", "cron-e-1", "0 3 * * *", "UTC", Event::Fail);
        assert_eq!(start.check_in_id, end.check_in_id);
        assert_eq!(end.status, MonitorCheckInStatus::Error);
        assert!(start.monitor_config.is_some());
        let other = check_in(
            "e",
            "sentry",
            "cron-e-2",
            "* * * * * * *",
            "UTC",
            Event::Success,
        );
        assert_ne!(other.check_in_id, start.check_in_id);
        assert!(other.monitor_config.is_none(), "seconds field: no crontab");
    }
}
