//! `worker enqueue QUEUE NAME [--data JSON] …`: add one job, print its id. Unset options take
//! the handler's settings from the config (then `[defaults]`), as jobs from the scheduler do.

use std::process::ExitCode;

use crate::cli::{DaemonArgs, EnqueueArgs};
use crate::queue::{parse_millis_or_duration, Backoff, JobOverrides, JobSpec, Store};

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
    let store = match Store::open_with(&config.store, &config.prefix, &config.layouts()).await {
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
    let defaults = config.job_settings(&args.queue, &args.name).into();
    let spec = JobSpec::for_handler(&args.name, data, &defaults, overrides);
    // The store checks it again in `add`; checking before opening it answers a bad flag
    // with exit 2 and the flag's name, as for the other flags.
    spec.validate().map_err(|e| {
        let arg = match e.field {
            "name" => "NAME".to_string(),
            "jobId" => "--job-id".to_string(),
            other => format!("--{other}"),
        };
        format!("{arg}: {}", e.reason)
    })?;
    Ok(spec)
}
