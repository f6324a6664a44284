//! The image as it starts (no Docker engine here): a directory laid out as the Dockerfile's final
//! stage lays out its WORKDIR (every file it COPYs from the build context, at its place), the
//! image's ENV, and REDIS_HOST/REDIS_PORT as `docker run -e` would set them. Pointed at a Redis
//! that already holds a team's jobs, such a daemon must consume none of them and say why.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The final stage's `WORKDIR`, its `ENV` pairs, and the `COPY SRC DEST` pairs taken from the
/// build context (not `--from` another stage).
struct Stage {
    workdir: String,
    env: Vec<(String, String)>,
    copies: Vec<(String, String)>,
}

fn final_stage() -> Stage {
    let text = std::fs::read_to_string(repo("Dockerfile.worker")).unwrap();
    let last = &text[text.rfind("\nFROM ").expect("a final stage")..];
    let mut stage = Stage {
        workdir: "/".into(),
        env: Vec::new(),
        copies: Vec::new(),
    };
    for line in last.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            Some(&"WORKDIR") => stage.workdir = words[1].to_string(),
            Some(&"ENV") => stage.env.extend(words[1..].iter().filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })),
            Some(&"COPY") if !line.contains("--from") => {
                let paths: Vec<&str> = words[1..]
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let (dest, srcs) = paths.split_last().expect("COPY SRC DEST");
                for src in srcs {
                    stage.copies.push((src.to_string(), dest.to_string()));
                }
            }
            _ => {}
        }
    }
    stage
}

#[test]
fn the_image_copies_no_example_config_or_crontab() {
    let stage = final_stage();
    assert!(
        stage.copies.is_empty(),
        "the image must not ship the example handlers or crontab: {:?}",
        stage.copies
    );
}

#[test]
fn the_daemon_started_as_the_image_starts_consumes_nothing_and_says_why() {
    let redis = Redis::start();
    // A team's real job, waiting in the queue the example config binds to `cat`.
    redis.cmd(&[
        "HSET",
        "bull:email:1",
        "name",
        "send",
        "data",
        "{}",
        "opts",
        "{}",
    ]);
    redis.cmd(&["LPUSH", "bull:email:wait", "1"]);

    let stage = final_stage();
    let root = TempDir::new("image");
    let workdir = root.path().join(stage.workdir.trim_start_matches('/'));
    std::fs::create_dir_all(&workdir).unwrap();
    for (src, dest) in &stage.copies {
        let to = root.path().join(dest.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo(src), &to).unwrap();
    }
    let port = free_port();
    let log = root.path().join("worker.log");
    let port_text = redis.url();
    let redis_port = port_text.rsplit(':').next().unwrap().trim_end_matches("/0");
    let mut cmd = Command::new(worker_bin());
    cmd.current_dir(&workdir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in &stage.env {
        cmd.env(k, v);
    }
    let child = cmd
        .env("WORKER_LISTEN", format!("127.0.0.1:{port}"))
        .env("REDIS_HOST", "127.0.0.1")
        .env("REDIS_PORT", redis_port)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Killed when the test ends, however it ends.
    let mut child = KillOnDrop(child);
    let health = poll(
        Duration::from_secs(20),
        "the daemon to report healthy",
        || http_get(&format!("http://127.0.0.1:{port}/health")).filter(|(code, _)| *code == 200),
    )
    .1;
    let text = poll(Duration::from_secs(10), "the idle warning", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("nothing to run").then_some(text)
    });
    child.stop();

    let starting: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "cronq worker starting")
        .expect("a start line");
    assert_eq!(starting["queues"], "[]", "{text}");
    assert_eq!(starting["entries"], 0, "{text}");
    assert!(
        text.contains("WORKER_CONFIG") && text.contains("CRONTAB"),
        "the warning names the settings: {text}"
    );
    assert_eq!(
        health["queues"].as_object().map_or(0, |q| q.len()),
        0,
        "{health}"
    );
    // The team's job is where its producer left it.
    assert_eq!(redis.cmd(&["LRANGE", "bull:email:wait", "0", "-1"]), "1");
    assert_eq!(redis.cmd(&["EXISTS", "bull:email:active"]), "0");
}

/// The daemon child, killed on drop so a failed assertion leaves no process behind.
struct KillOnDrop(std::process::Child);

impl KillOnDrop {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.stop();
    }
}
