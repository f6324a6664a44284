//! Sentinels and Cluster nodes for the topology tests, on free loopback ports, killed on drop.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::*;

mod tls;
#[allow(unused_imports)] // Used by the TLS tests only.
pub use tls::*;

/// One `redis-server --sentinel` watching `mymaster`.
pub struct Sentinel {
    pub port: u16,
    _dir: TempDir,
    child: Child,
}

impl Sentinel {
    /// A sentinel watching the primary on `primary_port`, quorum 2, declaring it down after 1 s.
    pub fn start(primary_port: u16) -> Sentinel {
        Sentinel::start_with(primary_port, "")
    }

    /// [`Sentinel::start`] with extra config lines (after `sentinel monitor`).
    pub fn start_with(primary_port: u16, extra: &str) -> Sentinel {
        let dir = TempDir::new("sentinel");
        let port = free_port();
        // Sentinel rewrites its config file, so each one gets its own.
        let conf = dir.write(
            "sentinel.conf",
            &format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor mymaster 127.0.0.1 {primary_port} 2\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 3000\n\
                 sentinel parallel-syncs mymaster 1\n{extra}",
                dir.path().display()
            ),
        );
        let child = Command::new("redis-server")
            .arg(&conf)
            .args(["--sentinel", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        poll(Duration::from_secs(10), "a sentinel to answer", || {
            // One started with `requirepass` answers NOAUTH: it is up all the same.
            match cmd_at(port, &["PING"]) {
                Ok(r) => (r == "PONG").then_some(()),
                Err(e) => e.contains("NOAUTH").then_some(()),
            }
        });
        Sentinel {
            port,
            _dir: dir,
            child,
        }
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One command at a loopback port, its reply flattened to lines.
pub fn cmd_at(port: u16, args: &[&str]) -> Result<String, String> {
    cmd_as(port, "", args)
}

/// [`cmd_at`] with a password (`""` for none).
pub fn cmd_as(port: u16, password: &str, args: &[&str]) -> Result<String, String> {
    let auth = if password.is_empty() {
        String::new()
    } else {
        format!(":{password}@")
    };
    let client = redis::Client::open(format!("redis://{auth}127.0.0.1:{port}"))
        .map_err(|e| e.to_string())?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let v: redis::Value = cmd.query(&mut conn).map_err(|e| e.to_string())?;
    Ok(flatten(&v))
}

fn flatten(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(i) => i.to_string(),
        redis::Value::Okay => "OK".into(),
        redis::Value::Array(items) => items.iter().map(flatten).collect::<Vec<_>>().join("\n"),
        redis::Value::Nil => String::new(),
        other => format!("{other:?}"),
    }
}

/// A replica of the server on `primary_port`, once its link is up.
pub fn replica_of(primary_port: u16) -> Redis {
    let replica = Redis::start_with(&["--replicaof", "127.0.0.1", &primary_port.to_string()]);
    poll(Duration::from_secs(20), "the replica to sync", || {
        replica
            .cmd(&["INFO", "replication"])
            .contains("master_link_status:up")
            .then_some(())
    });
    replica
}

/// Three Cluster primaries, joined with `redis-cli --cluster create`, once the cluster is ok.
pub fn cluster() -> Vec<Redis> {
    let nodes: Vec<Redis> = (0..3)
        .map(|_| Redis::start_with(&["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]))
        .collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli must be installed");
    assert!(out.status.success(), "cluster create: {out:?}");
    for n in &nodes {
        poll(Duration::from_secs(20), "the cluster to be ok", || {
            n.cmd(&["CLUSTER", "INFO"])
                .contains("cluster_state:ok")
                .then_some(())
        });
    }
    nodes
}

/// Members of `key` (a sorted set or list) on whichever node holds it.
pub fn cluster_count(nodes: &[Redis], key: &str) -> usize {
    for n in nodes {
        let Ok(kind) = cmd_at(n.port, &["TYPE", key]) else {
            continue;
        };
        let reply = match kind.as_str() {
            "zset" => cmd_at(n.port, &["ZCARD", key]),
            "list" => cmd_at(n.port, &["LLEN", key]),
            _ => continue,
        };
        if let Ok(r) = reply {
            return r.parse().unwrap_or(0);
        }
    }
    0
}
