//! `worker cron next` and `worker --test-crontab [FILE]`.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use std::io::Write;

use super::crontab_report::test_report;
use super::Env;
use crate::cli::{CronCommand, DaemonArgs};
use crate::crontab::zone::parse_zone;

/// Prints the next fire instants, one RFC 3339 UTC timestamp per line; exit 1 with the reason
/// when the expression, zone or start instant is invalid.
pub fn cron_next(cmd: CronCommand) -> ExitCode {
    let CronCommand::Next { expr, tz, from, n } = cmd;
    let zone = match parse_zone(&tz) {
        Ok(z) => z,
        Err(e) => return fail(&format!("--tz: {e}")),
    };
    let from = match from.as_deref().map(DateTime::parse_from_rfc3339) {
        None => Utc::now(),
        Some(Ok(t)) => t.with_timezone(&Utc),
        Some(Err(e)) => {
            return fail(&format!(
                "--from: {e}: write RFC 3339, e.g. 2027-01-01T12:00:00Z"
            ))
        }
    };
    let schedule = match crate::crontab::Schedule::parse(&expr) {
        Ok(s) => s,
        Err(e) => return fail(&format!("{expr:?}: {e}")),
    };
    // Streamed, one line as each instant is found: a long listing shows progress at once and
    // a reader that stops early (`| head`) costs nothing more.
    let mut out = std::io::stdout().lock();
    let mut t = from;
    for i in 0..n {
        match schedule.next_after(t, zone) {
            Some(next) => {
                if writeln!(out, "{}", next.format("%Y-%m-%dT%H:%M:%SZ")).is_err() {
                    // The reader went away (`| head`): done, not an error.
                    return ExitCode::SUCCESS;
                }
                t = next;
            }
            // The daemon accepts such an entry with a "never fires again" warning; so does
            // this: a valid expression, no instants on stdout (exit 0), and the warning on
            // stderr instead of silence.
            None if i == 0 => {
                eprintln!(
                    "warning: {expr:?} never fires after {}: the date it names does not exist \
                     (e.g. 30 February) or has passed, or it is @reboot",
                    from.format("%Y-%m-%dT%H:%M:%SZ")
                );
                break;
            }
            None => {
                eprintln!("note: {expr:?} fires no more after {i} instants");
                break;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Validates a crontab and lists its entries; exit 0 when valid, 1 otherwise. `env` looks up
/// the environment (for the config, when no file is named); entries without `CRON_TZ` are shown
/// in `daemon_tz` (`app` reads it from the environment).
pub fn test_crontab(file: PathBuf, args: &DaemonArgs, env: Env<'_>, daemon_tz: Tz) -> ExitCode {
    // The config too: its `[cron]` and `[cron.entries."crontab:LINE"]` policies are shown
    // beside each line, and a bad one fails the test as it would fail the daemon's start.
    let config = match crate::config::load(env, &args.overrides()) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let file = if file.as_os_str().is_empty() {
        config.crontab.clone()
    } else {
        file
    };
    let name = file.display().to_string();
    let text = match std::fs::read(&file) {
        Ok(b) => match crate::crontab::text::decode(b) {
            Ok(t) => t,
            Err(d) => return fail(&format!("{name}:{d}")),
        },
        Err(e) => return fail(&format!("{name}: cannot read crontab: {e}")),
    };
    let (out, err, ok) = test_report(&name, &text, Utc::now(), daemon_tz, &config);
    print!("{out}");
    eprint!("{err}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(1)
}
