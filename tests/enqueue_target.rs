//! Where `worker enqueue` writes: in the layout a Redis queue's keys show (or a refusal naming
//! the mismatch), and on the embedded store only into a file that exists, saying which file and
//! whether a daemon reads it.

mod support;

use support::*;

/// What Bull 3/4's `Queue.add` leaves for a plain job: the id counter, the job hash, `wait`.
fn bull_queue_with_one_job(redis: &Redis) {
    redis.cmd(&["INCR", "bull:legacy:id"]);
    write_plain_job(redis, "legacy", "1", "plain");
    redis.cmd(&["LPUSH", "bull:legacy:wait", "1"]);
}

#[test]
fn enqueue_on_an_unconfigured_bull_queue_writes_bulls_layout() {
    let redis = Redis::start();
    bull_queue_with_one_job(&redis);
    let dir = TempDir::new("enqueue-bull");
    let cfg = dir.write("worker.toml", "");
    let (code, out, err) = run_worker(
        &["enqueue", "legacy", "plain", "--data", r#"{"a":1}"#],
        &[
            ("REDIS_URL", &redis.url()),
            ("WORKER_CONFIG", cfg.to_str().unwrap()),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let id = out.trim();
    assert!(
        err.contains("Bull 3/4's layout") && err.contains("layout = \"bull\""),
        "{err}"
    );
    // Bull's keys only: the id is in `wait` beside the first, no BullMQ stream or meta.
    assert_eq!(
        redis.cmd(&["LRANGE", "bull:legacy:wait", "0", "-1"]),
        format!("{id}\n1")
    );
    assert_eq!(redis.cmd(&["EXISTS", "bull:legacy:events"]), "0");
    assert_eq!(redis.cmd(&["EXISTS", "bull:legacy:meta"]), "0");
    assert_eq!(job_field(&redis, "legacy", id, "data"), r#"{"a":1}"#);
}

#[test]
fn enqueue_refuses_a_queue_configured_in_the_other_layout() {
    let redis = Redis::start();
    bull_queue_with_one_job(&redis);
    let dir = TempDir::new("enqueue-mismatch");
    let cfg = dir.write(
        "worker.toml",
        "[queues.legacy.handlers.plain]\nbuiltin = \"echo\"\n",
    );
    let (code, out, err) = run_worker(
        &["enqueue", "legacy", "plain"],
        &[
            ("REDIS_URL", &redis.url()),
            ("WORKER_CONFIG", cfg.to_str().unwrap()),
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("[queues.legacy] layout = \"bull\"") && err.contains("nothing was added"),
        "{err}"
    );
    assert_eq!(redis.cmd(&["LRANGE", "bull:legacy:wait", "0", "-1"]), "1");
    assert_eq!(redis.cmd(&["EXISTS", "bull:legacy:events"]), "0");
}

const EMBEDDED: &str = "[queues.work.handlers.echo]\nbuiltin = \"echo\"\n";

#[test]
fn enqueue_never_creates_an_embedded_store() {
    let dir = TempDir::new("enqueue-nowhere");
    let cfg = dir.write("worker.toml", EMBEDDED);
    let (code, out, err) = run_worker(
        &["enqueue", "work", "echo"],
        &[("WORKER_CONFIG", cfg.to_str().unwrap())],
        dir.path(),
    );
    let db = dir.path().join("data").join("cronq.db");
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "no id for a job nobody stored: {out}");
    assert!(
        err.contains(&format!("no embedded store at {}", db.display()))
            && err.contains("CRONQ_DATA"),
        "{err}"
    );
    assert!(
        !db.exists() && !dir.path().join("data").exists(),
        "nothing created"
    );
}

#[test]
fn enqueue_on_the_embedded_store_names_the_file_and_warns_without_a_daemon() {
    let mut daemon = Daemon::start_embedded(EMBEDDED, None, &[]);
    daemon.wait_healthy();
    let db = daemon.dir.path().join("data").join("cronq.db");
    let elsewhere = TempDir::new("enqueue-elsewhere");
    let cfg = elsewhere.write("worker.toml", EMBEDDED);
    let env = [
        ("WORKER_CONFIG", cfg.to_str().unwrap()),
        ("CRONQ_DATA", db.to_str().unwrap()),
    ];
    let (code, out, err) = run_worker(&["enqueue", "work", "echo"], &env, elsewhere.path());
    assert_eq!(code, 0, "{err}");
    assert!(!out.trim().is_empty());
    assert!(
        err.contains(&format!("added to the embedded store {}", db.display())),
        "{err}"
    );
    assert!(
        !err.contains("no worker daemon"),
        "a daemon holds it: {err}"
    );

    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    daemon.wait_exit(std::time::Duration::from_secs(30));
    let (code, _, err) = run_worker(&["enqueue", "work", "echo"], &env, elsewhere.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("no worker daemon is running on {}", db.display())),
        "{err}"
    );
}
