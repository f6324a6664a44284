//! `worker`: parse the command line (Supercronic's spellings included), start logging and error
//! reporting, run, map the result to an exit code.

use std::process::ExitCode;

use cronq::telemetry::{LogFormat, LogOptions};
use cronq::worker::handler::pdeath;

fn main() -> ExitCode {
    // An exec handler being started (see `worker::handler::pdeath`): no logging, no runtime.
    let mut argv = std::env::args_os();
    if argv.nth(1).is_some_and(|a| a == pdeath::EXEC_CHILD_ARG) {
        return pdeath::exec_child(argv.collect());
    }
    // /proc/self/exe stays valid when the binary file is replaced during a deploy.
    let exe = std::path::PathBuf::from("/proc/self/exe");
    pdeath::use_launcher(if exe.exists() {
        exe
    } else {
        std::env::current_exe().unwrap_or(exe)
    });
    let cli = cronq::cli::parse_args(std::env::args_os());
    let args = cli.daemon_args();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let dsn = args.sentry_dsn.clone().or_else(|| env("SENTRY_DSN"));
    // Kept until the process ends: dropping it flushes the events still queued.
    let _sentry = match dsn.as_deref().map(cronq::telemetry::sentry::init) {
        None => None,
        Some(Ok(guard)) => Some(guard),
        Some(Err(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let format = if args.log_json {
        LogFormat::Json
    } else {
        LogFormat::from_env_value(env("LOG_FORMAT").as_deref())
    };
    cronq::telemetry::init(&LogOptions {
        format: Some(format),
        filter: env("RUST_LOG"),
        debug: args.debug,
        quiet: args.quiet,
        split: args.split_logs,
        no_color: env("NO_COLOR").is_some(),
        sentry: _sentry.is_some(),
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cronq::app::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            cronq::telemetry::print_error(&format!("error: {e:#}"));
            ExitCode::FAILURE
        }
    }
}
