//! A raw layered config → validated [`Config`]. Every message names the place (`FILE:LINE: [table] key`,
//! or the environment variable / flag) and says what would be valid.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use super::raw::{RawConfig, RawHandler, RawJobDefaults, RawRetention};
use super::{Config, Error, JobDefaults, QueueConfig};
use crate::queue::{Backoff, HandlerDefaults, RedisTarget, Retention, StoreTarget};
use ranges::{count_in, duration_in, Bounds};

/// The file being validated, for naming places in messages.
pub(super) struct Source {
    /// The file's path, empty when there is none.
    pub(super) path: String,
    /// Its text.
    pub(super) text: String,
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

pub(super) fn build(
    raw: RawConfig,
    src: &Source,
    file: Option<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Error> {
    let redis = raw.redis.unwrap_or_default();
    let url =
        super::redis_url::build_url(&redis).map_err(|m| invalid(src.place("redis", "url"), m))?;
    let prefix = redis.prefix.clone().unwrap_or_else(|| "bull".into());
    let topology = super::redis_topology::build(&redis, &prefix)
        .map_err(|(key, m)| invalid(src.place("redis", key), m))?;
    let worker = raw.worker.unwrap_or_default();
    let raw_http = raw.http.unwrap_or_default();
    let http = http::limits(&raw_http, src)?;
    let public_url = raw_http
        .public_url
        .as_deref()
        .map(crate::config::public_url::parse)
        .transpose()
        .map_err(|e| invalid(src.place("http", "public_url"), e.to_string()))?;
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
    let pass_env = worker.pass_env.clone().unwrap_or_default();
    super::job_env::check_pass_env(&pass_env)
        .map_err(|m| invalid(src.place("worker", "pass_env"), m))?;
    let job_env = super::JobEnv::new(pass_env, env, &url, &[redis.sentinel_password.as_deref()]);
    let log_output = worker.log_output.unwrap_or(true);
    let cron = cron::cron(raw.cron.as_ref(), &raw.queues, &defaults, src)?;
    let programs = super::programs::programs(&raw.programs, &|t, k| src.place(t, k), log_output)?;
    let mut queues = BTreeMap::new();
    let declared: Vec<String> = raw.queues.keys().cloned().collect();
    for (name, q) in raw.queues {
        crate::rules::validate_queue_name(&name)
            .map_err(|m| invalid(src.place(&format!("queues.{name}"), ""), m))?;
        let place = src.place(&format!("queues.{name}"), "concurrency");
        let concurrency = match q.concurrency {
            Some(c) => nonzero(c, &place)?,
            None => concurrency,
        };
        let layout = match &q.layout {
            Some(l) => crate::queue::Layout::parse(l)
                .map_err(|m| invalid(src.place(&format!("queues.{name}"), "layout"), m))?,
            None => crate::queue::Layout::default(),
        };
        let dead_letter = q
            .dead_letter
            .as_deref()
            .map(|target| super::dead_letter::target(&name, target, &declared))
            .transpose()
            .map_err(|m| invalid(src.place(&format!("queues.{name}"), "dead_letter"), m))?;
        let groups =
            super::groups::policy(&q, layout, &|k| src.place(&format!("queues.{name}"), k))?;
        let mut handlers = BTreeMap::new();
        for (job, h) in q.handlers {
            let table = format!("queues.{name}.handlers.{job}");
            let mut built = handler::handler(&h, &defaults, src, &table, env)?;
            built.log_output = h.log_output.unwrap_or(log_output);
            if let Some(list) = &h.pass_env {
                super::job_env::check_pass_env(list)
                    .map_err(|m| invalid(src.place(&table, "pass_env"), m))?;
            }
            built.pass_env = h.pass_env.clone();
            handlers.insert(job, built);
        }
        queues.insert(
            name,
            QueueConfig {
                concurrency,
                layout,
                handlers,
                dead_letter,
                groups,
            },
        );
    }
    let schedules = raw
        .schedule
        .iter()
        .enumerate()
        .map(|(i, s)| schedule::schedule(s, src, i))
        .collect::<Result<Vec<_>, _>>()?;
    // HOSTNAME is set by Docker and Kubernetes, not by systemd: ask the kernel then, so that
    // daemons on different hosts never share a default WORKER_ID.
    let host = env("HOSTNAME")
        .or_else(|| nix::unistd::gethostname().ok()?.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    Ok(Config {
        file,
        store: StoreTarget::Redis(RedisTarget {
            url,
            ca_file: redis.ca_file.map(PathBuf::from),
            topology,
        }),
        prefix,
        listen,
        http,
        public_url,
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
        idle_release: dur(
            &worker.idle_release,
            "idle_release",
            30,
            &ranges::IDLE_RELEASE,
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
        worker_id: match worker.id {
            Some(id) => worker_id(id, &place("id"))?,
            // A default must never stop start-up: odd characters of a host name become `-`.
            None => host
                .chars()
                .take(100)
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._@-".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect(),
        },
        defaults,
        queues,
        log_output,
        // Command-line only: set by `load` after the layers are merged.
        passthrough_logs: false,
        overlap_all: false,
        schedules,
        job_env,
        cron,
        programs,
    })
}

/// `WORKER_ID`: part of Redis key and client names, so letters, digits and `._@-` only.
fn worker_id(id: String, place: &str) -> Result<String, Error> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._@-".contains(c);
    if id.is_empty() || id.len() > 100 || !id.chars().all(ok) {
        return Err(invalid(
            place.to_string(),
            format!(
                "{id:?} is not a usable worker id: use 1 to 100 letters, digits or ._@- \
                 (WORKER_ID or [worker] id)"
            ),
        ));
    }
    Ok(id)
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

/// Any duration of the config; a bare number is seconds (see `config::units`).
fn duration(text: &str, place: &str) -> Result<Duration, Error> {
    super::units::duration(text).map_err(|m| invalid(place.to_string(), m))
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
        None => base.options.backoff,
    };
    let attempts = opt_count(
        h.attempts.map(u64::from),
        &src.place(table, "attempts"),
        &ranges::ATTEMPTS,
    )?;
    // Checked in the order the keys were checked before (timeout, then retention), so a
    // table with several bad keys names the same one first.
    let timeout = opt_duration_in(&h.timeout, || src.place(table, "timeout"), &ranges::TIMEOUT)?
        .or(base.timeout);
    Ok(JobDefaults {
        options: HandlerDefaults {
            attempts: attempts.map_or(base.options.attempts, |n| n as u32),
            backoff,
            remove_on_complete: retention(&h.remove_on_complete, src, table, "remove_on_complete")?
                .or(base.options.remove_on_complete),
            remove_on_fail: retention(&h.remove_on_fail, src, table, "remove_on_fail")?
                .or(base.options.remove_on_fail),
        },
        timeout,
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

mod cron;
mod handler;
mod http;
mod policy;
mod process;
mod ranges;
mod schedule;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ranges;
