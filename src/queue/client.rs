//! The connection to Redis: where it is (URL, ACL user, TLS with an optional CA file), how it
//! is printed (always redacted), and the shared [`Store`] handle every other room uses.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bullmq::options::{RedisConnectionOptions, TlsCerts};
use bullmq::redis_connection::RedisConnection;
use bullmq::{Queue, QueueOptions};

use super::Error;

/// Where Redis is. The URL may carry a password: print it only through [`RedisTarget::redacted`].
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// `redis://[user:pass@]host:port/db` or `rediss://…` (TLS).
    pub url: String,
    /// PEM file of the CA that signed the server certificate (self-signed TLS setups).
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("url", &self.redacted())
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl RedisTarget {
    /// The URL with any password replaced by `***` (the user name is kept: it helps debugging
    /// and is not a secret).
    pub fn redacted(&self) -> String {
        redact_url(&self.url)
    }

    fn engine_options(&self) -> Result<RedisConnectionOptions, Error> {
        let mut opts = RedisConnectionOptions::new().url(self.url.clone());
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                Error::Settings(format!("cannot read CA file {}: {e}", path.display()))
            })?;
            opts = opts.tls_certs(TlsCerts {
                root_cert: Some(pem),
                ..TlsCerts::default()
            });
        }
        Ok(opts)
    }
}

/// Replaces the password of a URL's user-info with `***`: `redis://u:secret@h` → `redis://u:***@h`,
/// `redis://:secret@h` → `redis://:***@h`. URLs without user-info come back unchanged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let user = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None => "***".to_string(),
    };
    format!("{scheme}://{user}@{host}{tail}")
}

/// The queue store: one multiplexed, self-reconnecting connection shared by producers and
/// inspection, plus the engine's per-queue handles. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<StoreInner>,
}

pub(crate) struct StoreInner {
    pub(crate) target: RedisTarget,
    pub(crate) prefix: String,
    pub(crate) engine_opts: RedisConnectionOptions,
    pub(crate) conn: RedisConnection,
    /// Engine queue handles by name, created on first use. A std mutex: it is never held
    /// across an await (creation happens outside it, see [`Store::queue`]).
    queues: Mutex<HashMap<String, Arc<Queue>>>,
}

impl Store {
    /// Connects to Redis. Fails fast when Redis does not answer; callers that must keep running
    /// (the daemon) retry with backoff.
    pub async fn connect(target: &RedisTarget, prefix: &str) -> Result<Store, Error> {
        let engine_opts = target.engine_options()?;
        let conn = RedisConnection::new_managed_only(&engine_opts)
            .await
            .map_err(|e| unreachable(target, e))?;
        let store = Store {
            inner: Arc::new(StoreInner {
                target: target.clone(),
                prefix: prefix.to_string(),
                engine_opts,
                conn,
                queues: Mutex::new(HashMap::new()),
            }),
        };
        store.ping().await?;
        Ok(store)
    }

    /// The key prefix (BullMQ's `prefix` option, default `bull`).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Where this store connects, redacted.
    pub fn redacted_url(&self) -> String {
        self.inner.target.redacted()
    }

    /// Round-trip time of a `PING`.
    pub async fn ping(&self) -> Result<Duration, Error> {
        let started = Instant::now();
        let _: String = self
            .inner
            .conn
            .cmd(&mut redis::cmd("PING"))
            .await
            .map_err(|e| unreachable(&self.inner.target, e))?;
        Ok(started.elapsed())
    }

    /// The engine handle of `name`, created (and its meta written) on first use.
    pub(crate) async fn queue(&self, name: &str) -> Result<Arc<Queue>, Error> {
        if let Some(q) = self.lock_queues().get(name) {
            return Ok(q.clone());
        }
        let opts = QueueOptions::new()
            .connection(self.inner.engine_opts.clone())
            .prefix(self.inner.prefix.clone());
        let queue = Queue::with_connection(name, self.inner.conn.clone(), opts)
            .await
            .map_err(|e| Error::engine(name, e))?;
        let queue = Arc::new(queue);
        Ok(self
            .lock_queues()
            .entry(name.to_string())
            .or_insert(queue)
            .clone())
    }

    fn lock_queues(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Queue>>> {
        // A poisoned map only means another task panicked while inserting; the map is still valid.
        self.inner
            .queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn unreachable(target: &RedisTarget, err: impl std::fmt::Display) -> Error {
    // The engine's messages never carry the URL, but redact defensively anyway.
    let reason = err.to_string().replace(&target.url, &target.redacted());
    Error::Unreachable {
        url: target.redacted(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_passwords_and_keeps_the_rest() {
        let cases = [
            ("redis://u:secret@h:6379/0", "redis://u:***@h:6379/0"),
            ("redis://:secret@h", "redis://:***@h"),
            ("rediss://secret@[::1]:6380/2", "rediss://***@[::1]:6380/2"),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://u:p@ss@h/0?x=1", "redis://u:***@h/0?x=1"),
            ("not a url", "not a url"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_url(input), want, "{input}");
        }
    }
}
