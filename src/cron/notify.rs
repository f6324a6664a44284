//! Failure notifications (`notify = "URL"` per entry, default `[cron] notify`): one JSON
//! document POSTed on an entry's final failure and on its first success after failures, with a
//! Slack-compatible `text` (a Slack or Mattermost incoming webhook takes it as it is), the
//! entry, schedule, job id, attempts, reason, exit code, last output lines
//! ([`super::run_output`]) and the dashboard's link to the entry (`/#/schedules/ID`, made a
//! full URL, also ending the Slack `text`, when `[http] public_url` is set:
//! [`crate::config::public_url`]). Failures are
//! rate-limited per entry ([`MIN_GAP`]): a per-second entry that keeps failing sends one a
//! minute, not sixty; the recovery is always sent. Sent like check-ins ([`super::checkin`]):
//! from the scheduler's watch of its runs, off the job's path, 3 attempts, URL redacted in logs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::plan::Plan;
use super::run_output::RunOutput;

/// Least time between two failure notifications of one entry.
pub const MIN_GAP: Duration = Duration::from_secs(60);

/// What a notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A run failed for good.
    Failed,
    /// A run succeeded after failures.
    Recovered,
}

#[derive(Debug, Clone)]
struct Target {
    url: String,
    label: String,
    schedule: String,
}

#[derive(Debug, Default, Clone, Copy)]
struct EntryState {
    failing: bool,
    last_failure_sent_ms: Option<i64>,
}

/// Per entry: where to notify, and whether it is failing. Std mutexes, never held across an
/// await. Written by the scheduler (targets at each plan) and its watch poll (outcomes).
#[derive(Debug, Default)]
pub struct Notifier {
    targets: Mutex<HashMap<String, Target>>,
    states: Mutex<HashMap<String, EntryState>>,
    /// The dashboard's public address (`[http] public_url`), if set.
    public_url: Mutex<Option<String>>,
}

impl Notifier {
    /// The entries of `plan` with `notify`; `public_url` (validated, no trailing slash) makes
    /// the links full URLs.
    pub fn set_targets(&self, plan: &Plan, public_url: Option<&str>) {
        *self.public_url.lock().unwrap_or_else(|p| p.into_inner()) = public_url.map(Into::into);
        let targets = plan
            .entries
            .iter()
            .filter_map(|e| {
                let url = e.policy.notify.clone()?;
                Some((
                    e.id.clone(),
                    Target {
                        url,
                        label: e.label.clone(),
                        schedule: e.schedule.to_string(),
                    },
                ))
            })
            .collect();
        *self.targets.lock().unwrap_or_else(|p| p.into_inner()) = targets;
    }

    /// Whether an outcome of `entry` at `now_ms` is to be sent, updating its state.
    pub fn decide(&self, entry: &str, failed: bool, now_ms: i64) -> Option<Kind> {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let s = states.entry(entry.to_string()).or_default();
        if failed {
            s.failing = true;
            let due = s
                .last_failure_sent_ms
                .is_none_or(|t| now_ms - t >= MIN_GAP.as_millis() as i64);
            if due {
                s.last_failure_sent_ms = Some(now_ms);
                return Some(Kind::Failed);
            }
            return None;
        }
        if std::mem::take(&mut s.failing) {
            s.last_failure_sent_ms = None;
            return Some(Kind::Recovered);
        }
        None
    }

    /// Notes run `job_id` of `entry` as `failed` or completed (`out`: what it left), and
    /// sends what [`Notifier::decide`] says.
    pub fn outcome(&self, entry: &str, job_id: &str, failed: bool, out: &RunOutput) {
        let target = self
            .targets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(entry)
            .cloned();
        let Some(t) = target else { return };
        let now_ms = chrono::Utc::now().timestamp_millis();
        let Some(kind) = self.decide(entry, failed, now_ms) else {
            return;
        };
        let base = self
            .public_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let doc = document(entry, &t, (job_id, base.as_deref()), kind, out);
        super::checkin::post_json(entry, &t.url, doc);
    }
}

/// The JSON posted. `exit_code` is null unless the handler reported one; `last_output` is the
/// end of the run's log (also for a recovery: what the good run printed); `dashboard` the
/// entry's address on the dashboard, full when `base` (the public URL) is known.
fn document(
    entry: &str,
    t: &Target,
    (job_id, base): (&str, Option<&str>),
    kind: Kind,
    out: &RunOutput,
) -> serde_json::Value {
    let failed = kind == Kind::Failed;
    let link = crate::config::public_url::entry_link(base, entry);
    let (event, mut text) = if failed {
        let reason = out.reason.as_deref().unwrap_or("no reason given");
        let attempts = out.attempts;
        (
            "failed",
            format!(
                ":red_circle: {} ({}) failed after {attempts} attempt(s): {reason} (job {job_id})",
                t.label, t.schedule
            ),
        )
    } else {
        (
            "recovered",
            format!(
                ":large_green_circle: {} ({}) succeeded again (job {job_id})",
                t.label, t.schedule
            ),
        )
    };
    // A bare path means nothing in a chat room: only a full URL is added to the text (Slack and
    // Mattermost turn it into a link).
    if base.is_some() {
        text.push_str(" — ");
        text.push_str(&link);
    }
    serde_json::json!({
        "text": text,
        "event": event,
        "entry": entry,
        "label": t.label,
        "schedule": t.schedule,
        "job_id": job_id,
        "attempts": failed.then_some(out.attempts),
        "reason": if failed { out.reason.as_deref() } else { None },
        "exit_code": if failed { out.exit_code } else { None },
        "last_output": out.last_output,
        "dashboard": link,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_the_entry_on_the_dashboard_full_when_the_public_url_is_known() {
        let t = Target {
            url: "http://hook".into(),
            label: "backup".into(),
            schedule: "0 3 * * *".into(),
        };
        let out = RunOutput::default();
        let full = document(
            "backup",
            &t,
            ("cron-backup-1", Some("https://cron.example.com")),
            Kind::Failed,
            &out,
        );
        let link = "https://cron.example.com/#/schedules/backup";
        assert_eq!(full["dashboard"], link);
        assert!(full["text"].as_str().unwrap().ends_with(link), "{full}");
        let bare = document("backup", &t, ("cron-backup-1", None), Kind::Recovered, &out);
        assert_eq!(bare["dashboard"], "/#/schedules/backup");
        assert!(!bare["text"].as_str().unwrap().contains("/#/"), "{bare}");
    }

    #[test]
    fn failures_are_rate_limited_per_entry_and_the_recovery_is_always_sent() {
        let n = Notifier::default();
        let t0 = 1_800_000_000_000;
        assert_eq!(n.decide("a", true, t0), Some(Kind::Failed));
        assert_eq!(n.decide("a", true, t0 + 1000), None, "within a minute");
        assert_eq!(
            n.decide("b", true, t0 + 1000),
            Some(Kind::Failed),
            "per entry"
        );
        assert_eq!(n.decide("a", true, t0 + 60_000), Some(Kind::Failed));
        assert_eq!(n.decide("a", false, t0 + 61_000), Some(Kind::Recovered));
        assert_eq!(
            n.decide("a", false, t0 + 62_000),
            None,
            "only the first success"
        );
        assert_eq!(
            n.decide("a", true, t0 + 63_000),
            Some(Kind::Failed),
            "a new failure streak"
        );
    }
}
