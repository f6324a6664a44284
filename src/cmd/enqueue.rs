//! `worker enqueue QUEUE NAME [--data JSON] …`: add one job, print its id. Unset options take
//! the handler's settings from the config (then `[defaults]`), as jobs from the scheduler do.

use std::process::ExitCode;

use crate::cli::{DaemonArgs, EnqueueArgs};
use crate::queue::{parse_millis_or_duration, Backoff, JobSpec, Store};

/// Adds the job; `env` looks up the environment (for the config).
pub async fn enqueue(
    args: EnqueueArgs,
    daemon: &DaemonArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<ExitCode> {
    let config = match crate::config::load_text(env, &daemon.overrides()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let spec = match spec(&args, &config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let store = match Store::open(&config.store, &config.prefix).await {
        Ok(store) => store,
        // Refused credentials or an unusable URL: a configuration error, like a bad flag.
        Err(e) if e.is_config() => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let id = store.add(&args.queue, spec).await?;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}

fn spec(args: &EnqueueArgs, config: &crate::config::Config) -> Result<JobSpec, String> {
    crate::queue::validate_queue_name(&args.queue)?;
    let data: serde_json::Value = serde_json::from_str(&args.data).map_err(|e| {
        format!("--data is not valid JSON ({e}): e.g. --data '{{\"to\":\"a@b.c\"}}'")
    })?;
    let settings = config.job_settings(&args.queue, &args.name);
    let mut spec = JobSpec::new(&args.name, data);
    spec.job_id = args.job_id.clone();
    spec.delay = args
        .delay
        .as_deref()
        .map(parse_millis_or_duration)
        .transpose()
        .map_err(|e| format!("--delay: {e}"))?;
    spec.priority = args.priority;
    spec.attempts = Some(args.attempts.unwrap_or(settings.attempts));
    spec.backoff = Some(match &args.backoff {
        Some(b) => Backoff::parse(b).map_err(|e| format!("--backoff: {e}"))?,
        None => settings.backoff,
    });
    spec.remove_on_complete = settings.remove_on_complete;
    spec.remove_on_fail = settings.remove_on_fail;
    Ok(spec)
}
