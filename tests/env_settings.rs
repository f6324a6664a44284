//! The environment as teams set it: every malformed value refused with exit 2 naming the
//! variable, `.env` read as Node's dotenv reads it (the process environment first), a blank or
//! newline-ended `API_TOKEN`, the warning when queues run on the embedded store, and the
//! Node-side names (`WORKER_<QUEUE>_CONCURRENCY`, `WORKER_MEMORY_THRESHOLD`, bare seconds).

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{free_port, http, poll, run_worker, worker_bin, Redis, TempDir};

/// `worker` in `dir` (its `.env`, if any, is there), JSON log to `dir/log`.
fn spawn(dir: &Path, port: u16, env: &[(&str, &str)]) -> Child {
    Command::new(worker_bin())
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CRONQ_DATA", dir.join("cronq.db"))
        .env("WORKER_LISTEN", format!("127.0.0.1:{port}"))
        .env("LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("log")).unwrap())
        .spawn()
        .unwrap()
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("log")).unwrap_or_default()
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn malformed_environment_values_exit_2_naming_the_variable() {
    let dir = TempDir::new("env-bad");
    for (var, value) in [
        ("REDIS_PORT", "16392x"),
        ("REDIS_DB", "3x"),
        ("REDIS_TLS", "maybe"),
        ("WORKER_CONCURRENCY", "abc"),
        ("SHUTDOWN_TIMEOUT", "soon"),
        ("LOG_FORMAT", "xml"),
        ("RUST_LOG", "info,cronq=loud"),
        ("API_TOKEN", "  \n"),
        ("WORKER_MAX_MEMORY", "1GX"),
    ] {
        let (code, _, err) = run_worker(&[], &[(var, value)], dir.path());
        assert_eq!(code, 2, "{var}={value:?}: {err}");
        assert!(err.contains(var), "{var}: names the variable: {err}");
        assert!(!err.contains("out of range"), "{err}");
    }
    // A URL naming one database and REDIS_DB another: neither is silently dropped.
    let (code, _, err) = run_worker(
        &[],
        &[("REDIS_URL", "redis://127.0.0.1:1/0"), ("REDIS_DB", "3")],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("REDIS_DB"), "{err}");
}

#[test]
fn dot_env_in_the_working_directory_is_read_and_the_environment_wins() {
    let redis = Redis::start();
    let dir = TempDir::new("dotenv");
    let url = redis.url();
    dir.write(
        ".env",
        // WORKER_LISTEN here would fail (port 1); the process environment's wins.
        &format!("# as the Node side keeps it\nREDIS_URL={url}\nWORKER_LISTEN=127.0.0.1:1\n"),
    );
    let port = free_port();
    let _w = Kill(spawn(dir.path(), port, &[]));
    let line = poll(Duration::from_secs(20), "the starting line", || {
        log(dir.path())
            .lines()
            .find(|l| l.contains("cronq worker starting"))
            .map(str::to_string)
    });
    assert!(line.contains("\"store\":\"redis\""), "{line}");
    let redis_port = url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/0")
        .to_string();
    poll(Duration::from_secs(20), "healthy on that Redis", || {
        let (code, body) = http(
            "GET",
            &format!("http://127.0.0.1:{port}/health"),
            None,
            None,
        );
        (code == 200 && body.contains(&format!(":{redis_port}"))).then_some(())
    });
}

#[test]
fn a_token_with_a_trailing_newline_still_matches() {
    let dir = TempDir::new("token-newline");
    let port = free_port();
    let _w = Kill(spawn(dir.path(), port, &[("API_TOKEN", "s3cret\n")]));
    let url = format!("http://127.0.0.1:{port}/api/queues");
    poll(Duration::from_secs(20), "the port", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let (code, body) = poll(Duration::from_secs(20), "the store", || {
        let (code, body) = http("GET", &url, None, Some("s3cret"));
        (code != 503).then_some((code, body))
    });
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        http("GET", &url, None, Some("other")).0,
        401,
        "the token is in force"
    );
}

#[test]
fn queues_on_the_embedded_store_are_warned_about_once() {
    let dir = TempDir::new("embedded-warn");
    let cfg = dir.write(
        "worker.toml",
        "[queues.video.handlers.transcode]\nbuiltin = \"noop\"\n",
    );
    let port = free_port();
    let _w = Kill(spawn(
        dir.path(),
        port,
        &[("WORKER_CONFIG", cfg.to_str().unwrap())],
    ));
    poll(Duration::from_secs(20), "the warning", || {
        log(dir.path()).contains("will not be seen").then_some(())
    });
    let text = log(dir.path());
    let warnings = text.lines().filter(|l| l.contains("will not be seen"));
    assert_eq!(warnings.count(), 1, "{text}");
    assert!(text.contains("REDIS_URL"), "says the fix: {text}");
}

#[test]
fn node_side_names_and_units_are_read() {
    let dir = TempDir::new("node-names");
    let cfg = dir.write(
        "worker.toml",
        "[queues.video.handlers.transcode]\nbuiltin = \"noop\"\n",
    );
    let port = free_port();
    let _w = Kill(spawn(
        dir.path(),
        port,
        &[
            ("WORKER_CONFIG", cfg.to_str().unwrap()),
            ("WORKER_VIDEO_CONCURRENCY", "3"),
            ("WORKER_MAX_RUNTIME", "86400"),
            // Node setups' name; 1 MB is below any resident size, so it recycles at once.
            ("WORKER_MEMORY_THRESHOLD", "1MB"),
        ],
    ));
    let line = poll(Duration::from_secs(20), "the video pool", || {
        log(dir.path())
            .lines()
            .find(|l| l.contains("worker pool started") && l.contains("video"))
            .map(str::to_string)
    });
    assert!(line.contains("\"concurrency\":3"), "{line}");
    poll(Duration::from_secs(20), "the memory recycle", || {
        log(dir.path()).contains("max-memory 1 MiB").then_some(())
    });
}
