//! The drain deadline bounds shutdown whatever Redis does: SIGTERM with Redis frozen
//! (`DEBUG SLEEP`) and a job finishing during the drain used to take the deadline plus ~7.6 s
//! (3 s → 10.6 s; with the default 25 s, past Kubernetes' 30 s grace, which then SIGKILLs).

mod fault_support;
mod support;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::*;

const CONFIG: &str = r#"
[worker]
concurrency = 1
[queues.slow.handlers.nap]
exec = "sleep 1"
"#;

/// The kill grace a handler gets after TERM at the deadline (`worker::handler::KILL_GRACE`).
const KILL_GRACE: Duration = Duration::from_secs(3);

#[test]
fn a_frozen_redis_does_not_hold_the_exit_past_the_drain_deadline() {
    let redis = Redis::start_with(&["--enable-debug-command", "yes"]);
    let mut daemon = Daemon::start(&redis.url(), CONFIG, None, &[("SHUTDOWN_TIMEOUT", "3s")]);
    daemon.wait_healthy();
    fault_support::api_add(daemon.port, "slow", &serde_json::json!({"name": "nap"}));
    poll(Duration::from_secs(10), "the job to run", || {
        (redis.cmd(&["LLEN", "bull:slow:active"]) == "1").then_some(())
    });
    let port = redis.port;
    let freeze = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/0"))
            .unwrap()
            .get_connection()
            .unwrap();
        let _: redis::RedisResult<()> = redis::cmd("DEBUG").arg("SLEEP").arg(20).query(&mut c);
    });
    // Frozen: a PING from another connection gets no answer.
    poll(Duration::from_secs(5), "Redis to freeze", || {
        let pinged = redis::Client::open(format!("redis://127.0.0.1:{port}/0"))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(300)))
            .and_then(|mut c| {
                c.set_read_timeout(Some(Duration::from_millis(300)))?;
                redis::cmd("PING").query::<String>(&mut c)
            });
        pinged.is_err().then_some(())
    });
    let t = Instant::now();
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)), 0);
    let took = t.elapsed();
    let bound = Duration::from_secs(3) + KILL_GRACE + Duration::from_secs(2);
    assert!(
        took < bound,
        "SIGTERM to exit took {took:?}; the bound is {bound:?}"
    );
    eprintln!(
        "faults_drain/frozen: shutdown_timeout=3s sigterm_to_exit_ms={}",
        took.as_millis()
    );
    drop(freeze);
}
