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
    // Before anything reads the environment: `.env` fills what the process environment lacks.
    let dotenv = match load_dotenv(std::path::Path::new(".env")) {
        Ok(n) => n,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let args = cli.daemon_args();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    // Supercronic's order: -sentry-dsn, then -sentryDsn, then SENTRY_DSN.
    let dsn = args
        .sentry_dsn
        .clone()
        .or_else(|| args.sentry_dsn_alias.clone())
        .or_else(|| env("SENTRY_DSN"));
    let sentry_opts = dsn.map(|dsn| cronq::telemetry::sentry::SentryOptions {
        dsn,
        environment: args
            .sentry_environment
            .clone()
            .or_else(|| env("SENTRY_ENVIRONMENT")),
        release: args
            .sentry_release
            .clone()
            .or_else(|| env("SENTRY_RELEASE")),
    });
    // Kept until the process ends: dropping it flushes the events still queued.
    let _sentry = match sentry_opts.as_ref().map(cronq::telemetry::sentry::init) {
        None => None,
        Some(Ok(guard)) => Some(guard),
        Some(Err(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let format = match LogFormat::from_env_value(env("LOG_FORMAT").as_deref()) {
        // -json wins over LOG_FORMAT, but a malformed LOG_FORMAT is refused either way.
        Ok(_) if args.log_json => LogFormat::SupercronicJson,
        Ok(format) => format,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let filter = env("RUST_LOG");
    if let Some(Err(message)) = filter.as_deref().map(cronq::telemetry::check_filter) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    cronq::telemetry::init(&LogOptions {
        format: Some(format),
        filter,
        debug: args.debug,
        quiet: args.quiet,
        split: args.split_logs,
        no_color: env("NO_COLOR").is_some(),
        sentry: _sentry.is_some(),
    });
    if dotenv > 0 {
        tracing::info!(
            variables = dotenv,
            file = ".env",
            "read .env (variables already in the environment win)"
        );
    }
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

/// Sets the variables of `path` (when it exists) that the process environment does not have,
/// as Node's `dotenv` does; returns how many were set. Runs before any thread is started, so
/// setting the environment is safe.
fn load_dotenv(path: &std::path::Path) -> Result<usize, String> {
    use std::io::Read;
    // Only a regular file: a FIFO or a device named .env must not block or fill memory.
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(format!("{}: not a regular file", path.display())),
        Err(_) => return Ok(0),
    }
    const MAX: u64 = 1 << 20;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX + 1).read_to_string(&mut text))
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if text.len() as u64 > MAX {
        return Err(format!(
            "{}: larger than 1 MiB; is it a .env file?",
            path.display()
        ));
    }
    let pairs = cronq::config::dotenv::parse(&path.display().to_string(), &text)
        .map_err(|e| e.to_string())?;
    // A key written twice: the later line wins, as in dotenv.
    let pairs: std::collections::BTreeMap<String, String> = pairs.into_iter().collect();
    let mut set = 0;
    for (key, value) in pairs {
        if std::env::var_os(&key).is_none() {
            std::env::set_var(&key, value);
            set += 1;
        }
    }
    Ok(set)
}
