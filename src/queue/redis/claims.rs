//! Which crontab entries live daemons hold, so a daemon that meets a crontab job of an entry it
//! does not hold (another service's crontab on the same Redis, the other side of a rolling
//! update) hands it back instead of failing it. One hash per queue, entry id → Unix ms until
//! which some daemon vouches for it; each daemon refreshes its own entries well within that
//! time, so an entry whose every holder is gone lapses by itself. Expired fields are removed on
//! each refresh; the hash itself expires when no daemon refreshes it any more.
//!
//! Which daemon vouches is a second field per holder, `<entry>` + U+001F + `<WORKER_ID>` →
//! until-ms, beside the plain `<entry>` → until-ms field. The plain field keeps its format so
//! daemons of the previous release (which read every value as a number and check only the
//! plain field) go on working on the same hash; the separator is a control character, which
//! no entry id contains. The per-holder fields let a daemon tell, for
//! `[cron] when_store_down = "run_if_alone"`, whether another daemon was alive for an entry.

use super::client::on;
use super::keys::QueueKeys;
use super::RedisStore;
use crate::queue::consumer::now_ms;
use crate::queue::contract::{Advert, Claims, SchedulePause};
use crate::queue::error::Error;
use async_trait::async_trait;

impl RedisStore {}

/// Separates an entry id from its holder's WORKER_ID in a per-holder field.
const HOLDER_SEP: char = '\u{1f}';

/// The per-holder field of `entry` vouched for by `holder`.
fn holder_field(entry: &str, holder: &str) -> String {
    format!("{entry}{HOLDER_SEP}{holder}")
}

/// `(entry, holder)` of a per-holder field; `None` for a plain entry field.
fn split_holder(field: &str) -> Option<(&str, &str)> {
    field.split_once(HOLDER_SEP)
}

#[async_trait]
impl Claims for RedisStore {
    /// Vouches, as daemon `advert.holder`, for its entries of `advert.queue` for `advert.ttl`
    /// from now; returns those entries another live daemon (not the holder) vouches for too.
    async fn advertise_entries(&self, advert: Advert<'_>) -> Result<Vec<String>, Error> {
        let Advert {
            queue,
            holder,
            entries,
            ttl,
        } = advert;
        let key = QueueKeys::new(self.prefix(), queue).cron_entries();
        let now = now_ms();
        let held: std::collections::HashMap<String, u64> =
            on(queue, self.inner.conn.cmd(redis::cmd("HGETALL").arg(&key))).await?;
        let lapsed: Vec<&String> = held
            .iter()
            .filter(|(_, until)| **until < now)
            .map(|(e, _)| e)
            .collect();
        if !lapsed.is_empty() {
            let _: i64 = on(
                queue,
                self.inner
                    .conn
                    .cmd(redis::cmd("HDEL").arg(&key).arg(lapsed)),
            )
            .await?;
        }
        let shared: Vec<String> = entries
            .iter()
            .filter(|e| {
                held.iter().any(|(field, until)| {
                    *until >= now
                        && split_holder(field)
                            .is_some_and(|(entry, by)| entry == *e && by != holder)
                })
            })
            .cloned()
            .collect();
        if entries.is_empty() {
            return Ok(shared);
        }
        let until = now + ttl.as_millis() as u64;
        let mut hset = redis::cmd("HSET");
        hset.arg(&key);
        for e in entries {
            // Another daemon may vouch for longer (its clock, its last refresh): keep the later.
            let until = held.get(e).copied().unwrap_or(0).max(until);
            hset.arg(e).arg(until);
            hset.arg(holder_field(e, holder)).arg(until);
        }
        let _: i64 = on(queue, self.inner.conn.cmd(&mut hset)).await?;
        let _: i64 = on(
            queue,
            self.inner.conn.cmd(
                redis::cmd("PEXPIRE")
                    .arg(&key)
                    .arg(2 * ttl.as_millis() as u64),
            ),
        )
        .await?;
        Ok(shared)
    }

    /// Whether some live daemon vouches for `entry` of `queue` now.
    async fn entry_claimed(&self, queue: &str, entry: &str) -> Result<bool, Error> {
        let key = QueueKeys::new(self.prefix(), queue).cron_entries();
        let until: Option<u64> = on(
            queue,
            self.inner.conn.cmd(redis::cmd("HGET").arg(&key).arg(entry)),
        )
        .await?;
        Ok(until.is_some_and(|u| u >= now_ms()))
    }

    /// Paused schedule entries (`pauses.rs`).
    async fn schedule_pauses(&self) -> Result<Vec<SchedulePause>, Error> {
        self.read_pauses().await
    }

    async fn set_schedule_pause(
        &self,
        entry: &str,
        pause: Option<&SchedulePause>,
    ) -> Result<(), Error> {
        self.write_pause(entry, pause).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_fields_round_trip_and_plain_fields_have_no_holder() {
        let f = holder_field("abc123", "web-1");
        assert_eq!(split_holder(&f), Some(("abc123", "web-1")));
        assert_eq!(split_holder("abc123"), None);
    }
}
