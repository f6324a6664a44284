//! Operations from the command line: the same queue-room calls the API makes, printed as tables
//! for people or JSON for scripts. They talk to Redis directly, so they work with or without a
//! running daemon.

use std::io::Write;
use std::process::ExitCode;

use super::print::{print_json, table};
use super::Env;
use crate::cli::{Command, DaemonArgs};
use crate::config::Config;
use crate::cron::report;
use crate::queue::{JobOpError, JobWindow, Store};

/// Runs an operations subcommand, `env` looking up the environment (for the config); `None`
/// when `cmd` is not one.
pub async fn run(
    cmd: &Command,
    args: &DaemonArgs,
    env: Env<'_>,
) -> Option<anyhow::Result<ExitCode>> {
    let needs_store = matches!(
        cmd,
        Command::Status(_)
            | Command::Jobs { .. }
            | Command::Job { .. }
            | Command::Retry { .. }
            | Command::Remove { .. }
            | Command::Promote { .. }
            | Command::Cancel { .. }
            | Command::Pause { .. }
            | Command::Resume { .. }
            | Command::Clean { .. }
            | Command::Schedules { .. }
    );
    if !needs_store {
        return None;
    }
    Some(run_op(cmd, args, env).await)
}

/// The queue a command names, if any.
fn queue_of(cmd: &Command) -> Option<&str> {
    match cmd {
        Command::Jobs { queue, .. }
        | Command::Job { queue, .. }
        | Command::Retry { queue, .. }
        | Command::Remove { queue, .. }
        | Command::Promote { queue, .. }
        | Command::Cancel { queue, .. }
        | Command::Pause { queue }
        | Command::Resume { queue }
        | Command::Clean { queue, .. } => Some(queue),
        _ => None,
    }
}

async fn run_op(cmd: &Command, args: &DaemonArgs, env: Env<'_>) -> anyhow::Result<ExitCode> {
    let config = match super::open::load_config(args, env) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    // The same queue-name rule as the config, crontab and API, before any store is opened.
    if let Err(e) = queue_of(cmd).map_or(Ok(()), crate::rules::validate_queue_name) {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    let store = match super::open::open_store(&config).await? {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let result = match cmd {
        Command::Status(j) => super::status::status(&store, &config, j.json, env).await,
        Command::Jobs {
            queue,
            state,
            limit,
            offset,
            json,
        } => {
            let page = store
                .jobs(queue, JobWindow::new(*state, *offset, *limit))
                .await?;
            if json.json {
                print_json(&page)
            } else {
                println!(
                    "{} {state} job(s) in {queue}; showing {}..{}",
                    page.total,
                    offset,
                    offset + page.jobs.len() as u64
                );
                let rows = page.jobs.iter().map(|j| {
                    vec![
                        j.id.clone(),
                        j.name.clone(),
                        j.attempts_made.to_string(),
                        time(j.finished_on.or(j.timestamp)),
                        j.failed_reason.clone().unwrap_or_default(),
                    ]
                });
                table(&["ID", "NAME", "ATTEMPTS", "WHEN", "ERROR"], rows);
            }
            Ok(())
        }
        Command::Job { queue, id, json } => match store.job(queue, id).await? {
            None => Err(JobOpError::NotFound {
                queue: queue.clone(),
                id: id.clone(),
            }),
            Some(job) if json.json => {
                print_json(&job);
                Ok(())
            }
            Some(job) => {
                print_job(&job);
                Ok(())
            }
        },
        Command::Retry {
            queue,
            id: Some(id),
            json,
            ..
        } => retry_one(&store, &config, queue, id, json.json).await,
        Command::Retry { queue, json, .. } => {
            let moved = store.retry_all_failed(queue, progress_bar).await?;
            eprintln!();
            if json.json {
                print_json(&serde_json::json!({ "queue": queue, "count": moved }));
            } else {
                println!("{moved} failed job(s) of {queue} moved back to waiting");
            }
            Ok(())
        }
        Command::Remove { queue, id } => store
            .remove_job(queue, id)
            .await
            .map(|()| done(false, "removed", queue, id)),
        Command::Promote { queue, id } => store
            .promote_job(queue, id)
            .await
            .map(|()| done(false, "promoted", queue, id)),
        Command::Cancel { queue, id, json } => {
            super::cancel::cancel(&store, queue, id, json.json, env).await
        }
        Command::Pause { queue } => store
            .pause(queue)
            .await
            .map(|()| println!("{queue} paused"))
            .map_err(Into::into),
        Command::Resume { queue } => store
            .resume(queue)
            .await
            .map(|()| println!("{queue} resumed"))
            .map_err(Into::into),
        Command::Clean {
            queue,
            state,
            older_than,
            json,
        } => {
            let age = humantime::parse_duration(older_than)
                .map_err(|e| anyhow::anyhow!("--older-than {older_than:?}: {e} (e.g. 7d)"))?;
            let n = store.clean(queue, *state, age).await?;
            if json.json {
                print_json(&serde_json::json!({ "queue": queue, "count": n }));
            } else {
                println!("removed {n} {state} job(s) of {queue} older than {older_than}");
            }
            Ok(())
        }
        Command::Schedules {
            action: Some(action),
            ..
        } => return super::schedules::run(&store, &config, action, env).await,
        Command::Schedules { json, .. } => schedules(&store, &config, json.json, env).await,
        _ => Ok(()),
    };
    super::exit::ended(result)
}

/// `worker retry QUEUE ID`: a dead letter goes back to its origin queue
/// (`queue/dead_letter.rs`); any other failed job back to waiting.
async fn retry_one(
    store: &Store,
    config: &Config,
    queue: &str,
    id: &str,
    json: bool,
) -> Result<(), JobOpError> {
    let origins = config.dead_letter_sources(queue);
    if !origins.is_empty() {
        if let Some(back) = crate::queue::dead_letter::send_back(store, queue, id, &origins).await?
        {
            if json {
                print_json(&serde_json::json!({
                    "queue": queue, "id": id, "done": "sent back",
                    "sentBackTo": back.queue, "originId": back.id, "how": back.how,
                }));
            } else {
                println!(
                    "sent dead letter {queue}/{id} back to {}/{} ({})",
                    back.queue, back.id, back.how
                );
            }
            return Ok(());
        }
    }
    store.retry_job(queue, id).await?;
    done(json, "retried", queue, id);
    Ok(())
}

async fn schedules(
    store: &Store,
    config: &Config,
    json: bool,
    env: Env<'_>,
) -> Result<(), JobOpError> {
    let plan = match crate::cron::plan::load(config, crate::cron::plan::daemon_zone(env)) {
        Ok((p, _)) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(());
        }
    };
    let rows = report::rows(Some(store), &plan, chrono::Utc::now(), None, None).await;
    if json {
        print_json(&rows);
        return Ok(());
    }
    let lines = rows.iter().map(|r| {
        let last = r
            .last
            .as_ref()
            .map(|l| format!("{} {}", l.state, l.scheduled))
            .unwrap_or_else(|| "-".into());
        vec![
            r.id.clone(),
            format!("{} ({})", r.schedule, r.tz),
            format!("{}/{}", r.queue, r.name),
            r.next.clone().unwrap_or_else(|| "never".into()),
            last,
        ]
    });
    table(&["ENTRY", "SCHEDULE", "TARGET", "NEXT", "LAST RUN"], lines);
    Ok(())
}

fn print_job(j: &crate::queue::JobInfo) {
    println!("job {}/{} ({})", j.queue, j.id, j.name);
    let state = j.state.unwrap_or(crate::queue::JobState::Unknown);
    println!("  state:     {state}");
    println!(
        "  attempts:  {} made, {} started",
        j.attempts_made, j.attempts_started
    );
    println!("  added:     {}", time(j.timestamp));
    if j.processed_on.is_some() {
        println!("  started:   {}", time(j.processed_on));
    }
    if j.finished_on.is_some() {
        println!("  finished:  {}", time(j.finished_on));
    }
    println!("  data:      {}", j.data);
    if !j.progress.is_null() {
        println!("  progress:  {}", j.progress);
    }
    if let Some(r) = &j.failed_reason {
        println!("  error:     {r}");
    }
    if !j.returnvalue.is_null() {
        println!("  result:    {}", j.returnvalue);
    }
    let logs = j.logs.as_deref().unwrap_or_default();
    println!("  logs ({}):", logs.len());
    for l in logs {
        println!("    {l}");
    }
}

fn done(json: bool, what: &str, queue: &str, id: &str) {
    if json {
        print_json(&serde_json::json!({ "queue": queue, "id": id, "done": what }));
    } else {
        println!("{what} {queue}/{id}");
    }
}

/// `\rretried 1200/5000 [######......]` on stderr.
fn progress_bar(done: u64, total: u64) {
    let width = 30u64;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    let bar: String = (0..width)
        .map(|i| if i < filled { '#' } else { '.' })
        .collect();
    eprint!("\rretried {done}/{total} [{bar}]");
    let _ = std::io::stderr().flush();
}

fn time(ms: Option<u64>) -> String {
    ms.and_then(|m| chrono::DateTime::from_timestamp_millis(m as i64))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}
