//! Check-ins (`ping = "URL"` per entry, default `[cron] ping`): a dead-man's-switch service is
//! told when a run starts, succeeds or fails, off the job's path — sent from the scheduler's
//! watch of its runs ([`super::scheduler::success`]), by a task of its own, with bounded
//! retries; a check-in never delays or fails the job. Two HTTP protocols, chosen by the URL
//! (Sentry Crons, `ping = "sentry"`, goes through [`super::sentry_checkin`] instead):
//! - Cronitor (`cronitor.link` / `cronitor.io`): `URL?state=run|complete|fail`.
//! - healthchecks.io and compatible (any other URL): `URL/start`, `URL`, `URL/fail`, the fail
//!   carrying the run's failure reason and last output lines as its body
//!   ([`super::run_output::RunOutput::fail_body`]).
//!
//! The URL's path and query hold the secret (a UUID, a key): logs show scheme and host only.
//! Limits: a run that starts and ends between two watch polls (2 s) sends no start; every
//! replica that added a tick watches its run, so replicas may each send (both services take
//! repeated check-ins).

use std::sync::LazyLock;
use std::time::Duration;

// `Event` lives with the state it is recorded in (a leaf both senders import: no circle).
pub use super::checkin_state::Event;
use super::checkin_state::{CheckIns, Outcome, Service};

/// Attempts per check-in.
pub const ATTEMPTS: u32 = 3;

/// Each attempt's timeout.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Longest body sent with a failure.
const MAX_BODY: usize = 10_000;

/// Which service check-in URL `base` names (Sentry Crons is `ping = "sentry"`, not a URL).
pub fn service_of(base: &str) -> Service {
    if super::sentry_checkin::is_sentry(base) {
        return Service::Sentry;
    }
    let cronitor = reqwest::Url::parse(base).ok().is_some_and(|u| {
        u.host_str()
            .is_some_and(|h| h.ends_with("cronitor.link") || h.ends_with("cronitor.io"))
    });
    if cronitor {
        Service::Cronitor
    } else {
        Service::Healthchecks
    }
}

/// The request URL of `event` for check-in URL `base`.
pub fn url_for(base: &str, event: Event) -> String {
    if service_of(base) == Service::Cronitor {
        let state = match event {
            Event::Start => "run",
            Event::Success => "complete",
            Event::Fail => "fail",
        };
        let sep = if base.contains('?') { '&' } else { '?' };
        return format!("{base}{sep}state={state}");
    }
    let base = base.trim_end_matches('/');
    match event {
        Event::Start => format!("{base}/start"),
        Event::Success => base.to_string(),
        Event::Fail => format!("{base}/fail"),
    }
}

/// `URL` with its secret parts (path, query) hidden, for logs.
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("?")),
        Err(_) => "(invalid URL)".into(),
    }
}

static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .unwrap_or_default()
});

/// Sends `event` of run `job_id` of `entry` to `base` from a task of its own: up to
/// [`ATTEMPTS`] tries, 1 s then 2 s apart; each attempt is recorded in `state` (the entry's
/// check-in state shown by the API), a final failure also logged (URL redacted), never returned.
pub fn send(
    state: &CheckIns,
    (entry, job_id): (&str, &str),
    base: &str,
    event: Event,
    body: Option<String>,
) {
    let (entry, url) = (entry.to_string(), url_for(base, event));
    let ticket = state.begin(&entry, event, service_of(base), redacted(base), job_id);
    let body: String = body.unwrap_or_default().chars().take(MAX_BODY).collect();
    tokio::spawn(async move {
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let status = match CLIENT.post(&url).body(body.clone()).send().await {
                Ok(r) if r.status().is_success() => {
                    let code = Some(r.status().as_u16());
                    return ticket.report(Outcome::Delivered, attempt, code, None);
                }
                Ok(r) => {
                    last = format!("HTTP {}", r.status().as_u16());
                    Some(r.status().as_u16())
                }
                Err(e) => {
                    last = e.without_url().to_string();
                    None
                }
            };
            let outcome = if attempt < ATTEMPTS {
                Outcome::Sending
            } else {
                Outcome::Failed
            };
            ticket.report(outcome, attempt, status, Some(last.clone()));
            if attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
        }
        tracing::warn!(entry_id = %entry, url = %redacted(&url), error = %last, attempts = ATTEMPTS, ?event, "check-in not delivered");
    });
}

/// POSTs `doc` as JSON to `url` for `entry` (notifications), retried like a check-in.
pub fn post_json(entry: &str, url: &str, doc: serde_json::Value) {
    let (entry, url) = (entry.to_string(), url.to_string());
    tokio::spawn(async move {
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match CLIENT.post(&url).json(&doc).send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
                Err(e) => last = e.without_url().to_string(),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
        }
        tracing::warn!(entry_id = %entry, url = %redacted(&url), error = %last, attempts = ATTEMPTS, "notification not delivered");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_and_the_redaction() {
        let hc = "https://hc-ping.com/1f2e-secret";
        assert_eq!(
            url_for(hc, Event::Start),
            "https://hc-ping.com/1f2e-secret/start"
        );
        assert_eq!(url_for(hc, Event::Success), hc);
        assert_eq!(
            url_for(hc, Event::Fail),
            "https://hc-ping.com/1f2e-secret/fail"
        );
        let cr = "https://cronitor.link/p/KEY/backup";
        assert_eq!(url_for(cr, Event::Start), format!("{cr}?state=run"));
        assert_eq!(url_for(cr, Event::Fail), format!("{cr}?state=fail"));
        assert_eq!(redacted(hc), "https://hc-ping.com/…");
        assert_eq!(service_of(hc), Service::Healthchecks);
        assert_eq!(service_of(cr), Service::Cronitor);
        assert_eq!(service_of("sentry:db"), Service::Sentry);
        assert!(!redacted(cr).contains("KEY"));
    }
}
