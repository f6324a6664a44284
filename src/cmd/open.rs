//! How the one-shot commands open the store. Unlike the daemon they never create one: a tool
//! run from another directory would otherwise make a fresh `./data/cronq.db` that no daemon
//! reads, and answer as if all was well.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::Env;
use crate::cli::DaemonArgs;
use crate::config::Config;
use crate::queue::{Store, StoreTarget};

/// Loads the configuration for a command (file, environment through `env`, and the daemon
/// flags), or prints why not and answers exit 2, as the daemon does for a configuration error.
/// Shared so that every command refuses a bad configuration the same way.
pub(crate) fn load_config(args: &DaemonArgs, env: Env<'_>) -> Result<Config, ExitCode> {
    crate::config::load_text(env, &args.overrides()).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

/// Opens `config`'s store for a command, or says why not (the exit code to end with).
/// Refused credentials, an unusable URL or a missing embedded file are configuration errors
/// (exit 2, like a bad flag); an unreachable Redis is an error of the run.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Result<Store, ExitCode>> {
    if let StoreTarget::Embedded(path) = &config.store {
        if !path.exists() {
            eprintln!("error: {}", missing(path));
            return Ok(Err(ExitCode::from(2)));
        }
    }
    match Store::open_with(&config.store, &config.prefix, &config.layouts()).await {
        Ok(store) => Ok(Ok(store)),
        Err(e) if e.is_config() => {
            eprintln!("error: {e}");
            Ok(Err(ExitCode::from(2)))
        }
        Err(e) => Err(e.into()),
    }
}

/// `path` made absolute against the current directory (as is, when that cannot be read).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn missing(path: &Path) -> String {
    format!(
        "no embedded store at {}: the daemon creates it when it starts, and a command never does \
         (it would be a file no daemon reads). Run the command from the daemon's directory, set \
         CRONQ_DATA to the daemon's file, or set REDIS_URL when the daemon uses Redis",
        absolute(path).display()
    )
}
