//! The Redis store's handle: one multiplexed, self-reconnecting connection shared by producers
//! and inspection, plus the engine's per-queue handles.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bullmq::options::{RedisConnectionOptions, TlsCerts};
use bullmq::redis_connection::RedisConnection;
use bullmq::{Queue, QueueOptions};

use super::sentinel::SentinelRelay;
use tokio_util::sync::CancellationToken;

use crate::queue::contract::Connection;
use crate::queue::identity::Identity;
use crate::queue::{error::Error, redis::RedisTarget, redis::Topology};

/// Awaits one call on the shared connection (`conn.cmd(..)`, `conn.pipe(..)`); a Redis error
/// becomes `queue`'s engine error. Why a helper: the await-and-map tail was most of each
/// inspection call, written alike in every file of this store.
pub(crate) async fn on<T, E: std::fmt::Display>(
    queue: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Error> {
    call.await.map_err(|e| Error::engine(queue, e))
}

/// The queue store: one multiplexed, self-reconnecting connection shared by producers and
/// inspection, plus the engine's per-queue handles. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) inner: Arc<StoreInner>,
}

pub(crate) struct StoreInner {
    pub(crate) target: RedisTarget,
    pub(crate) prefix: String,
    pub(crate) engine_opts: RedisConnectionOptions,
    pub(crate) conn: RedisConnection,
    /// The Sentinel relay every connection goes through (Sentinel only); dropped with the store.
    relay: Option<SentinelRelay>,
    /// Engine queue handles by name, created on first use. A std mutex: it is never held
    /// across an await (creation happens outside it, see [`RedisStore::queue`]).
    queues: Mutex<HashMap<String, Arc<Queue>>>,
    /// This daemon's identity once claimed (`identity.rs`); consumers recover its earlier
    /// runs' jobs. Unset for CLI commands.
    pub(crate) owner: std::sync::OnceLock<Identity>,
    /// The queues this store consumes, for its one stalled-check task (`stalled.rs`).
    pub(crate) stalled: super::stalled::Checker,
    /// The one blocking wait over every idle queue's marker (`idle_waiter.rs`), started by
    /// the first queue that goes idle.
    pub(crate) idle: std::sync::OnceLock<super::idle_waiter::IdleWaiter>,
}

impl RedisStore {
    /// Connects to Redis. Fails fast when Redis does not answer; callers that must keep running
    /// (the daemon) retry with backoff.
    pub async fn connect(target: &RedisTarget, prefix: &str) -> Result<RedisStore, Error> {
        // With Sentinel the engine connects to the relay, which forwards to the current primary.
        let (relay, direct) = match &target.topology {
            Topology::Sentinel { .. } => {
                // Shorter than Store::open's connect timeout, so the caller gets the reason
                // (which sentinel said what) rather than only "no connection".
                let relay = SentinelRelay::start(target, Duration::from_secs(3)).await?;
                // Plain TCP to the relay, which does the TLS to the primary itself (a
                // certificate cannot name the relay's loopback address): no CA here, or the
                // engine would start TLS on the loopback hop.
                let direct = RedisTarget {
                    url: relay.local_url.clone(),
                    ca_file: None,
                    topology: Topology::Single,
                };
                (Some(relay), direct)
            }
            _ => (None, target.clone()),
        };
        let engine_opts = engine_options(&direct)?;
        if !engine_opts.is_cluster() {
            probe(&direct).await?;
        }
        let conn = RedisConnection::new_managed_only(&engine_opts)
            .await
            .map_err(|e| unreachable(target, e))?;
        let store = RedisStore {
            inner: Arc::new(StoreInner {
                target: target.clone(),
                prefix: prefix.to_string(),
                engine_opts,
                conn,
                relay,
                queues: Mutex::new(HashMap::new()),
                owner: std::sync::OnceLock::new(),
                stalled: Default::default(),
                idle: std::sync::OnceLock::new(),
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

/// The Redis store as a whole. Identity, settings and discovery have their own files
/// (`identity.rs`, `eviction.rs`, `info.rs`); this impl names them in one place.
#[async_trait]
impl Connection for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn redacted_url(&self) -> String {
        self.inner.target.redacted()
    }

    fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Round-trip time of a check that the server takes writes: `ROLE` must say `master` (a
    /// replica answers PING but refuses every write with READONLY or MASTERDOWN). Servers that
    /// refuse ROLE (some managed offerings, restrictive ACLs) and Clusters (ROLE would go to any
    /// node) get a plain `PING`.
    async fn ping(&self) -> Result<Duration, Error> {
        if let Some(relay) = &self.inner.relay {
            if relay.primary().is_none() {
                return Err(unreachable(
                    &self.inner.target,
                    "no writable primary: waiting for Sentinel failover",
                ));
            }
        }
        let started = Instant::now();
        let conn = &self.inner.conn;
        let role = if conn.is_cluster() {
            None
        } else {
            // PING rides along in the same round trip: ROLE is answered even while the server
            // loads its dataset, PING then says LOADING.
            let mut pipe = redis::pipe();
            pipe.cmd("ROLE").cmd("PING");
            match conn.pipe::<(redis::Value, String)>(&pipe).await {
                Ok((v, _pong)) => Some(v),
                Err(e) if refused_command(&e.to_string()) => None,
                Err(e) => return Err(classify(&self.inner.target, &e)),
            }
        };
        match role {
            Some(redis::Value::Array(parts)) => match parts.first() {
                Some(redis::Value::BulkString(b)) if b.as_slice() != b"master" => {
                    return Err(unreachable(
                        &self.inner.target,
                        format!(
                            "no writable primary: the server is a read-only {} (writes get READONLY)",
                            String::from_utf8_lossy(b)
                        ),
                    ))
                }
                _ => {}
            },
            Some(_) => {}
            None => {
                let _: String = conn
                    .cmd(&mut redis::cmd("PING"))
                    .await
                    .map_err(|e| classify(&self.inner.target, &e))?;
            }
        }
        Ok(started.elapsed())
    }

    async fn claim_identity(&self, id: &Identity, stop: CancellationToken) -> Result<(), Error> {
        self.claim(id, stop).await
    }

    async fn settings_warnings(&self) -> Vec<String> {
        self.eviction_warning().await.into_iter().collect()
    }

    async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        self.scan_queues().await
    }
}

/// Whether the server refused `ROLE` itself (renamed or not allowed), not because it is down.
fn refused_command(text: &str) -> bool {
    ["unknown command", "NOPERM", "not allowed", "ERR unknown"]
        .iter()
        .any(|m| text.contains(m))
}

fn unreachable(target: &RedisTarget, err: impl std::fmt::Display) -> Error {
    // The engine's messages never carry the URL, but redact defensively anyway.
    let reason = err.to_string().replace(&target.url, &target.redacted());
    Error::Unreachable {
        url: target.redacted(),
        reason,
    }
}

/// An error from Redis itself: refused credentials are [`Error::Auth`], the rest an outage.
fn classify(target: &RedisTarget, err: &dyn std::fmt::Display) -> Error {
    let text = err.to_string();
    // The client reports AUTH's WRONGPASS as "Password authentication failed -
    // AuthenticationFailed"; a command sent without AUTH gets NOAUTH.
    let refused = [
        "WRONGPASS",
        "NOAUTH",
        "AuthenticationFailed",
        "invalid username-password",
    ]
    .iter()
    .any(|m| text.contains(m));
    if refused {
        Error::Auth {
            url: target.redacted(),
            reason: text.replace(&target.url, &target.redacted()),
        }
    } else {
        unreachable(target, text)
    }
}

/// One plain connection and a `PING` before the engine connects: the engine's connection
/// manager retries any failure (a refused password included) for ~40 s and then reports only
/// that it gave up, while this says at once what Redis answered. Skipped with a CA file (the
/// engine builds that TLS setup itself; it then reports an outage, not a bad password).
async fn probe(target: &RedisTarget) -> Result<(), Error> {
    if target.ca_file.is_some() {
        return Ok(());
    }
    let client = redis::Client::open(target.url.as_str()).map_err(|e| {
        Error::Settings(format!(
            "Redis URL {} is not valid ({e}): use redis://[user:password@]host:port/db (REDIS_URL)",
            target.redacted()
        ))
    })?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| classify(target, &e))?;
    let _: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .map_err(|e| classify(target, &e))?;
    Ok(())
}

/// The engine's connection options for `target`.
fn engine_options(target: &RedisTarget) -> Result<RedisConnectionOptions, Error> {
    let mut opts = RedisConnectionOptions::new().url(target.url.clone());
    if let Topology::Cluster { nodes } = &target.topology {
        // Each seed node gets the URL's scheme and credentials; a Cluster has no databases.
        let nodes = nodes
            .iter()
            .map(|n| super::sentinel::node_url(&target.url, n));
        opts = opts.cluster_nodes(nodes.collect::<Vec<_>>());
    }
    if let Some(path) = &target.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            Error::Settings(format!(
                "cannot read the Redis CA file {} (REDIS_CA_FILE): {e}",
                path.display()
            ))
        })?;
        opts = opts.tls_certs(TlsCerts {
            root_cert: Some(pem),
            ..TlsCerts::default()
        });
    }
    Ok(opts)
}
