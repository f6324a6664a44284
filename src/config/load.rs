//! Loading the configuration: the file, then the environment, then the flags, each layer over
//! the one below, and then validation. Pure but for reading the file: the environment comes in
//! as a lookup function, because only `app` reads the process environment.

use std::path::{Path, PathBuf};

use super::raw::RawConfig;
use super::validate::{build, Source};
use super::{Config, Error, Overrides};
use crate::queue::StoreTarget;

/// [`load`], with the error as the complete text to print (`error: …`).
pub fn load_text(
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<Config, String> {
    load(env, flags).map_err(|e| format!("error: {e}"))
}

/// Loads the configuration: the file (from `--config`, `WORKER_CONFIG`, or
/// `./config/worker.toml` when present), then the environment (`env` looks a variable up), then
/// the flags.
pub fn load(env: &dyn Fn(&str) -> Option<String>, flags: &Overrides) -> Result<Config, Error> {
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    let explicit = flags
        .config
        .clone()
        .or_else(|| env("WORKER_CONFIG").map(PathBuf::from));
    let file = explicit.clone().or_else(super::default_file);
    let (raw, text) = match &file {
        Some(path) => read_file(path)?,
        None => (RawConfig::default(), String::new()),
    };
    let src = Source {
        path: file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        text,
    };
    let mut raw = raw;
    // No Redis configured anywhere (no [redis] table, no REDIS_URL/REDIS_HOST, no --redis-url)
    // means the embedded store: a first `worker` on a laptop just works.
    let wants_redis = raw.redis.is_some()
        || env("REDIS_URL").is_some()
        || env("REDIS_HOST").is_some()
        || env("REDIS_SENTINELS").is_some()
        || env("REDIS_CLUSTER_NODES").is_some()
        || flags.redis_url.is_some();
    let data = env("CRONQ_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data/cronq.db"));
    super::env::apply(&mut raw, &env)?;
    apply_flags(&mut raw, flags)?;
    let mut config = build(raw, &src, file, &env)?;
    if !wants_redis {
        config.store = StoreTarget::Embedded(data);
    }
    config.passthrough_logs = flags.passthrough_logs;
    config.overlap_all = flags.overlapping;
    Ok(config)
}

fn read_file(path: &Path) -> Result<(RawConfig, String), Error> {
    let read = |e: std::io::Error| Error::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let bytes = super::files::read_capped(path, super::files::MAX_FILE_BYTES).map_err(read)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::Read {
        path: path.display().to_string(),
        reason: "not UTF-8 text".into(),
    })?;
    let raw = toml::from_str::<RawConfig>(&text).map_err(|e| Error::Syntax {
        path: path.display().to_string(),
        line: e.span().map(|s| line_at(&text, s.start)).unwrap_or(1),
        message: e.message().trim().to_string(),
    })?;
    Ok((raw, text))
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn apply_flags(raw: &mut RawConfig, f: &Overrides) -> Result<(), Error> {
    let w = raw.worker.get_or_insert_with(Default::default);
    if let Some(v) = &f.max_memory {
        let mib = super::units::mebibytes(v).map_err(|message| Error::Invalid {
            place: "--max-memory".into(),
            message,
        })?;
        w.max_memory_mb = Some(mib);
    }
    w.concurrency = f.concurrency.or(w.concurrency);
    w.shutdown_timeout = f.shutdown_timeout.clone().or(w.shutdown_timeout.take());
    w.max_jobs = f.max_jobs.or(w.max_jobs);
    w.max_runtime = f.max_runtime.clone().or(w.max_runtime.take());
    w.crontab = f
        .crontab
        .as_ref()
        .map(|p| p.display().to_string())
        .or(w.crontab.take());
    let h = raw.http.get_or_insert_with(Default::default);
    h.listen = f.listen.clone().or(h.listen.take());
    if let Some(url) = &f.redis_url {
        let r = raw.redis.get_or_insert_with(Default::default);
        r.url = Some(url.clone());
        r.host = None;
    }
    Ok(())
}
