//! Bull 3/4 interoperability against the real `bull` npm package (4.16.5, pinned in
//! tests/compat/package-lock.json): a queue with `layout = "bull"` is served in Bull's own
//! Redis layout. Each test starts its own redis-server and cronq daemon; the Node side is a
//! script in tests/compat/bull/ that asserts what Node observes (exit 0 = every check held).

mod compat_support;
mod support;

use compat_support::node;
use support::*;

/// Queue `legacy` in Bull's layout: plain = builtin echo, boom = builtin fail.
const HANDLERS: &str = r#"
[worker]
concurrency = 4
[queues.legacy]
layout = "bull"
[queues.legacy.handlers.plain]
builtin = "echo"
[queues.legacy.handlers.boom]
builtin = "fail"
"#;

#[test]
fn bull_producer_jobs_run_by_cronq_look_right_from_bull() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), HANDLERS, None, &[]);
    daemon.wait_healthy();
    node("bull/producer.mjs", &redis.url(), &[]);
    // Nothing of BullMQ's layout was written for the Bull queue.
    assert_eq!(redis.cmd(&["EXISTS", "bull:legacy:events"]), "0");
}
