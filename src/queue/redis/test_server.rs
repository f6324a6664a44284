//! For unit tests of this store that need a real Redis (scripts, the engine's worker): a private
//! redis-server on a free loopback port, and a store connected to it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::RedisStore;
use crate::queue::redis::RedisTarget;

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
