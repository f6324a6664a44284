//! Each entry's last success, and whether it is stale (no success for `alert_after`): the
//! dead-man's switch in `/health`, `GET /api/schedules` and `/metrics`
//! (`cronq_cron_last_success_timestamp_seconds{entry}`).
//!
//! Read back from the queue, not told by the worker: every run this scheduler adds (and its
//! entry's latest tick's run at start) is watched until it finishes; a completed one sets the
//! entry's last success to its finish time. So every replica learns of every success, whoever
//! ran it, and the watch list holds only unfinished runs (one per entry at most, the latest).
//! Memory only: after a restart, an entry's last success is known again once a run of it
//! completes (or from its latest tick's run if that is still kept); until then staleness
//! counts from when this daemon first planned the entry, so a restart never makes an entry
//! stale by itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::checkin;
use super::super::plan::{Plan, PlannedEntry as Entry};
use super::super::run_output::RunOutput;
use super::super::sentry_checkin;
use crate::queue::{JobState, Store};

/// How often unfinished runs are looked at: a success shows this late at most, so an
/// `alert_after` should exceed an entry's run time by more than this. One job read per
/// watched run (one per entry at most).
pub const WATCH_POLL: Duration = Duration::from_secs(2);

/// An entry's last completed run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LastSuccess {
    /// When it finished (RFC 3339 UTC).
    pub at: String,
    /// Unix seconds of `at`.
    #[serde(skip)]
    pub at_s: i64,
    /// Its job id.
    pub job_id: String,
}

/// An entry past its `alert_after` without a success, as `/health` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleEntry {
    /// Entry id.
    pub entry: String,
    /// Its name or place and command.
    pub label: String,
    /// Its last success, if this daemon knows one.
    pub last_success: Option<String>,
    /// Its `alert_after`, in seconds.
    pub alert_after_s: u64,
}

/// Watched runs and last successes, per entry id. Written by the scheduler (watch) and its
/// poll (record); read by the API, `/health` and `/metrics`. Std mutexes, never held across
/// an await.
#[derive(Debug, Default)]
pub struct Successes {
    last: Mutex<HashMap<String, LastSuccess>>,
    /// Entry → its latest run not known finished.
    watching: Mutex<HashMap<String, Watched>>,
    /// Entry → Unix seconds this daemon first planned it.
    first_seen: Mutex<HashMap<String, i64>>,
    /// Failure notifications (`notify`), told each outcome seen here.
    pub notifier: super::super::notify::Notifier,
    /// Each entry's latest check-in and what became of it (`cron::checkin_state`).
    pub checkins: super::super::checkin_state::CheckIns,
}

/// A run being watched.
#[derive(Debug, Clone)]
struct Watched {
    queue: String,
    id: String,
    /// The entry's check-in URL, if any (`cron::checkin`).
    ping: Option<String>,
    /// Its start was checked in.
    started: bool,
    /// The entry's cron text and zone, for Sentry Crons (`cron::sentry_checkin`).
    schedule: (String, String),
}

impl Successes {
    /// Watches run `job_id` of `queue` as `entry`'s latest; `ping` is told of its start and
    /// end (see `cron::checkin`).
    pub fn watch(&self, entry: &str, queue: &str, job_id: &str, ping: Option<(&str, &Entry)>) {
        let w = Watched {
            queue: queue.into(),
            id: job_id.into(),
            ping: ping.map(|p| p.0.to_string()),
            started: false,
            schedule: ping.map_or_else(Default::default, |(_, e)| {
                (e.schedule.to_string(), e.tz.name().to_string())
            }),
        };
        lock(&self.watching).insert(entry.into(), w);
    }

    /// Notes `entry` as planned at `now_s` unless seen before.
    pub fn seen(&self, entry: &str, now_s: i64) {
        lock(&self.first_seen).entry(entry.into()).or_insert(now_s);
    }

    /// When this daemon first planned `entry`.
    pub fn first_seen(&self, entry: &str) -> Option<i64> {
        lock(&self.first_seen).get(entry).copied()
    }

    /// `entry`'s run `job_id` completed at `at_s`: its last success unless a later one is known.
    pub fn record(&self, entry: &str, at_s: i64, job_id: &str) {
        let mut last = lock(&self.last);
        if last.get(entry).is_some_and(|l| l.at_s >= at_s) {
            return;
        }
        let at = DateTime::from_timestamp(at_s, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        last.insert(
            entry.into(),
            LastSuccess {
                at,
                at_s,
                job_id: job_id.into(),
            },
        );
    }

    /// `entry`'s last success.
    pub fn get(&self, entry: &str) -> Option<LastSuccess> {
        lock(&self.last).get(entry).cloned()
    }

    /// Every known last success (entry id → it), for `/metrics`.
    pub fn all(&self) -> HashMap<String, LastSuccess> {
        lock(&self.last).clone()
    }

    /// Looks at each watched run once: a completed one is recorded; any finished or gone one
    /// is no longer watched.
    pub async fn poll(&self, store: &Store) {
        let watched: Vec<(String, Watched)> = lock(&self.watching)
            .iter()
            .map(|(e, w)| (e.clone(), w.clone()))
            .collect();
        for (entry, w) in watched {
            let Ok(Ok(job)) =
                tokio::time::timeout(Duration::from_secs(2), store.job(&w.queue, &w.id)).await
            else {
                continue; // the store did not answer: ask again next poll
            };
            let state = job.as_ref().and_then(|j| j.state);
            let ping = w.ping.as_deref();
            match state {
                Some(JobState::Active) if !w.started => {
                    if let Some(url) = ping {
                        self.ping_run(&entry, url, &w, checkin::Event::Start, None);
                    }
                    if let Some(x) = lock(&self.watching).get_mut(&entry) {
                        if x.id == w.id {
                            x.started = true;
                        }
                    }
                }
                Some(JobState::Completed) => {
                    let now_ms = Utc::now().timestamp_millis();
                    let finished = job.as_ref().and_then(|j| j.finished_on);
                    let at_ms = finished.map_or(now_ms, |f| f as i64);
                    self.record(&entry, at_ms / 1000, &w.id);
                    let out = RunOutput::of(job.as_ref());
                    self.notifier.outcome(&entry, &w.id, false, &out);
                    if let Some(url) = ping {
                        self.ping_run(&entry, url, &w, checkin::Event::Success, None);
                    }
                }
                Some(JobState::Failed) => {
                    let out = RunOutput::of(job.as_ref());
                    self.notifier.outcome(&entry, &w.id, true, &out);
                    if let Some(url) = ping {
                        let body = out.fail_body();
                        self.ping_run(&entry, url, &w, checkin::Event::Fail, Some(body));
                    }
                }
                _ => {}
            }
            // Gone, or finished; a state the store cannot name is watched a little longer.
            let done = job.is_none() || state.is_some_and(|s| !s.is_unfinished());
            if done {
                let mut watching = lock(&self.watching);
                if watching.get(&entry).is_some_and(|x| x.id == w.id) {
                    watching.remove(&entry);
                }
            }
        }
    }

    /// Checks run `w` of `entry` in with `url`: Sentry Crons or an HTTP check-in service.
    fn ping_run(
        &self,
        entry: &str,
        url: &str,
        w: &Watched,
        event: checkin::Event,
        body: Option<String>,
    ) {
        let run = (entry, w.id.as_str());
        if sentry_checkin::is_sentry(url) {
            let (schedule, tz) = &w.schedule;
            sentry_checkin::send(&self.checkins, run, url, (schedule, tz), event);
        } else {
            checkin::send(&self.checkins, run, url, event, body);
        }
    }

    /// The entries of `plan` past their `alert_after` at `now_s` without a success.
    pub fn stale(&self, plan: &Plan, now_s: i64) -> Vec<StaleEntry> {
        plan.entries
            .iter()
            .filter_map(|e| {
                let after = e.policy.alert_after?;
                let last = self.get(&e.id);
                let since = last
                    .as_ref()
                    .map(|l| l.at_s)
                    .or_else(|| self.first_seen(&e.id))?;
                is_stale(now_s, since, after).then(|| StaleEntry {
                    entry: e.id.clone(),
                    label: e.label.clone(),
                    last_success: last.map(|l| l.at),
                    alert_after_s: after.as_secs(),
                })
            })
            .collect()
    }
}

/// Stale: more than `after` since `since` (the last success, else first seen).
pub fn is_stale(now_s: i64, since_s: i64, after: Duration) -> bool {
    now_s.saturating_sub(since_s) > after.as_secs() as i64
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cron_policy::PolicySettings;

    #[test]
    fn an_entry_goes_stale_past_alert_after_without_success_and_recovers_with_one() {
        let mut e = crate::cron::plan::tests::test_entry("backup", "0 3 * * *");
        e.policy = PolicySettings {
            alert_after: Some(Duration::from_secs(3600)),
            ..PolicySettings::default()
        }
        .resolve();
        let quiet = crate::cron::plan::tests::test_entry("quiet", "0 3 * * *");
        let plan = Plan {
            entries: vec![e, quiet],
        };
        let s = Successes::default();
        let t0 = 1_800_000_000;
        assert!(s.stale(&plan, t0).is_empty(), "never seen: not judged");
        s.seen("backup", t0);
        s.seen("quiet", t0);
        s.seen("backup", t0 + 10); // a later sighting keeps the first
        assert!(
            s.stale(&plan, t0 + 3600).is_empty(),
            "exactly alert_after: not yet"
        );
        let stale = s.stale(&plan, t0 + 3601);
        assert_eq!(stale.len(), 1, "only the entry with alert_after");
        assert_eq!(
            (stale[0].entry.as_str(), stale[0].last_success.as_deref()),
            ("backup", None)
        );
        s.record("backup", t0 + 3000, "cron-backup-1");
        assert!(s.stale(&plan, t0 + 3601).is_empty(), "a success resets it");
        s.record("backup", t0 + 100, "older");
        assert_eq!(
            s.get("backup").unwrap().job_id,
            "cron-backup-1",
            "an older one never wins"
        );
        let stale = s.stale(&plan, t0 + 3000 + 3601);
        assert_eq!(
            stale[0].last_success.as_deref(),
            Some("2027-01-15T08:50:00Z")
        );
    }
}
