//! Which crontab entries live daemons hold, so a daemon that meets a crontab job of an entry it
//! does not hold (another service's crontab on the same Redis, the other side of a rolling
//! update) hands it back instead of failing it. One hash per queue, entry id → Unix ms until
//! which some daemon vouches for it; each daemon refreshes its own entries well within that
//! time, so an entry whose every holder is gone lapses by itself. Expired fields are removed on
//! each refresh; the hash itself expires when no daemon refreshes it any more.

use std::time::Duration;

use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::consumer::now_ms;
use crate::queue::Error;

impl RedisStore {
    /// Vouches for `entries` of `queue` for `ttl` from now.
    pub async fn advertise_entries(
        &self,
        queue: &str,
        entries: &[String],
        ttl: Duration,
    ) -> Result<(), Error> {
        let key = QueueKeys::new(self.prefix(), queue).cron_entries();
        let now = now_ms();
        let held: std::collections::HashMap<String, u64> = self
            .inner
            .conn
            .cmd(redis::cmd("HGETALL").arg(&key))
            .await
            .map_err(|e| Error::engine(queue, e))?;
        let lapsed: Vec<&String> = held
            .iter()
            .filter(|(_, until)| **until < now)
            .map(|(e, _)| e)
            .collect();
        if !lapsed.is_empty() {
            let _: i64 = self
                .inner
                .conn
                .cmd(redis::cmd("HDEL").arg(&key).arg(lapsed))
                .await
                .map_err(|e| Error::engine(queue, e))?;
        }
        if entries.is_empty() {
            return Ok(());
        }
        let until = now + ttl.as_millis() as u64;
        let mut hset = redis::cmd("HSET");
        hset.arg(&key);
        for e in entries {
            // Another daemon may vouch for longer (its clock, its last refresh): keep the later.
            let until = held.get(e).copied().unwrap_or(0).max(until);
            hset.arg(e).arg(until);
        }
        let _: i64 = self
            .inner
            .conn
            .cmd(&mut hset)
            .await
            .map_err(|e| Error::engine(queue, e))?;
        let _: i64 = self
            .inner
            .conn
            .cmd(
                redis::cmd("PEXPIRE")
                    .arg(&key)
                    .arg(2 * ttl.as_millis() as u64),
            )
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(())
    }

    /// Whether some live daemon vouches for `entry` of `queue` now.
    pub async fn entry_claimed(&self, queue: &str, entry: &str) -> Result<bool, Error> {
        let key = QueueKeys::new(self.prefix(), queue).cron_entries();
        let until: Option<u64> = self
            .inner
            .conn
            .cmd(redis::cmd("HGET").arg(&key).arg(entry))
            .await
            .map_err(|e| Error::engine(queue, e))?;
        Ok(until.is_some_and(|u| u >= now_ms()))
    }
}
