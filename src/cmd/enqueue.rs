//! `worker enqueue QUEUE NAME [--data JSON] …`: add one job, print its id. Unset options take
//! the handler's settings from the config (then `[defaults]`), as jobs from the scheduler do.

use std::process::ExitCode;

use super::Env;
use crate::cli::{DaemonArgs, EnqueueArgs};
use std::collections::BTreeMap;

use crate::queue::{
    parse_millis_or_duration, Backoff, JobOverrides, JobSpec, Layout, Store, StoreTarget,
};

/// Adds the job; `env` looks up the environment (for the config).
pub async fn enqueue(
    args: EnqueueArgs,
    daemon: &DaemonArgs,
    env: Env<'_>,
) -> anyhow::Result<ExitCode> {
    let config = match super::open::load_config(daemon, env) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let spec = match spec(&args, &config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let store = match super::open::open_store(&config).await? {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let store = match layout_checked(store, &args.queue, &config).await? {
        Ok(store) => store,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let id = store.add(&args.queue, spec).await?;
    println!("{id}");
    if let StoreTarget::Embedded(path) = &config.store {
        tell_where(path);
    }
    Ok(ExitCode::SUCCESS)
}

/// The store to add to `queue` through, in the layout its keys show. A queue the config does not
/// name is BullMQ's by default; when its keys are Bull 3/4's, the job is added in Bull's layout
/// (the producers and workers there read nothing else) and a note says how to make that
/// explicit. A queue the config names with one layout whose keys show the other is refused,
/// naming the setting: writing either layout there would leave the job unread by someone.
async fn layout_checked(
    store: Store,
    queue: &str,
    config: &crate::config::Config,
) -> anyhow::Result<Result<Store, String>> {
    let Some(seen) = store.layout_seen(queue).await? else {
        return Ok(Ok(store));
    };
    match config.queues.get(queue).map(|q| q.layout) {
        Some(configured) => Ok(
            match crate::queue::bull::mismatch_message(queue, configured, seen) {
                Some(m) => Err(format!("{m}; nothing was added")),
                None => Ok(store),
            },
        ),
        None if seen == Layout::BullMq => Ok(Ok(store)),
        None => {
            eprintln!(
                "note: queue {queue}'s Redis keys are in Bull 3/4's layout, so the job is added in that layout; \
                 set [queues.{queue}] layout = \"bull\" in the config to say so"
            );
            let layouts = BTreeMap::from([(queue.to_string(), seen)]);
            Ok(Ok(Store::open_with(
                &config.store,
                &config.prefix,
                &layouts,
            )
            .await?))
        }
    }
}

/// After an add to the embedded store: where it went, and whether a daemon will see it.
fn tell_where(path: &std::path::Path) {
    let at = super::open::absolute(path);
    eprintln!("added to the embedded store {}", at.display());
    if crate::queue::embedded::daemon_holds(path) == Some(false) {
        eprintln!(
            "warning: no worker daemon is running on {}: the job waits until one starts on this file \
             (start it from this directory, or set CRONQ_DATA to its file)",
            at.display()
        );
    }
}

fn spec(args: &EnqueueArgs, config: &crate::config::Config) -> Result<JobSpec, String> {
    crate::rules::validate_queue_name(&args.queue)?;
    let data: serde_json::Value = serde_json::from_str(&args.data).map_err(|e| {
        format!("--data is not valid JSON ({e}): e.g. --data '{{\"to\":\"a@b.c\"}}'")
    })?;
    let overrides = JobOverrides {
        job_id: args.job_id.clone(),
        delay: args
            .delay
            .as_deref()
            .map(parse_millis_or_duration)
            .transpose()
            .map_err(|e| format!("--delay: {e}"))?,
        priority: args.priority,
        attempts: args.attempts,
        backoff: args
            .backoff
            .as_deref()
            .map(Backoff::parse)
            .transpose()
            .map_err(|e| format!("--backoff: {e}"))?,
    };
    let defaults = &config.job_settings(&args.queue, &args.name).options;
    let spec = JobSpec::for_handler(&args.name, data, defaults, overrides);
    // The store checks it again in `add`; checking before opening it answers a bad flag
    // with exit 2 and the flag's name, as for the other flags.
    let spec = spec.validate().map_err(|e| {
        let arg = match e.field {
            "name" => "NAME".to_string(),
            "jobId" => "--job-id".to_string(),
            other => format!("--{other}"),
        };
        format!("{arg}: {}", e.reason)
    })?;
    Ok(spec.into_spec())
}
