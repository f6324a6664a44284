//! `worker healthcheck`: GET /health, exit 0 when it says healthy. For Docker's HEALTHCHECK in
//! an image without curl.

use std::process::ExitCode;
use std::time::Duration;

use super::Env;
use crate::cli::DaemonArgs;

/// Calls the health URL (default: derived from the listen address, from the config read with
/// `env` looking up the environment).
pub async fn healthcheck(
    url: Option<String>,
    args: &DaemonArgs,
    env: Env<'_>,
) -> anyhow::Result<ExitCode> {
    let url = match url {
        Some(u) => u,
        None => match super::open::load_config(args, env) {
            Ok(c) => c.local_health_url(),
            Err(code) => return Ok(code),
        },
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    match client.get(&url).send().await {
        Ok(r) => {
            let ok = r.status().is_success();
            let body = r.text().await.unwrap_or_default();
            println!("{body}");
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(e) => {
            eprintln!("error: {url}: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
