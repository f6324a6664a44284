//! Calling one of our Lua scripts on a queue's keys, for both Redis layouts (Bull's, in
//! `bull/`, and cronq's own scripts beside the engine in `redis/`).
//!
//! Why one place: a script's KEYS are positional, and each call site used to spell them as a
//! chain of `.key(k.key("…"))` lines ending in the same `invoke_async … map_err` tail, written
//! again for every script. Here a call names its keys as one list of key-name suffixes, read
//! beside the script's `-- KEYS[1] …` header, and a Redis error always becomes the queue's
//! engine error the same way. Which names a layout has stays with the module that owns that
//! layout's keys (`bull/mod.rs`, `redis/keys.rs`); this leaf only joins base and suffix.

use redis::aio::ConnectionLike;
use redis::{FromRedisValue, Pipeline, Script, ScriptInvocation};

use super::error::Error;

/// `script` with `base + suffix` as its KEYS, one per suffix, in order (`base` is a queue's
/// `"<prefix>:<queue>:"`; a job id is a suffix too: its hash is `base + id`).
pub(crate) fn invocation<'a>(
    script: &'a Script,
    base: &str,
    suffixes: &[&str],
) -> ScriptInvocation<'a> {
    let mut inv = script.prepare_invoke();
    for suffix in suffixes {
        inv.key(format!("{base}{suffix}"));
    }
    inv
}

/// Runs `inv` (EVALSHA, loading the source once on NOSCRIPT); a Redis error is `queue`'s.
pub(crate) async fn invoke<T: FromRedisValue>(
    inv: &ScriptInvocation<'_>,
    conn: &mut impl ConnectionLike,
    queue: &str,
) -> Result<T, Error> {
    inv.invoke_async(conn)
        .await
        .map_err(|e| Error::engine(queue, e))
}

/// Adds `command base+suffix` to `pipe` for each suffix: several keys read with the same
/// command in one round trip (a probe of which keys exist, or of each list's length).
pub(crate) fn each<'p>(
    pipe: &'p mut Pipeline,
    command: &str,
    base: &str,
    suffixes: &[&str],
) -> &'p mut Pipeline {
    for suffix in suffixes {
        pipe.cmd(command).arg(format!("{base}{suffix}"));
    }
    pipe
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a real server: the script echoes its KEYS and ARGV, so what was sent is seen.
    #[tokio::test]
    async fn keys_are_base_and_suffix_in_the_order_given() {
        let redis = crate::queue::redis::test_server::Redis::start();
        let store = crate::queue::redis::test_server::connect(redis.1).await;
        let script = Script::new("return {KEYS[1], KEYS[2], KEYS[3], ARGV[1]}");
        let mut inv = invocation(&script, "bull:q:", &["wait", "42", "meta-paused"]);
        inv.arg("x");
        let mut conn = store.inner.conn.connection();
        let echoed: Vec<String> = invoke(&inv, &mut conn, "q").await.unwrap();
        assert_eq!(
            echoed,
            ["bull:q:wait", "bull:q:42", "bull:q:meta-paused", "x"]
        );
        // A script error is the queue's engine error, naming the queue.
        let broken = Script::new("return redis.call('NOSUCHCOMMAND')");
        let err = invoke::<i64>(&broken.prepare_invoke(), &mut conn, "q")
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Engine { ref queue, .. } if queue == "q"),
            "{err:?}"
        );
    }

    #[test]
    fn each_adds_one_command_per_suffix() {
        let mut pipe = redis::pipe();
        each(&mut pipe, "LLEN", "bull:q:", &["wait", "paused"]);
        let mut direct = redis::pipe();
        direct
            .cmd("LLEN")
            .arg("bull:q:wait")
            .cmd("LLEN")
            .arg("bull:q:paused");
        assert_eq!(pipe.get_packed_pipeline(), direct.get_packed_pipeline());
    }
}
