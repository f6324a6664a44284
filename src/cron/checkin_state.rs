//! Each entry's latest check-in as this daemon sent it (`GET /api/schedules` → `checkin`, the
//! dashboard's schedules table): when, which event, to which service, and what became of it
//! (sending, delivered, failed after the retries with the HTTP status or error, or queued to
//! the Sentry client). Written by the check-in senders ([`super::checkin::send`],
//! [`super::sentry_checkin::send`]) as they start and finish; read by the API.
//!
//! Memory only, per daemon: every replica that watches a run sends its own check-ins
//! ([`super::checkin`]), so each one's view is its own deliveries; the row says whose
//! (`seen_by`, the daemon's worker id). A restart forgets it until the next run checks in:
//! the service itself holds the history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use serde::Serialize;

/// What happened to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// It started.
    Start,
    /// It completed.
    Success,
    /// It failed for good.
    Fail,
}

/// Where check-ins of an entry go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = CheckinService)]
pub enum Service {
    /// healthchecks.io or a compatible service (`URL/start`, `URL`, `URL/fail`).
    Healthchecks,
    /// Cronitor (`?state=run|complete|fail`).
    Cronitor,
    /// Sentry Crons, through the daemon's Sentry client.
    Sentry,
}

/// What became of a check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = CheckinOutcome)]
pub enum Outcome {
    /// Still being tried (up to 3 attempts, 1 s then 2 s apart).
    Sending,
    /// The service answered 2xx.
    Delivered,
    /// Every attempt failed (see `status` / `error`), or it could not be sent at all.
    Failed,
    /// Handed to the Sentry client, which sends it from its own thread and reports nothing
    /// back: Sentry's monitor page tells whether it arrived.
    Queued,
}

/// An entry's latest check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CheckinState {
    /// When it was sent (its first attempt), RFC 3339 UTC.
    pub at: String,
    /// `start`, `success` or `fail`.
    pub kind: &'static str,
    /// `healthchecks`, `cronitor` or `sentry`.
    pub service: Service,
    /// `sending`, `delivered`, `failed` or `queued`.
    pub outcome: Outcome,
    /// The last HTTP status the service answered, if it answered.
    pub status: Option<u16>,
    /// Why the last attempt failed (`HTTP 500`, a connection error, no Sentry client).
    pub error: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// The check-in URL with its secret part (path, query) hidden; `sentry` or `sentry:SLUG`.
    pub url: String,
    /// The run it was about.
    pub job_id: String,
    /// The daemon whose deliveries these are (its worker id): set by the API.
    pub seen_by: Option<String>,
}

/// The word of `event` in [`CheckinState::kind`].
pub fn kind_of(event: Event) -> &'static str {
    match event {
        Event::Start => "start",
        Event::Success => "success",
        Event::Fail => "fail",
    }
}

#[derive(Debug)]
struct Slot {
    /// Which check-in this is, so a slow older one never overwrites a newer one's state.
    seq: u64,
    state: CheckinState,
}

/// Entry id → its latest check-in. Cloned into each sending task (an `Arc` inside): the
/// senders hold it while they retry, the API reads it. A std mutex, never held across an await.
#[derive(Debug, Default, Clone)]
pub struct CheckIns {
    inner: Arc<Mutex<(u64, HashMap<String, Slot>)>>,
}

/// One check-in being sent: its sender reports each attempt through it.
#[derive(Debug)]
pub struct Ticket {
    to: CheckIns,
    entry: String,
    seq: u64,
}

impl CheckIns {
    /// Notes that `event` of run `job_id` of `entry` is being sent to `service` at `url`
    /// (already redacted) now; its sender reports through the ticket.
    pub fn begin(
        &self,
        entry: &str,
        event: Event,
        service: Service,
        url: String,
        job_id: &str,
    ) -> Ticket {
        let state = CheckinState {
            at: Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            kind: kind_of(event),
            service,
            outcome: Outcome::Sending,
            status: None,
            error: None,
            attempts: 0,
            url,
            job_id: job_id.into(),
            seen_by: None,
        };
        let mut g = self.lock();
        g.0 += 1;
        let seq = g.0;
        g.1.insert(entry.into(), Slot { seq, state });
        Ticket {
            to: self.clone(),
            entry: entry.into(),
            seq,
        }
    }

    /// `entry`'s latest check-in, if this daemon sent one.
    pub fn get(&self, entry: &str) -> Option<CheckinState> {
        self.lock().1.get(entry).map(|s| s.state.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, HashMap<String, Slot>)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Ticket {
    /// Records attempt `attempts`: `status` the service's answer if any, `error` why it was not
    /// a success; `outcome` where it stands now. Ignored once a newer check-in of the entry began.
    pub fn report(
        &self,
        outcome: Outcome,
        attempts: u32,
        status: Option<u16>,
        error: Option<String>,
    ) {
        let mut g = self.to.lock();
        if let Some(slot) = g.1.get_mut(&self.entry).filter(|s| s.seq == self.seq) {
            let s = &mut slot.state;
            (s.outcome, s.attempts, s.status, s.error) = (outcome, attempts, status, error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_check_in_wins_even_when_an_older_one_finishes_later() {
        let c = CheckIns::default();
        let url = || "https://hc-ping.com/…".to_string();
        let start = c.begin("e", Event::Start, Service::Healthchecks, url(), "cron-e-1");
        let end = c.begin(
            "e",
            Event::Success,
            Service::Healthchecks,
            url(),
            "cron-e-1",
        );
        end.report(Outcome::Delivered, 1, Some(200), None);
        // The start's retries end after the success was delivered: the success stays shown.
        start.report(Outcome::Failed, 3, Some(500), Some("HTTP 500".into()));
        let s = c.get("e").unwrap();
        assert_eq!(
            (s.kind, s.outcome, s.status),
            ("success", Outcome::Delivered, Some(200))
        );
        assert!(c.get("other").is_none());
        let fail = c.begin("e", Event::Fail, Service::Cronitor, url(), "cron-e-2");
        assert_eq!(c.get("e").unwrap().outcome, Outcome::Sending);
        fail.report(Outcome::Failed, 3, None, Some("connection refused".into()));
        let s = c.get("e").unwrap();
        assert_eq!(
            (s.kind, s.attempts, s.job_id.as_str()),
            ("fail", 3, "cron-e-2")
        );
        assert_eq!(s.error.as_deref(), Some("connection refused"));
    }
}
