//! Sentinel: finds the writable primary through the sentinels and follows it across failovers.
//!
//! The engine (`bullmq-official`) builds its connections from one URL and reconnects to that
//! same address forever; it cannot be re-pointed. So every connection cronq makes (the engine's
//! shared, blocking and dedicated ones, the CLI's) goes to a relay on a loopback port, and the
//! relay forwards each to the current primary. When the primary changes, or stops answering
//! `ROLE` as a master (a demoted server answers writes with READONLY, a restarting one with
//! LOADING), the relay closes every forwarded connection: the engine's clients see a reset,
//! reconnect, and land on the new primary. The relay's port is internal (loopback, ephemeral),
//! not a service port, which is why it is bound here and not in `src/app`.
//!
//! With TLS (`rediss://`), the relay is the TLS client: the engine talks plain TCP to the relay,
//! a loopback hop inside this one process that never leaves the host, and the relay speaks TLS
//! to the primary, checking its certificate against the host the sentinels report (see
//! [`tls`]). The engine's own `AUTH` (ACL user and password) passes through the relay unchanged.
//! The sentinels are asked over TLS or not as `REDIS_SENTINEL_TLS` says (default: as the data
//! connection).

mod tls;
mod url;

use url::auth;
pub(crate) use url::{node_url, with_address};

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::queue::{error::Error, redis::RedisTarget, redis::Topology};

/// How long one sentinel or primary question may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the primary's role is checked while it is healthy, and how often the sentinels are
/// asked while there is none: the bound on how stale `/health` and the relay can be.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How long a new connection waits at the relay for a primary before it is closed.
const WAIT_FOR_PRIMARY: Duration = Duration::from_secs(10);
/// How long the relay's connect to the primary (TCP and TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The running relay. Dropping it stops the relay and its watcher (they hold only `State`).
pub(crate) struct SentinelRelay {
    state: Arc<State>,
    /// Cancelled on drop; the accept loop, the watcher and the `+switch-master` listener hold
    /// clones and end with it.
    stop: CancellationToken,
    /// The URL the engine connects to: the target's, with the relay's address.
    pub(crate) local_url: String,
}

struct State {
    target: RedisTarget,
    sentinels: Vec<String>,
    name: String,
    password: Option<String>,
    /// Whether the sentinels are reached over TLS.
    sentinel_tls: bool,
    /// The relay's TLS setup (primary and `rediss://` clients).
    tls: tls::Tls,
    /// The verified writable primary (`host:port`), `None` while there is none. Sent by the
    /// watcher only; every forwarded connection watches it and closes when it changes.
    primary: watch::Sender<Option<String>>,
    /// Why the last resolution found nothing (see [`State::note`]).
    last_miss: std::sync::Mutex<String>,
}

impl Drop for SentinelRelay {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl SentinelRelay {
    /// Starts the relay and waits (up to `wait`) for a first writable primary.
    pub(crate) async fn start(target: &RedisTarget, wait: Duration) -> Result<Self, Error> {
        let Topology::Sentinel {
            sentinels,
            name,
            password,
            tls: sentinel_tls,
        } = &target.topology
        else {
            return Err(Error::Settings("not a Sentinel target".into()));
        };
        let tls = tls::Tls::new(target)?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| unreachable(target, format!("cannot open the Sentinel relay: {e}")))?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let state = Arc::new(State {
            target: target.clone(),
            sentinels: sentinels.clone(),
            name: name.clone(),
            password: password.clone(),
            sentinel_tls: *sentinel_tls,
            tls,
            primary: watch::channel(None).0,
            last_miss: std::sync::Mutex::new(String::new()),
        });
        let relay = SentinelRelay {
            state: state.clone(),
            stop: CancellationToken::new(),
            // Plain TCP on the loopback hop: the relay does the TLS (see the module doc).
            local_url: with_address(&target.url, &format!("127.0.0.1:{port}")).replacen(
                "rediss://",
                "redis://",
                1,
            ),
        };
        let kick = Arc::new(Notify::new());
        tokio::spawn(accept(listener, state.clone(), relay.stop.clone()));
        tokio::spawn(watch_primary(
            state.clone(),
            kick.clone(),
            relay.stop.clone(),
        ));
        tokio::spawn(follow_switches(state.clone(), kick, relay.stop.clone()));
        let mut rx = state.primary.subscribe();
        let found = tokio::time::timeout(wait, rx.wait_for(Option::is_some)).await;
        if !matches!(found, Ok(Ok(_))) {
            return Err(unreachable(
                target,
                format!(
                    "no sentinel of {} named a primary for {:?} that answers ROLE as master \
                     (last: {}); check REDIS_SENTINELS, REDIS_SENTINEL_NAME, \
                     REDIS_SENTINEL_PASSWORD, REDIS_SENTINEL_TLS, REDIS_CA_FILE and the \
                     primary's REDIS_USERNAME / REDIS_PASSWORD",
                    sentinels.join(","),
                    name,
                    state.last_miss.lock().unwrap_or_else(|p| p.into_inner())
                ),
            ));
        }
        Ok(relay)
    }

    /// The writable primary (`host:port`), or `None` while a failover is under way.
    pub(crate) fn primary(&self) -> Option<String> {
        self.state.primary.borrow().clone()
    }
}

fn unreachable(target: &RedisTarget, reason: String) -> Error {
    Error::Unreachable {
        url: target.redacted(),
        reason,
    }
}

async fn accept(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    loop {
        let client = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => client,
                Err(e) => {
                    tracing::warn!(error = %e, "Sentinel relay: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::spawn(forward(client, state.clone(), stop.clone()));
    }
}

/// Forwards one connection to the current primary until either side closes, the primary
/// changes (or is lost), or the relay stops.
async fn forward(mut client: TcpStream, state: Arc<State>, stop: CancellationToken) {
    let mut rx = state.primary.subscribe();
    let addr = match tokio::time::timeout(WAIT_FOR_PRIMARY, rx.wait_for(Option::is_some)).await {
        Ok(Ok(addr)) => addr.clone(),
        _ => return, // No primary: the client sees a closed connection and retries.
    };
    let Some(addr) = addr else { return };
    let upstream = match tokio::time::timeout(CONNECT_TIMEOUT, state.tls.connect(&addr)).await {
        Ok(Ok(upstream)) => upstream,
        Ok(Err(e)) => {
            // The client sees a closed connection and retries; the watcher's own check of the
            // same primary says why in its start-up error. A certificate refused here is worth a
            // line in the log, as every retry will meet it again.
            tracing::warn!(primary = %addr, error = %e, "Sentinel relay: cannot reach the primary");
            return;
        }
        Err(_) => return,
    };
    let _ = client.set_nodelay(true);
    let moved = async {
        while rx.changed().await.is_ok() {
            if rx.borrow().as_deref() != Some(addr.as_str()) {
                return;
            }
        }
    };
    tokio::select! {
        _ = upstream.pipe(&mut client) => {}
        _ = moved => {}
        _ = stop.cancelled() => {}
    }
}

/// Checks the primary's role every [`CHECK_EVERY`] (at once when `kick` fires) and asks the
/// sentinels again whenever it is not a reachable master.
async fn watch_primary(state: Arc<State>, kick: Arc<Notify>, stop: CancellationToken) {
    let mut kept: Checked = None;
    // The reason last logged while there is no primary: a new reason (a refused certificate or
    // password on the promoted server, say) is logged once, a repeated one not every 250 ms.
    let mut said = String::new();
    loop {
        let current = state.primary.borrow().clone();
        let healthy = match &current {
            Some(addr) => check_master(&state, addr, &mut kept).await.is_ok(),
            None => false,
        };
        if !healthy {
            let found = resolve(&state).await;
            if found != current {
                match &found {
                    Some(addr) => {
                        tracing::warn!(primary = %addr, "Redis primary (Sentinel) is now {addr}")
                    }
                    None => {
                        tracing::warn!("no writable Redis primary: waiting for Sentinel failover")
                    }
                }
                state.primary.send_replace(found);
            }
            if state.primary.borrow().is_none() {
                let why = state
                    .last_miss
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                if why != said {
                    tracing::warn!(reason = %why, "still no writable Redis primary");
                    said = why;
                }
            } else {
                said.clear();
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = kick.notified() => {}
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

/// The first primary a sentinel names that answers `ROLE` as master.
async fn resolve(state: &State) -> Option<String> {
    for sentinel in &state.sentinels {
        let url = state.sentinel_url(sentinel);
        let ask = async {
            let client = state.tls.client(&url).map_err(|e| e.to_string())?;
            let mut conn = client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| e.to_string())?;
            redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&state.name)
                .query_async::<Option<(String, String)>>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        let answer = match tokio::time::timeout(ASK_TIMEOUT, ask).await {
            Ok(Ok(Some(addr))) => Ok(addr),
            Ok(Ok(None)) => Err(format!("it knows no primary named {:?}", state.name)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no answer within {ASK_TIMEOUT:?}")),
        };
        let (host, port) = match answer {
            Ok(addr) => addr,
            Err(e) => {
                state.note(format!("sentinel {sentinel}: {e}"));
                continue;
            }
        };
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        match check_master(state, &addr, &mut None).await {
            Ok(()) => return Some(addr),
            Err(why) => state.note(format!("sentinel {sentinel} named {addr}, but {why}")),
        }
    }
    None
}

impl State {
    /// Keeps the latest reason a sentinel gave no usable primary, for the start-up error.
    fn note(&self, why: String) {
        let why = why.replace(&self.target.url, &self.target.redacted());
        *self.last_miss.lock().unwrap_or_else(|p| p.into_inner()) = why;
    }

    /// The URL of one sentinel: `rediss://` when the sentinels are reached over TLS.
    fn sentinel_url(&self, sentinel: &str) -> String {
        let scheme = if self.sentinel_tls { "rediss" } else { "redis" };
        format!("{scheme}://{}{sentinel}", auth(self.password.as_deref()))
    }
}

/// The watcher's connection to the primary it checks, kept between checks so a healthy primary
/// costs one `ROLE` per check, not a new connection.
type Checked = Option<(String, redis::aio::MultiplexedConnection)>;

/// Whether `addr` answers `ROLE` as a master, with the target's credentials and TLS (checked
/// against `addr`'s host), or why not; reuses `kept` when it points at `addr`, and forgets it on
/// any failure.
async fn check_master(state: &State, addr: &str, kept: &mut Checked) -> Result<(), String> {
    if kept.as_ref().is_none_or(|(a, _)| a != addr) {
        *kept = None;
        let url = with_address(&state.target.url, addr);
        let open = async {
            let client = state.tls.client(&url).map_err(|e| e.to_string())?;
            client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(ASK_TIMEOUT, open).await {
            Ok(Ok(conn)) => *kept = Some((addr.to_string(), conn)),
            Ok(Err(e)) => return Err(format!("connecting to it failed: {e}")),
            Err(_) => {
                return Err(format!(
                    "it did not accept a connection within {ASK_TIMEOUT:?}"
                ))
            }
        }
    }
    let Some((_, conn)) = kept.as_mut() else {
        return Err("no connection".into());
    };
    let answer = tokio::time::timeout(ASK_TIMEOUT, role_is_master(conn)).await;
    if matches!(answer, Ok(Some(true))) {
        return Ok(());
    }
    *kept = None;
    Err("it does not answer ROLE as master".into())
}

async fn role_is_master(conn: &mut redis::aio::MultiplexedConnection) -> Option<bool> {
    let role: redis::Value = redis::cmd("ROLE").query_async(conn).await.ok()?;
    let redis::Value::Array(parts) = role else {
        return None;
    };
    match parts.first() {
        Some(redis::Value::BulkString(b)) => Some(b.as_slice() == b"master"),
        Some(redis::Value::SimpleString(s)) => Some(s == "master"),
        _ => None,
    }
}

/// Subscribes to `+switch-master` on one sentinel after another and kicks the watcher when the
/// switch names our primary, so a failover is followed at once rather than at the next check.
async fn follow_switches(state: Arc<State>, kick: Arc<Notify>, stop: CancellationToken) {
    for sentinel in state.sentinels.iter().cycle() {
        let url = state.sentinel_url(sentinel);
        let listen = async {
            let client = state.tls.client(&url).ok()?;
            let mut pubsub = client.get_async_pubsub().await.ok()?;
            pubsub.subscribe("+switch-master").await.ok()?;
            let mut messages = pubsub.on_message();
            while let Some(msg) = messages.next().await {
                let text: String = msg.get_payload().unwrap_or_default();
                if text.split(' ').next() == Some(state.name.as_str()) {
                    kick.notify_one();
                }
            }
            Some(())
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = listen => {}
        }
        // The sentinel went away: try the next one, without spinning.
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}
