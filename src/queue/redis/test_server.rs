//! For unit tests of this store that need a real Redis (scripts, the engine's worker): a private
//! redis-server on a free loopback port, and a store connected to it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::RedisStore;
use crate::queue::consumer::ConsumerOptions;
use crate::queue::contract::Browse;
use crate::queue::redis::RedisTarget;
use crate::queue::state::JobState;

/// A private redis-server on a free loopback port (`.1`), killed on drop.
pub(crate) struct Redis(Child, pub(crate) u16);

impl Redis {
    /// Starts one; no persistence, bound to 127.0.0.1 only.
    pub(crate) fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Redis::start_on(port)
    }

    /// Starts one on `port` (for a test that needs the port before the server).
    pub(crate) fn start_on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        Redis(child, port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A store on the server at `port` with prefix `bull`, polled until it answers (10 s deadline).
pub(crate) async fn connect(port: u16) -> RedisStore {
    let target = RedisTarget {
        url: format!("redis://127.0.0.1:{port}"),
        ca_file: None,
        ..Default::default()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match RedisStore::connect(&target, "bull").await {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("redis did not start: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// A one-slot consumer's options with this lock duration and stalled-check interval.
pub(crate) fn consumer_opts(
    lock_duration: Duration,
    stalled_interval: Duration,
) -> ConsumerOptions {
    ConsumerOptions {
        concurrency: 1,
        lock_duration,
        stalled_interval,
        max_stalled_count: 1,
        drain_delay: Duration::from_secs(1),
        idle_release: Duration::from_secs(30),
        worker_name: "t".into(),
        remove_on_complete: None,
        remove_on_fail: None,
        metrics_points: 0,
        groups: None,
    }
}

/// Polls job `id` of `queue` until it is in `state` (20 s deadline; `what` names the failure).
pub(crate) async fn wait_for_state(
    store: &RedisStore,
    queue: &str,
    id: &str,
    state: JobState,
    what: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.state(queue, id).await.unwrap() != Some(state) {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
