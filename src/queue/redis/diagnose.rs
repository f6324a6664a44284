//! Naming the key behind a `WRONGTYPE`: Redis says only "a key holding the wrong kind of
//! value", not which. When a queue's call fails that way, one `TYPE` per state key of the
//! queue finds the culprit, so the message names queue, key, its type and the fix. Runs only
//! after such a failure (no cost on the normal path).

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::error::Error;

/// A queue's state keys and the type BullMQ's layout gives each.
fn layout(k: &QueueKeys) -> [(String, &'static str); 9] {
    [
        (k.wait(), "list"),
        (k.active(), "list"),
        (k.key("paused"), "list"),
        (k.prioritized(), "zset"),
        (k.delayed(), "zset"),
        (k.completed(), "zset"),
        (k.failed(), "zset"),
        (k.key("waiting-children"), "zset"),
        (k.meta(), "hash"),
    ]
}

/// How often a queue's wrong-typed keys are named again while fetches keep failing.
const RENAME_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl RedisStore {
    /// Logs `queue`'s wrong-typed state keys (after a fetch failed with WRONGTYPE), unless
    /// they were named within the last minute (`last`); returns when they were last named.
    /// The engine's own warning, every half second, names neither queue nor key.
    pub(crate) async fn name_broken_keys(
        &self,
        queue: &str,
        last: Option<std::time::Instant>,
    ) -> Option<std::time::Instant> {
        if last.is_some_and(|at| at.elapsed() < RENAME_EVERY) {
            return last;
        }
        let wrong = self.wrong_keys(queue).await;
        for (key, seen, want) in &wrong {
            tracing::error!(queue, key = %key.escape_debug(), found = %seen, expected = *want,
                "the queue cannot be served: a key of BullMQ's layout has the wrong type; \
                 rename or delete it (redis-cli TYPE / RENAME) and the queue resumes");
        }
        if wrong.is_empty() {
            last
        } else {
            Some(std::time::Instant::now())
        }
    }

    /// `err` (from a call on `queue`), with the queue's wrong-typed keys named when it is a
    /// `WRONGTYPE`; any other error is returned as it is.
    pub(crate) async fn name_wrong_keys(&self, queue: &str, err: Error) -> Error {
        let Error::Engine { message, .. } = &err else {
            return err;
        };
        if !message.contains("WRONGTYPE") {
            return err;
        }
        let wrong = self.wrong_keys(queue).await;
        if wrong.is_empty() {
            return err;
        }
        let named: Vec<String> = wrong
            .iter()
            .map(|(key, seen, want)| format!("key {key:?} is a {seen} where BullMQ keeps a {want}"))
            .collect();
        Error::Engine {
            queue: queue.to_string(),
            message: format!(
                "WRONGTYPE: {}; rename or delete it (redis-cli TYPE / RENAME) to repair the queue",
                named.join(", ")
            ),
        }
    }

    /// `(key, its type, the layout's type)` of each state key of `queue` whose type is wrong.
    pub(crate) async fn wrong_keys(&self, queue: &str) -> Vec<(String, String, &'static str)> {
        let keys = layout(&QueueKeys::new(self.prefix(), queue));
        let mut pipe = redis::pipe();
        for (key, _) in &keys {
            pipe.cmd("TYPE").arg(key);
        }
        let Ok(types) = self.inner.conn.pipe::<Vec<String>>(&pipe).await else {
            return Vec::new();
        };
        keys.into_iter()
            .zip(types)
            .filter(|((_, want), seen)| seen != "none" && seen != want)
            .map(|((key, want), seen)| (key, seen, want))
            .collect()
    }
}
