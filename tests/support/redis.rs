//! A private `redis-server` per test (free loopback port, no persistence unless asked) and
//! reading BullMQ's keys for assertions.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, poll, run_worker, TempDir};

/// A `redis-server` owned by one test: loopback only, no persistence unless asked, killed on drop.
pub struct Redis {
    pub port: u16,
    dir: TempDir,
    child: Option<Child>,
    extra: Vec<String>,
}

impl Redis {
    pub fn start() -> Redis {
        Redis::start_with(&[])
    }

    /// Starts with extra `redis-server` arguments (e.g. `["--appendonly", "yes"]`).
    pub fn start_with(extra: &[&str]) -> Redis {
        let mut r = Redis {
            port: free_port(),
            dir: TempDir::new("redis"),
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(redis_server_path());
        cmd.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
        ])
        .arg(self.dir.path())
        .args(["--daemonize", "no", "--loglevel", "warning"])
        .args(&self.extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        self.child = Some(
            cmd.spawn()
                .expect("redis-server must be installed (apt-get install redis-server)"),
        );
        let port = self.port;
        poll(
            Duration::from_secs(10),
            "redis-server to answer PING",
            // A server started with `--requirepass` answers NOAUTH: it is up all the same.
            || match redis_cmd(port, &["PING"]) {
                Ok(r) => (r == "PONG").then_some(()),
                Err(e) => e.contains("NOAUTH").then_some(()),
            },
        );
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// A synchronous connection for assertions.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Runs one command, returning its reply as a string.
    pub fn cmd(&self, args: &[&str]) -> String {
        redis_cmd(self.port, args).unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn redis_server_path() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

fn redis_cmd(port: u16, args: &[&str]) -> Result<String, String> {
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{port}/0")).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    let v: redis::Value = c.query(&mut conn).map_err(|e| e.to_string())?;
    Ok(value_text(&v))
}

fn value_text(v: &redis::Value) -> String {
    match v {
        redis::Value::Nil => String::new(),
        redis::Value::Int(i) => i.to_string(),
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Okay => "OK".into(),
        redis::Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join("\n"),
        other => format!("{other:?}"),
    }
}

/// Writes the job hash a plain producer leaves for job `id` of `queue` (`name`, empty data and
/// options, timestamp 1, no delay or priority), without putting it in any state.
pub fn write_plain_job(redis: &Redis, queue: &str, id: &str, name: &str) {
    let key = format!("bull:{queue}:{id}");
    redis.cmd(&[
        "HSET",
        &key,
        "name",
        name,
        "data",
        "{}",
        "opts",
        "{}",
        "timestamp",
        "1",
        "delay",
        "0",
        "priority",
        "0",
    ]);
}

/// Reads a job hash field.
pub fn job_field(redis: &Redis, queue: &str, id: &str, field: &str) -> String {
    redis.cmd(&["HGET", &format!("bull:{queue}:{id}"), field])
}

/// Members of a sorted set / list state of a queue.
pub fn ids_in(redis: &Redis, queue: &str, state: &str) -> Vec<String> {
    let key = format!("bull:{queue}:{state}");
    let kind = redis.cmd(&["TYPE", &key]);
    let out = match kind.as_str() {
        "list" => redis.cmd(&["LRANGE", &key, "0", "-1"]),
        "zset" => redis.cmd(&["ZRANGE", &key, "0", "-1"]),
        _ => String::new(),
    };
    out.lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Every job id of `queue`, whatever its state.
pub fn all_job_ids(redis: &Redis, queue: &str) -> Vec<String> {
    let mut ids: Vec<String> = [
        "wait",
        "active",
        "delayed",
        "prioritized",
        "completed",
        "failed",
    ]
    .iter()
    .flat_map(|s| ids_in(redis, queue, s))
    .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The job's state as BullMQ's `getState` would say, from the keys (enough for tests).
pub fn job_state(redis: &Redis, queue: &str, id: &str) -> String {
    for state in ["completed", "failed", "delayed", "prioritized"] {
        if !redis
            .cmd(&["ZSCORE", &format!("bull:{queue}:{state}"), id])
            .is_empty()
        {
            return state.into();
        }
    }
    for (state, key) in [("active", "active"), ("waiting", "wait")] {
        if ids_in(redis, queue, key).iter().any(|x| x == id) {
            return state.into();
        }
    }
    "unknown".into()
}

/// Waits until job `id` is completed or failed; returns that state.
pub fn wait_finished(redis: &Redis, queue: &str, id: &str, limit: Duration) -> String {
    poll(limit, &format!("job {queue}/{id} to finish"), || {
        let s = job_state(redis, queue, id);
        (s == "completed" || s == "failed").then_some(s)
    })
}

/// `worker enqueue` against this Redis with `config`; returns the job id.
pub fn enqueue(redis: &Redis, dir: &TempDir, config: &str, args: &[&str]) -> String {
    let cfg = dir.write("enqueue.toml", config);
    let mut full = vec!["enqueue"];
    full.extend_from_slice(args);
    let (code, out, err) = run_worker(
        &full,
        &[
            ("REDIS_URL", &redis.url()),
            ("WORKER_CONFIG", cfg.to_str().unwrap()),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "enqueue {args:?} failed: {err}");
    out.trim().to_string()
}

/// The start (ms) of the minute a queue's job metrics are still counting: BullMQ's and Bull 4's
/// `metrics:completed` hash keeps it as `prevTS`.
pub fn open_metrics_minute(redis: &Redis, queue: &str) -> i64 {
    let prev_ts: i64 = redis
        .cmd(&["HGET", &format!("bull:{queue}:metrics:completed"), "prevTS"])
        .parse()
        .unwrap();
    prev_ts.div_euclid(60_000) * 60_000
}

/// In a `/api/queues/{q}/metrics` answer: the completed count of the minute starting at `ms`.
pub fn completed_in_minute(metrics: &serde_json::Value, ms: i64) -> Option<u64> {
    metrics["buckets"]
        .as_array()?
        .iter()
        .find(|b| b["start"] == ms)
        .map(|b| b["completed"].as_u64().unwrap())
}

/// In a `/api/queues/{q}/metrics` answer: the completed jobs of the minutes before `ms`.
pub fn completed_before_minute(metrics: &serde_json::Value, ms: i64) -> u64 {
    metrics["buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["start"].as_i64() < Some(ms))
        .map(|b| b["completed"].as_u64().unwrap())
        .sum()
}
