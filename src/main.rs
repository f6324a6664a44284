//! `worker`: parse the command line, start logging, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cronq::cli::Cli::parse();
    let format =
        cronq::telemetry::LogFormat::from_env_value(std::env::var("LOG_FORMAT").ok().as_deref());
    cronq::telemetry::init(format, std::env::var("RUST_LOG").ok().as_deref());
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
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
