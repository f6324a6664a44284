//! Paused schedule entries in Redis: one HASH, `<prefix>:cronq:schedules:paused`, entry id →
//! `{"since_ms": …, "note": …}` (cronq's own key; BullMQ never reads it). Every daemon on the
//! Redis reads the same hash, so a pause through one replica's API holds on all of them.
//! A field whose value does not parse (written by hand or by something else) still pauses its
//! entry: the field's presence is the pause, the value only describes it.

use super::RedisStore;
use crate::queue::contract::SchedulePause;
use crate::queue::error::Error;

/// The hash's key under `prefix`.
pub(super) fn key(prefix: &str) -> String {
    format!("{prefix}:cronq:schedules:paused")
}

/// The stored value of `p`.
fn value(p: &SchedulePause) -> String {
    serde_json::json!({"since_ms": p.since_ms, "note": p.note}).to_string()
}

/// The pause of field `entry` with stored `value`.
fn parse(entry: String, value: &str) -> SchedulePause {
    let v: serde_json::Value = serde_json::from_str(value).unwrap_or_default();
    SchedulePause {
        entry,
        since_ms: v.get("since_ms").and_then(|s| s.as_i64()).unwrap_or(0),
        note: v.get("note").and_then(|n| n.as_str()).map(str::to_string),
    }
}

impl RedisStore {
    pub(super) async fn read_pauses(&self) -> Result<Vec<SchedulePause>, Error> {
        let all: std::collections::HashMap<String, String> = self
            .inner
            .conn
            .cmd(redis::cmd("HGETALL").arg(key(&self.inner.prefix)))
            .await
            .map_err(|e| Error::engine("*", e))?;
        let mut out: Vec<SchedulePause> = all.into_iter().map(|(e, v)| parse(e, &v)).collect();
        out.sort_by(|a, b| a.entry.cmp(&b.entry));
        Ok(out)
    }

    pub(super) async fn write_pause(
        &self,
        entry: &str,
        pause: Option<&SchedulePause>,
    ) -> Result<(), Error> {
        let key = key(&self.inner.prefix);
        let mut cmd = match pause {
            Some(p) => {
                let mut c = redis::cmd("HSET");
                c.arg(&key).arg(entry).arg(value(p));
                c
            }
            None => {
                let mut c = redis::cmd("HDEL");
                c.arg(&key).arg(entry);
                c
            }
        };
        let _: i64 = self
            .inner
            .conn
            .cmd(&mut cmd)
            .await
            .map_err(|e| Error::engine("*", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_a_foreign_value_still_pauses() {
        let p = SchedulePause {
            entry: "backup".into(),
            since_ms: 1_800_000_000_000,
            note: Some("disk full, see INC-42".into()),
        };
        assert_eq!(parse("backup".into(), &value(&p)), p);
        let odd = parse("x".into(), "not json");
        assert_eq!((odd.since_ms, odd.note), (0, None));
    }
}
