//! The two rules of a crontab queue's runs that are not a handler's business:
//! - **A job of an entry this daemon does not hold** (another service's crontab on the same
//!   Redis, or the other side of a rolling update that changed a line) is handed back, delayed
//!   by [`HANDBACK_DELAY`] (or [`UNCLAIMED_DELAY`]) with no attempt counted, while a live daemon vouches for that entry
//!   (`worker::claims`) or the tick is younger than [`UNCLAIMED_LIMIT`] (a pod that has the
//!   entry may be starting). Only then is it failed, with a reason that says why. Nothing is
//!   run twice: the daemon that holds the entry runs it once. A job whose data does not name
//!   its entry and tick, as every scheduler's does, is no crontab tick: it fails at once.
//! - **A run that did not start at its time** (cut off by shutdown and handed back to `wait`,
//!   or waiting while every daemon was down) starts only within its tick's window
//!   ([`crate::cron::window::RunWindow`]); past it, the tick counts as missed, as a tick the
//!   scheduler notices late does. Retries (attempt 2 and later) run late by design.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cron::window::RunWindow;
use crate::queue::{ActiveJob, Error, Outcome, Store};

/// How long a job handed back for a live holder waits before any daemon fetches it again.
/// Whichever daemon fetches it next is a matter of chance, so the tick runs late by a few of
/// these at worst; a bounce costs two small scripts, and it stops as soon as the holder runs it.
pub(super) const HANDBACK_DELAY: Duration = Duration::from_millis(250);

/// How long a job nobody vouches for (yet) waits: a pod that has its entry may be starting,
/// and until then nobody can run it, so it is asked about rarely.
pub(super) const UNCLAIMED_DELAY: Duration = Duration::from_secs(2);

/// How long a tick of an entry no live daemon vouches for is kept before it is failed.
pub(super) const UNCLAIMED_LIMIT: Duration = Duration::from_secs(60);

/// The tick a crontab job was added for (its data's `scheduled`), if it says.
pub(super) fn scheduled_of(data: &Result<serde_json::Value, String>) -> Option<DateTime<Utc>> {
    let text = data.as_ref().ok()?.get("scheduled")?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What to do with a job of an entry this daemon does not hold, `claimed` being whether a live
/// daemon vouches for it and `age` how long ago its tick was.
pub(super) fn unheld(
    queue: &str,
    entry: &str,
    claimed: Result<bool, Error>,
    age: Duration,
) -> Outcome {
    match claimed {
        Ok(true) => Outcome::Defer(HANDBACK_DELAY),
        // Unknown (the store hiccuped): never fail another service's job on a guess.
        Err(_) => Outcome::Defer(UNCLAIMED_DELAY),
        Ok(false) if age < UNCLAIMED_LIMIT => Outcome::Defer(UNCLAIMED_DELAY),
        Ok(false) => Outcome::Fail(format!(
            "no daemon runs crontab entry {entry:?} of queue {queue}: it is not in this \
             daemon's crontab, and no live daemon has vouched for it within {}s of its tick \
             (was the line removed or changed? give services sharing a Redis their own \
             [cron] queue)",
            UNCLAIMED_LIMIT.as_secs()
        )),
    }
}

/// The outcome for a job of an entry this daemon does not hold, asking `store` who does.
pub(super) async fn hand_back(
    store: &Store,
    job: &ActiveJob,
    data: &Result<serde_json::Value, String>,
) -> Outcome {
    // Only what a scheduler adds (data naming the entry and its tick) can belong to another
    // daemon's crontab; anything else on this queue (a hand-made or forged job) fails at once.
    let names_entry = data
        .as_ref()
        .is_ok_and(|d| d.get("entry").and_then(|e| e.as_str()) == Some(job.name.as_str()));
    let Some(since) = scheduled_of(data).filter(|_| names_entry) else {
        return Outcome::Fail(format!("no handler for {}/{}", job.queue, job.name));
    };
    let claimed = store.entry_claimed(&job.queue, &job.name).await;
    let age = (Utc::now() - since).to_std().unwrap_or_default();
    let outcome = unheld(&job.queue, &job.name, claimed, age);
    if let Outcome::Defer(_) = outcome {
        tracing::info!(queue = %job.queue, job_id = %job.id, entry_id = %job.name, age_s = age.as_secs(),
            "crontab entry not in this daemon's crontab: handed back for a daemon that has it");
    }
    outcome
}

/// `Some(reason)` when a first attempt starts past its tick's window.
pub(super) fn too_late(
    window: &RunWindow,
    job: &ActiveJob,
    data: &Result<serde_json::Value, String>,
    now: DateTime<Utc>,
) -> Option<String> {
    if job.attempt > 1 {
        return None;
    }
    let scheduled = scheduled_of(data)?;
    // A jittered run is ready later than its tick: its window starts when it is ready.
    let ready = DateTime::from_timestamp_millis(job.ready_ms).unwrap_or(scheduled);
    let closes = window.closes(scheduled.max(ready));
    (now > closes).then(|| {
        format!(
            "tick missed: too late to run (its tick {} was {}s ago, past its window; the \
             run had been cut off or was waiting while no daemon ran)",
            scheduled.to_rfc3339(),
            (now - scheduled).num_seconds()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unheld_entry_is_handed_back_until_nobody_vouches_for_a_minute() {
        let old = Duration::from_secs(3600);
        let soon = Outcome::Defer(HANDBACK_DELAY);
        assert_eq!(
            unheld("cron", "e", Ok(true), old),
            soon,
            "a holder is alive"
        );
        let defer = Outcome::Defer(UNCLAIMED_DELAY);
        let unknown = Err(Error::Engine {
            queue: "cron".into(),
            message: "down".into(),
        });
        assert_eq!(
            unheld("cron", "e", unknown, old),
            defer,
            "never fail on a guess"
        );
        let young = Duration::from_secs(5);
        assert_eq!(
            unheld("cron", "e", Ok(false), young),
            defer,
            "a pod may be starting"
        );
        let Outcome::Fail(reason) = unheld("cron", "e", Ok(false), UNCLAIMED_LIMIT) else {
            panic!("an entry nobody holds for a minute fails");
        };
        assert!(reason.contains("\"e\" of queue cron"), "{reason}");
        assert!(reason.contains("[cron] queue"), "{reason}");
    }

    #[test]
    fn scheduled_is_read_from_the_data() {
        let data = Ok(serde_json::json!({"scheduled": "2027-01-01T03:00:00+00:00"}));
        assert_eq!(
            scheduled_of(&data),
            Some("2027-01-01T03:00:00Z".parse().unwrap())
        );
        assert_eq!(scheduled_of(&Ok(serde_json::json!({}))), None);
        assert_eq!(scheduled_of(&Err("not JSON".into())), None);
    }
}
