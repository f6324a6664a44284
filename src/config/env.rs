//! The environment layer: each variable a team sets today, parsed strictly. A malformed value
//! is refused naming the variable and the fix, never read as a default (`REDIS_PORT='16392 '`
//! once connected to 6379, `REDIS_TLS=TRUE` to plaintext). Surrounding blanks are ignored in
//! numbers and switches (`'16392 '` is 16392); empty counts as unset.

use super::raw::RawConfig;
use super::{units, Error};

/// Variable lookup, already filtered to non-empty values.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn invalid(var: &str, value: &str, message: impl std::fmt::Display) -> Error {
    Error::Invalid {
        place: format!("{var}={}", crate::telemetry::escape_control(value)),
        message: message.to_string(),
    }
}

/// A whole number.
fn number<T: std::str::FromStr>(
    env: Env<'_>,
    var: &str,
    example: &str,
) -> Result<Option<T>, Error> {
    env(var)
        .map(|v| {
            v.trim().parse::<T>().map_err(|_| {
                invalid(
                    var,
                    &v,
                    format!("not a whole number; write e.g. {var}={example}"),
                )
            })
        })
        .transpose()
}

/// A switch: `1/true/yes/on` or `0/false/no/off`, any case.
fn switch(env: Env<'_>, var: &str) -> Result<Option<bool>, Error> {
    env(var)
        .map(|v| match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(invalid(
                var,
                &v,
                "not a switch; write true or false (also 1/0, yes/no, on/off)",
            )),
        })
        .transpose()
}

/// A duration, checked here so that the message names the variable.
fn duration(env: Env<'_>, var: &str) -> Result<Option<String>, Error> {
    env(var)
        .map(|v| {
            units::duration(&v)
                .map(|_| v.clone())
                .map_err(|m| invalid(var, &v, m))
        })
        .transpose()
}

/// `WORKER_<QUEUE>_CONCURRENCY`: the queue name upper-cased, every character that is not a
/// letter or digit written `_` (`video` → `WORKER_VIDEO_CONCURRENCY`, `pdf-render` →
/// `WORKER_PDF_RENDER_CONCURRENCY`).
pub fn queue_concurrency_var(queue: &str) -> String {
    let name: String = queue
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("WORKER_{name}_CONCURRENCY")
}

/// Lays the environment over the file's values.
pub(super) fn apply(raw: &mut RawConfig, env: Env<'_>) -> Result<(), Error> {
    let r = raw.redis.get_or_insert_with(Default::default);
    if let Some(url) = env("REDIS_URL") {
        r.url = Some(url);
        r.host = None;
    }
    if let Some(host) = env("REDIS_HOST") {
        r.host = Some(host.trim().to_string());
        r.url = None;
    }
    r.port = number(env, "REDIS_PORT", "6379")?.or(r.port);
    r.username = env("REDIS_USERNAME").or(r.username.take());
    r.password = env("REDIS_PASSWORD").or(r.password.take());
    r.db = number(env, "REDIS_DB", "0")?.or(r.db);
    r.tls = switch(env, "REDIS_TLS")?.or(r.tls);
    r.ca_file = env("REDIS_CA_FILE").or(r.ca_file.take());
    r.prefix = env("REDIS_PREFIX").or(r.prefix.take());
    let list = |v: String| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>()
    };
    r.sentinels = env("REDIS_SENTINELS").map(list).or(r.sentinels.take());
    r.sentinel_name = env("REDIS_SENTINEL_NAME").or(r.sentinel_name.take());
    r.sentinel_password = env("REDIS_SENTINEL_PASSWORD").or(r.sentinel_password.take());
    r.sentinel_tls = switch(env, "REDIS_SENTINEL_TLS")?.or(r.sentinel_tls);
    r.cluster_nodes = env("REDIS_CLUSTER_NODES")
        .map(list)
        .or(r.cluster_nodes.take());
    let w = raw.worker.get_or_insert_with(Default::default);
    w.concurrency = number(env, "WORKER_CONCURRENCY", "5")?.or(w.concurrency);
    w.shutdown_timeout = duration(env, "SHUTDOWN_TIMEOUT")?.or(w.shutdown_timeout.take());
    w.max_jobs = number(env, "WORKER_MAX_JOBS", "1000")?.or(w.max_jobs);
    w.max_runtime = duration(env, "WORKER_MAX_RUNTIME")?.or(w.max_runtime.take());
    // WORKER_MEMORY_THRESHOLD is the name Node worker setups use; WORKER_MAX_MEMORY wins.
    for var in ["WORKER_MEMORY_THRESHOLD", "WORKER_MAX_MEMORY"] {
        if let Some(v) = env(var) {
            w.max_memory_mb = Some(units::mebibytes(&v).map_err(|m| invalid(var, &v, m))?);
        }
    }
    w.crontab = env("CRONTAB").or(w.crontab.take());
    w.id = env("WORKER_ID").or(w.id.take());
    for (name, q) in raw.queues.iter_mut() {
        let var = queue_concurrency_var(name);
        q.concurrency = number(env, &var, "2")?.or(q.concurrency);
    }
    let h = raw.http.get_or_insert_with(Default::default);
    h.listen = env("WORKER_LISTEN").or(h.listen.take());
    if let Some(v) = env("CRONQ_PUBLIC_URL") {
        // Checked here to name the variable; the value is not repeated (it may hold a password).
        crate::config::public_url::parse(&v).map_err(|e| Error::Invalid {
            place: "CRONQ_PUBLIC_URL".into(),
            message: e.to_string(),
        })?;
        h.public_url = Some(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_with(vars: &[(&str, &str)]) -> Result<RawConfig, Error> {
        let mut raw: RawConfig =
            toml::from_str("[queues.video.handlers.transcode]\nbuiltin = \"noop\"\n").unwrap();
        let env = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
                .filter(|v| !v.is_empty())
        };
        apply(&mut raw, &env).map(|()| raw)
    }

    #[test]
    fn malformed_values_are_refused_naming_the_variable() {
        for (var, value) in [
            ("REDIS_PORT", "16392x"),
            ("REDIS_DB", "3x"),
            ("REDIS_TLS", "maybe"),
            ("REDIS_SENTINEL_TLS", "2"),
            ("WORKER_CONCURRENCY", "abc"),
            ("WORKER_VIDEO_CONCURRENCY", "many"),
            ("SHUTDOWN_TIMEOUT", "soon"),
            ("WORKER_MAX_RUNTIME", "a day"),
            ("WORKER_MAX_MEMORY", "1GX"),
            ("WORKER_MAX_JOBS", "-1"),
        ] {
            let e = apply_with(&[(var, value)]).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{var}={value}: ")), "{e}");
            assert!(!e.contains("out of range"), "{e}");
        }
    }

    #[test]
    fn blanks_case_and_units_are_read_as_meant() {
        let raw = apply_with(&[
            ("REDIS_PORT", "16392 "),
            ("REDIS_DB", " 3"),
            ("REDIS_TLS", "TRUE"),
            ("REDIS_SENTINEL_TLS", "on"),
            ("WORKER_VIDEO_CONCURRENCY", "2"),
            ("WORKER_MEMORY_THRESHOLD", "1GB"),
            ("WORKER_MAX_RUNTIME", "86400"),
        ])
        .unwrap();
        let r = raw.redis.unwrap();
        assert_eq!((r.port, r.db, r.tls), (Some(16392), Some(3), Some(true)));
        assert_eq!(r.sentinel_tls, Some(true));
        assert_eq!(raw.queues["video"].concurrency, Some(2));
        let w = raw.worker.unwrap();
        assert_eq!(w.max_memory_mb, Some(1024));
        assert_eq!(w.max_runtime.as_deref(), Some("86400"));
        assert_eq!(
            queue_concurrency_var("pdf-render"),
            "WORKER_PDF_RENDER_CONCURRENCY"
        );
    }
}
