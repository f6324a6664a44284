//! `[cron]` and the job fields of command `[[schedule]]` tables.

use std::num::NonZeroUsize;

use super::{job_fields, nonzero, Source};
use crate::config::cron::{CronConfig, EntryTable, DEFAULT_CRON_CONCURRENCY};
use crate::config::raw::{RawCron, RawHandler, RawQueue};
use crate::config::{Error, JobDefaults};

/// `[cron]` over `defaults` (`[defaults]`): attempts default to 1 whatever `[defaults]`
/// says (a crontab line runs once per tick); backoff and retention fall back to `[defaults]`.
/// `queues` is the raw `[queues]`: a concurrency set on the cron queue's table still counts.
pub(super) fn cron(
    raw: Option<&RawCron>,
    queues: &std::collections::BTreeMap<String, RawQueue>,
    defaults: &JobDefaults,
    src: &Source,
) -> Result<CronConfig, Error> {
    let base = CronConfig::default();
    let mut base_job = defaults.clone();
    base_job.options.attempts = 1;
    let Some(raw) = raw else {
        return Ok(CronConfig {
            concurrency: queue_concurrency(&base.queue, queues, src)?.unwrap_or(base.concurrency),
            runs: base_job.options,
            ..base
        });
    };
    let queue = raw.queue.clone().unwrap_or(base.queue);
    crate::rules::validate_queue_name(&queue)
        .map_err(|m| super::invalid(src.place("cron", "queue"), m))?;
    let concurrency = match raw.concurrency {
        Some(c) => nonzero(c, &src.place("cron", "concurrency"))?,
        None => queue_concurrency(&queue, queues, src)?
            .unwrap_or(NonZeroUsize::new(DEFAULT_CRON_CONCURRENCY).unwrap_or(NonZeroUsize::MIN)),
    };
    let as_handler = RawHandler {
        attempts: raw.attempts,
        backoff: raw.backoff.clone(),
        remove_on_complete: raw.remove_on_complete.clone(),
        remove_on_fail: raw.remove_on_fail.clone(),
        ..RawHandler::default()
    };
    let job = job_fields(&as_handler, &base_job, src, "cron")?;
    let policy = super::policy::policy(&raw.policy(), |k| src.place("cron", k))?;
    let mut entries = Vec::new();
    for (key, table) in raw.entries.iter().flatten() {
        let header = format!("cron.entries.\"{key}\"");
        entries.push(EntryTable {
            key: key.clone(),
            place: header_place(src, &header),
            policy: super::policy::policy(table, |k| src.place(&header, k))?,
        });
    }
    Ok(CronConfig {
        stale_fails_health: raw.stale_fails_health.unwrap_or(false),
        policy,
        entries,
        queue,
        concurrency,
        runs: job.options,
        when_store_down: raw.when_store_down.unwrap_or_default(),
    })
}

/// `FILE:LINE: [TABLE]` at the table's header (its keys name their own lines).
fn header_place(src: &Source, table: &str) -> String {
    let header = format!("[{table}]");
    let line = src
        .text
        .lines()
        .position(|l| l.trim() == header)
        .map_or(1, |i| i + 1);
    if src.path.is_empty() {
        header
    } else {
        format!("{}:{line}: {header}", src.path)
    }
}

/// `[queues.<queue>] concurrency`, when written.
fn queue_concurrency(
    queue: &str,
    queues: &std::collections::BTreeMap<String, RawQueue>,
    src: &Source,
) -> Result<Option<NonZeroUsize>, Error> {
    queues
        .get(queue)
        .and_then(|q| q.concurrency)
        .map(|c| nonzero(c, &src.place(&format!("queues.{queue}"), "concurrency")))
        .transpose()
}

#[cfg(test)]
mod when_store_down_tests {
    use super::super::tests::load_text;
    use crate::config::cron::WhenStoreDown;
    use crate::config::Overrides;

    #[test]
    fn runs_by_default_skips_when_set_and_names_the_place_of_a_bad_value() {
        let load = |text: &str| load_text(text, &[], Overrides::default());
        let c = load("").unwrap();
        assert_eq!(c.cron.when_store_down, WhenStoreDown::Run);
        let c = load("[cron]\nwhen_store_down = \"skip\"\n").unwrap();
        assert_eq!(c.cron.when_store_down, WhenStoreDown::Skip);
        let c = load("[cron]\nwhen_store_down = \"run_if_alone\"\n").unwrap();
        assert_eq!(c.cron.when_store_down, WhenStoreDown::RunIfAlone);
        let err = load("[cron]\nwhen_store_down = \"sometimes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains(":2"), "{err}");
        assert!(err.contains("`run`") && err.contains("`skip`"), "{err}");
    }
}
