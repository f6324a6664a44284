//! Test support: a private `redis-server` on a free loopback port, the `worker` binary as a
//! child process, and polling with deadlines (never sleeps that "wait for" something).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound then released; the OS does not hand it out again at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 25 ms until it returns `Some`, or panics with `what` after `limit`.
pub fn poll<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("cronq-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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

/// A `worker` daemon child process with its own config dir, port and log file.
pub struct Daemon {
    pub port: u16,
    pub dir: TempDir,
    child: Option<Child>,
    log: PathBuf,
}

/// The built binary.
pub fn worker_bin() -> &'static str {
    env!("CARGO_BIN_EXE_worker")
}

impl Daemon {
    /// Starts `worker` with `config` (TOML) and `crontab` (if any) against `redis_url`.
    pub fn start(
        redis_url: &str,
        config: &str,
        crontab: Option<&str>,
        env: &[(&str, &str)],
    ) -> Daemon {
        Daemon::start_with_args(redis_url, config, crontab, env, &[])
    }

    /// [`Daemon::start`] with extra command-line arguments.
    pub fn start_with_args(
        redis_url: &str,
        config: &str,
        crontab: Option<&str>,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Daemon {
        Daemon::start_wrapped(&[], redis_url, config, crontab, env, args)
    }

    /// [`Daemon::start_with_args`] run through a wrapper command (e.g. `["unshare", "--pid",
    /// "--fork", "--kill-child", "--mount-proc"]`); the wrapper receives the worker path and
    /// `args` after its own arguments. An empty wrapper runs the worker directly.
    pub fn start_wrapped(
        wrapper: &[&str],
        redis_url: &str,
        config: &str,
        crontab: Option<&str>,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Daemon {
        let dir = TempDir::new("daemon");
        let cfg = dir.write("worker.toml", config);
        let port = free_port();
        let log = dir.path().join("worker.log");
        let mut cmd = match wrapper.split_first() {
            None => Command::new(worker_bin()),
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(worker_bin());
                c
            }
        };
        cmd.args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("WORKER_CONFIG", &cfg)
            .env("WORKER_LISTEN", format!("127.0.0.1:{port}"))
            .env("REDIS_URL", redis_url)
            // Each daemon its own identity (they share a host name); a test sets its own.
            .env("WORKER_ID", format!("test-{port}"))
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "json");
        if let Some(tab) = crontab {
            cmd.env("CRONTAB", dir.write("crontab", tab));
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = cmd.spawn().unwrap();
        Daemon {
            port,
            dir,
            child: Some(child),
            log,
        }
    }

    /// Starts `worker` on the embedded store (no Redis configured: an empty `REDIS_URL` counts
    /// as unset); put `CRONQ_DATA` in `env` to choose the file (default: `data/cronq.db` in the
    /// daemon's own directory).
    pub fn start_embedded(config: &str, crontab: Option<&str>, env: &[(&str, &str)]) -> Daemon {
        Daemon::start("", config, crontab, env)
    }

    pub fn health_url(&self) -> String {
        format!("http://127.0.0.1:{}/health", self.port)
    }

    /// GET /health → (status code, body JSON); None when nothing answers.
    pub fn health(&self) -> Option<(u16, serde_json::Value)> {
        http_get(&self.health_url())
    }

    /// Waits until /health says healthy.
    pub fn wait_healthy(&self) -> serde_json::Value {
        poll(
            Duration::from_secs(20),
            "the daemon to report healthy",
            || {
                self.health()
                    .filter(|(code, _)| *code == 200)
                    .map(|(_, b)| b)
            },
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> i32 {
        let child = self.child.as_mut().unwrap();
        let status = poll(limit, "the daemon to exit", || child.try_wait().unwrap());
        self.child = None;
        status.code().unwrap_or(-1)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A minimal blocking HTTP/1.0 GET on loopback (tests need no HTTP client dependency).
pub fn http_get(url: &str) -> Option<(u16, serde_json::Value)> {
    use std::io::Read;
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Some((
        code,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    ))
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

/// Waits for `child` to exit; after `limit` kills it (a test never hangs, nor leaves it behind)
/// and panics naming `what`.
pub fn wait_or_kill(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `worker ARGS…` to completion with `env` (killed after 30 s: a test never hangs);
/// returns (exit code, stdout, stderr).
pub fn run_worker(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> (i32, String, String) {
    let out_path = cwd.join(format!(".out-{}", free_port()));
    let err_path = cwd.join(format!(".err-{}", free_port()));
    let mut child = Command::new(worker_bin())
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status = wait_or_kill(
        &mut child,
        Duration::from_secs(30),
        &format!("worker {args:?}"),
    );
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let (out, err) = (read(&out_path), read(&err_path));
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    (status.code().unwrap_or(-1), out, err)
}

/// A tiny HTTP server on loopback for the http handler: `/ok` → 200 JSON echoing the request
/// body, `/text` → 200 plain text, `/notfound` → 404, `/error` → 500. Records each request.
pub struct TestHttp {
    pub port: u16,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl TestHttp {
    pub fn start() -> TestHttp {
        use std::io::{BufRead, BufReader, Read};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body).into_owned();
                log.lock().unwrap().push((path.clone(), body.clone()));
                let (code, ctype, resp) = match path.as_str() {
                    "/ok" => (
                        "200 OK",
                        "application/json",
                        format!(
                            "{{\"received\":{}}}",
                            if body.is_empty() { "null".into() } else { body }
                        ),
                    ),
                    "/text" => ("200 OK", "text/plain", "plain words".to_string()),
                    "/notfound" => ("404 Not Found", "text/plain", "no such thing".to_string()),
                    _ => (
                        "500 Internal Server Error",
                        "text/plain",
                        "boom".to_string(),
                    ),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}",
                    resp.len()
                );
            }
        });
        TestHttp { port, requests }
    }
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

/// An HTTP/1.0 request on loopback; returns (status, body text).
pub fn http(method: &str, url: &str, body: Option<&str>, token: Option<&str>) -> (u16, String) {
    use std::io::Read;
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    let code = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// JSON of an HTTP call.
pub fn http_json(
    method: &str,
    url: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let (code, text) = http(method, url, body, token);
    (
        code,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// An open Server-Sent Events stream.
pub struct Sse {
    reader: std::io::BufReader<std::net::TcpStream>,
}

/// One SSE event: (id, event name, data JSON).
pub type SseEvent = (String, String, serde_json::Value);

impl Sse {
    pub fn open(url: &str, last_event_id: Option<&str>, token: Option<&str>) -> Sse {
        use std::io::BufRead;
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest
            .split_once('/')
            .map(|(h, p)| (h, format!("/{p}")))
            .unwrap();
        let mut s = std::net::TcpStream::connect(host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut req =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n");
        if let Some(id) = last_event_id {
            req.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut reader = std::io::BufReader::new(s);
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        Sse { reader }
    }

    /// Reads events until `pred` matches one (or panics after the socket's 20 s timeout).
    pub fn until(&mut self, mut pred: impl FnMut(&SseEvent) -> bool) -> Vec<SseEvent> {
        use std::io::BufRead;
        let mut seen = Vec::new();
        let (mut id, mut name, mut data) = (String::new(), String::new(), String::new());
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .expect("SSE stream stalled");
            assert!(n > 0, "SSE stream ended");
            let line = line.trim_end_matches(['\r', '\n']);
            // Chunked transfer framing lines (hex sizes) carry no "field:" and are skipped.
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim());
            } else if line.is_empty() && !data.is_empty() {
                let ev = (
                    id.clone(),
                    name.clone(),
                    serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                );
                data.clear();
                let done = pred(&ev);
                seen.push(ev);
                if done {
                    return seen;
                }
            }
        }
    }
}
