//! Raw layers → validated [`Config`]. Every message names the place (`FILE:LINE: [table] key`,
//! or the environment variable / flag) and says what would be valid.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::{RawConfig, RawHandler, RawJobDefaults, RawRetention};
use super::{Config, Error, JobDefaults, Overrides, QueueConfig};
use crate::queue::{Backoff, RedisTarget, Retention, StoreTarget};
use ranges::{count_in, duration_in, Bounds};

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
        || flags.redis_url.is_some();
    let data = env("CRONQ_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data/cronq.db"));
    apply_env(&mut raw, &env);
    apply_flags(&mut raw, flags);
    let mut config = build(raw, &src, file, &env)?;
    if !wants_redis {
        config.store = StoreTarget::Embedded(data);
    }
    config.passthrough_logs = flags.passthrough_logs;
    config.overlap_all = flags.overlapping;
    Ok(config)
}

fn read_file(path: &Path) -> Result<(RawConfig, String), Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
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

/// The file being validated, for naming places in messages.
struct Source {
    path: String,
    text: String,
}

impl Source {
    /// `FILE:LINE: [table] key`, where LINE is the key's line after the table header (or the
    /// header's, or 1 when neither is found, e.g. the value came from the environment).
    fn place(&self, table: &str, key: &str) -> String {
        let header = format!("[{table}]");
        let lines: Vec<&str> = self.text.lines().collect();
        let start = lines.iter().position(|l| l.trim() == header);
        let line = start
            .and_then(|s| {
                lines[s + 1..]
                    .iter()
                    .take_while(|l| !l.trim_start().starts_with('['))
                    .position(|l| l.trim_start().starts_with(key))
                    .map(|i| s + 2 + i)
                    .or(Some(s + 1))
            })
            .unwrap_or(1);
        if self.path.is_empty() {
            format!("[{table}] {key}")
        } else {
            format!("{}:{line}: [{table}] {key}", self.path)
        }
    }
}

fn apply_env(raw: &mut RawConfig, env: &dyn Fn(&str) -> Option<String>) {
    let r = raw.redis.get_or_insert_with(Default::default);
    if let Some(url) = env("REDIS_URL") {
        r.url = Some(url);
        r.host = None;
    }
    if let Some(host) = env("REDIS_HOST") {
        r.host = Some(host);
        r.url = None;
    }
    r.port = env("REDIS_PORT").and_then(|v| v.parse().ok()).or(r.port);
    r.username = env("REDIS_USERNAME").or(r.username.take());
    r.password = env("REDIS_PASSWORD").or(r.password.take());
    r.db = env("REDIS_DB").and_then(|v| v.parse().ok()).or(r.db);
    r.tls = env("REDIS_TLS")
        .map(|v| matches!(v.as_str(), "1" | "true" | "yes"))
        .or(r.tls);
    r.ca_file = env("REDIS_CA_FILE").or(r.ca_file.take());
    r.prefix = env("REDIS_PREFIX").or(r.prefix.take());
    let w = raw.worker.get_or_insert_with(Default::default);
    if let Some(c) = env("WORKER_CONCURRENCY") {
        // A non-number is reported by validation below through the same field.
        w.concurrency = Some(c.parse().unwrap_or(0));
    }
    w.shutdown_timeout = env("SHUTDOWN_TIMEOUT").or(w.shutdown_timeout.take());
    w.crontab = env("CRONTAB").or(w.crontab.take());
    let h = raw.http.get_or_insert_with(Default::default);
    h.listen = env("WORKER_LISTEN").or(h.listen.take());
}

fn apply_flags(raw: &mut RawConfig, f: &Overrides) {
    let w = raw.worker.get_or_insert_with(Default::default);
    w.concurrency = f.concurrency.or(w.concurrency);
    w.shutdown_timeout = f.shutdown_timeout.clone().or(w.shutdown_timeout.take());
    w.max_jobs = f.max_jobs.or(w.max_jobs);
    w.max_runtime = f.max_runtime.clone().or(w.max_runtime.take());
    w.max_memory_mb = f.max_memory_mb.or(w.max_memory_mb);
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
}

fn build(
    raw: RawConfig,
    src: &Source,
    file: Option<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Error> {
    let redis = raw.redis.unwrap_or_default();
    let url =
        super::redis_url::build_url(&redis).map_err(|m| invalid(src.place("redis", "url"), m))?;
    let worker = raw.worker.unwrap_or_default();
    let raw_http = raw.http.unwrap_or_default();
    let http = http::limits(&raw_http, src)?;
    let listen_text = raw_http.listen.unwrap_or_else(|| "0.0.0.0:3001".into());
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        invalid(
            src.place("http", "listen"),
            format!("{listen_text:?} is not an address: use IP:PORT, e.g. \"0.0.0.0:3001\" (WORKER_LISTEN)"),
        )
    })?;
    let concurrency = nonzero(
        worker.concurrency.unwrap_or(5),
        &src.place("worker", "concurrency"),
    )?;
    let dur = |v: &Option<String>, key: &str, default: u64, b| -> Result<Duration, Error> {
        let place = src.place("worker", key);
        match v {
            None => Ok(Duration::from_secs(default)),
            Some(t) => duration_in(duration(t, &place)?, &place, b),
        }
    };
    let place = |key: &str| src.place("worker", key);
    let defaults = job_defaults(
        raw.defaults.as_ref(),
        &JobDefaults::default(),
        src,
        "defaults",
    )?;
    let crontab_explicit = worker.crontab.is_some();
    let log_output = worker.log_output.unwrap_or(true);
    let mut queues = BTreeMap::new();
    for (name, q) in raw.queues {
        crate::queue::validate_queue_name(&name)
            .map_err(|m| invalid(src.place(&format!("queues.{name}"), ""), m))?;
        let place = src.place(&format!("queues.{name}"), "concurrency");
        let concurrency = match q.concurrency {
            Some(c) => nonzero(c, &place)?,
            None => concurrency,
        };
        let mut handlers = BTreeMap::new();
        for (job, h) in q.handlers {
            let table = format!("queues.{name}.handlers.{job}");
            let mut built = handler::handler(&h, &defaults, src, &table)?;
            built.log_output = h.log_output.unwrap_or(log_output);
            handlers.insert(job, built);
        }
        queues.insert(
            name,
            QueueConfig {
                concurrency,
                handlers,
            },
        );
    }
    let schedules = raw
        .schedule
        .iter()
        .enumerate()
        .map(|(i, s)| schedule::schedule(s, src, i))
        .collect::<Result<Vec<_>, _>>()?;
    let host = env("HOSTNAME").unwrap_or_else(|| "localhost".into());
    Ok(Config {
        file,
        store: StoreTarget::Redis(RedisTarget {
            url,
            ca_file: redis.ca_file.map(PathBuf::from),
        }),
        prefix: redis.prefix.unwrap_or_else(|| "bull".into()),
        listen,
        http,
        concurrency,
        shutdown_timeout: dur(
            &worker.shutdown_timeout,
            "shutdown_timeout",
            25,
            &ranges::SHUTDOWN,
        )?,
        lock_duration: dur(&worker.lock_duration, "lock_duration", 30, &ranges::LOCK)?,
        stalled_interval: dur(
            &worker.stalled_interval,
            "stalled_interval",
            30,
            &ranges::STALLED,
        )?,
        max_stalled_count: count_in(
            worker.max_stalled_count.unwrap_or(1).into(),
            &place("max_stalled_count"),
            &ranges::MAX_STALLED,
        )? as u32,
        metrics_points: count_in(
            worker
                .metrics_points
                .unwrap_or(ranges::METRICS_POINTS_DEFAULT),
            &place("metrics_points"),
            &ranges::METRICS_POINTS,
        )? as u32,
        crontab: PathBuf::from(worker.crontab.unwrap_or_else(|| "crontab".into())),
        crontab_explicit,
        limits: super::Limits {
            max_jobs: opt_count(worker.max_jobs, &place("max_jobs"), &ranges::MAX_JOBS)?,
            max_runtime: opt_duration_in(
                &worker.max_runtime,
                || place("max_runtime"),
                &ranges::MAX_RUNTIME,
            )?,
            max_memory_mb: opt_count(
                worker.max_memory_mb,
                &place("max_memory_mb"),
                &ranges::MAX_MEMORY_MB,
            )?,
        },
        worker_name: worker.name.unwrap_or_else(|| format!("cronq@{host}")),
        defaults,
        queues,
        log_output,
        // Command-line only: set by `load` after the layers are merged.
        passthrough_logs: false,
        overlap_all: false,
        schedules,
    })
}

fn invalid(place: String, message: impl Into<String>) -> Error {
    Error::Invalid {
        place,
        message: message.into(),
    }
}

/// A concurrency: at least 1, at most [`ranges::CONCURRENCY`]'s bound.
fn nonzero(n: usize, place: &str) -> Result<NonZeroUsize, Error> {
    let n = count_in(n as u64, place, &ranges::CONCURRENCY)?;
    NonZeroUsize::new(n as usize)
        .ok_or_else(|| invalid(place.to_string(), "must be a whole number of at least 1"))
}

fn opt_count(n: Option<u64>, place: &str, b: &Bounds<u64>) -> Result<Option<u64>, Error> {
    n.map(|n| count_in(n, place, b)).transpose()
}

fn opt_duration_in(
    v: &Option<String>,
    place: impl Fn() -> String,
    b: &Bounds<Duration>,
) -> Result<Option<Duration>, Error> {
    opt_duration(v, &place)?
        .map(|d| duration_in(d, &place(), b))
        .transpose()
}

fn duration(text: &str, place: &str) -> Result<Duration, Error> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        invalid(
            place.to_string(),
            format!("{text:?} is not a duration ({e}): write e.g. \"30s\", \"5m\", \"1h\""),
        )
    })
}

fn opt_duration(v: &Option<String>, place: impl Fn() -> String) -> Result<Option<Duration>, Error> {
    v.as_deref().map(|t| duration(t, &place())).transpose()
}

fn job_defaults(
    raw: Option<&RawJobDefaults>,
    base: &JobDefaults,
    src: &Source,
    table: &str,
) -> Result<JobDefaults, Error> {
    let Some(raw) = raw else {
        return Ok(base.clone());
    };
    let as_handler = RawHandler {
        timeout: raw.timeout.clone(),
        attempts: raw.attempts,
        backoff: raw.backoff.clone(),
        remove_on_complete: raw.remove_on_complete.clone(),
        remove_on_fail: raw.remove_on_fail.clone(),
        ..RawHandler::default()
    };
    job_fields(&as_handler, base, src, table)
}

fn job_fields(
    h: &RawHandler,
    base: &JobDefaults,
    src: &Source,
    table: &str,
) -> Result<JobDefaults, Error> {
    let backoff = match &h.backoff {
        Some(b) => {
            let place = src.place(table, "backoff");
            let backoff = Backoff::parse(b).map_err(|m| invalid(place.clone(), m))?;
            let (Backoff::Fixed(d) | Backoff::Exponential(d)) = backoff;
            duration_in(d, &place, &ranges::BACKOFF)?;
            backoff
        }
        None => base.backoff,
    };
    let attempts = opt_count(
        h.attempts.map(u64::from),
        &src.place(table, "attempts"),
        &ranges::ATTEMPTS,
    )?;
    Ok(JobDefaults {
        attempts: attempts.map_or(base.attempts, |n| n as u32),
        backoff,
        timeout: opt_duration_in(&h.timeout, || src.place(table, "timeout"), &ranges::TIMEOUT)?
            .or(base.timeout),
        remove_on_complete: retention(&h.remove_on_complete, src, table, "remove_on_complete")?
            .or(base.remove_on_complete),
        remove_on_fail: retention(&h.remove_on_fail, src, table, "remove_on_fail")?
            .or(base.remove_on_fail),
    })
}

fn retention(
    r: &Option<RawRetention>,
    src: &Source,
    table: &str,
    key: &str,
) -> Result<Option<Retention>, Error> {
    Ok(match r {
        None => None,
        Some(RawRetention::Flag(true)) => Some(Retention::RemoveAll),
        Some(RawRetention::Flag(false)) => Some(Retention::KeepAll),
        Some(RawRetention::Count(n)) => Some(Retention::Keep {
            count: Some(count_in(*n, &src.place(table, key), &ranges::RETAIN_COUNT)? as usize),
            age: None,
        }),
        Some(RawRetention::Policy(p)) => Some(Retention::Keep {
            count: opt_count(p.count, &src.place(table, key), &ranges::RETAIN_COUNT)?
                .map(|n| n as usize),
            age: opt_duration_in(&p.age, || src.place(table, key), &ranges::RETAIN_AGE)?,
        }),
    })
}

mod handler;
mod http;
mod ranges;
mod schedule;
#[cfg(test)]
mod tests;
