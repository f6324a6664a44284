//! Bull 3/4 repeatable jobs (`queue.add(name, data, { repeat: { every } | { cron } })`): Bull
//! registers each in the `B+repeat` ZSET (member = the repeat key
//! `name:jobId:endDate:tz:cron` or `name:jobId:endDate:every`, score = next iteration ms) and
//! adds only the first iteration, with id `repeat:<hash>:<millis>`. Every later iteration is
//! added by the worker that takes the current one. cronq does the same when it takes one, so a
//! Bull repeatable keeps repeating on cronq instead of running once.
//!
//! The `<hash>` part (Bull's md5 of name, jobId and key) is the same for every iteration, so the
//! next id is the current one with the new time: no hash is recomputed. The next time follows
//! Bull's rules: `every` = the next multiple of `every` after max(now, previous iteration);
//! `cron` = the next fire after that instant (or `startDate`) in `tz`, by cronq's own cron
//! matcher (6 fields are read as cron-parser reads them, seconds first). `limit` and `endDate`
//! stop it; removing the repeatable (`removeRepeatable`) stops it at the next take. One thing
//! cronq does that Bull's worker does not: an iteration taken again (a retry, a stalled job)
//! adds nothing once the chain has moved past it, so a late retry cannot start a second chain.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::context::Loop;
use super::scripts;
use crate::queue::consumer::now_ms;

/// The next iteration to add.
#[derive(Debug, PartialEq)]
pub(super) struct Next {
    /// The repeat key (member of `B+repeat`).
    key: String,
    /// When it runs (ms).
    millis: u64,
    /// Its job id, `repeat:<hash>:<millis>`.
    id: String,
    /// Its `opts`.
    opts: Value,
    /// Its delay from `now` (ms).
    delay: u64,
    /// The time of the iteration taken (ms, from its id).
    current: u64,
}

/// Adds the next iteration of the job `id` just taken, when it is a repeatable one. Problems
/// are logged, never fatal: the iteration taken runs either way.
pub(super) async fn schedule_next(ctx: &Loop, id: &str, hash: &HashMap<String, String>) {
    let now = now_ms();
    let next = match plan(id, hash, now) {
        Ok(Some(next)) => next,
        Ok(None) => return,
        Err(reason) => {
            tracing::warn!(queue = %ctx.queue, job_id = %crate::telemetry::escape_control(id),
                "{}; this run goes ahead, but the repeatable job will not repeat", crate::telemetry::escape_control(&reason));
            return;
        }
    };
    let k = &ctx.keys;
    let keys = ["repeat", "delayed", "wait", "paused", "meta-paused", "id"];
    let r: redis::RedisResult<i64> = k
        .script(&scripts::REPEAT, &keys)
        .arg(&next.key)
        .arg(next.millis)
        .arg(&next.id)
        .arg(k.base())
        .arg(hash.get("name").map_or("__default__", String::as_str))
        .arg(hash.get("data").map_or("{}", String::as_str))
        .arg(next.opts.to_string())
        .arg(now)
        .arg(next.delay)
        .arg(&ctx.store.token)
        .arg(next.current)
        .invoke_async(&mut ctx.store.conn())
        .await;
    match r {
        Ok(1) => {
            tracing::debug!(queue = %ctx.queue, job_id = %next.id, "next iteration of a repeatable job added")
        }
        Ok(-1) => {
            tracing::info!(queue = %ctx.queue, job_id = %crate::telemetry::escape_control(id),
            "repeatable job was removed; no next iteration")
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(queue = %ctx.queue, job_id = %crate::telemetry::escape_control(id), error = %e,
            "adding the next iteration of a repeatable job failed; it will not repeat until re-added")
        }
    }
}

/// What Bull's worker would add after taking job `id` (stored as `hash`) at `now`: `None` when it
/// is not repeatable or its repetition is over, an error naming the field when its options are
/// unusable.
pub(super) fn plan(
    id: &str,
    hash: &HashMap<String, String>,
    now: u64,
) -> Result<Option<Next>, String> {
    let Some(Value::Object(mut opts)) = hash.get("opts").and_then(|o| serde_json::from_str(o).ok())
    else {
        return Ok(None);
    };
    let Some(Value::Object(repeat)) = opts.get("repeat").cloned() else {
        return Ok(None);
    };
    let (tag, current) = id
        .strip_prefix("repeat:")
        .and_then(|rest| rest.rsplit_once(':'))
        .and_then(|(tag, ms)| Some((tag, ms.parse::<u64>().ok()?)))
        .filter(|(tag, _)| !tag.is_empty())
        .ok_or_else(|| {
            format!("repeatable job id {id:?} is not Bull's `repeat:<hash>:<millis>`, so its next iteration has no id")
        })?;
    let count = repeat.get("count").and_then(Value::as_u64).unwrap_or(0) + 1;
    if repeat
        .get("limit")
        .and_then(Value::as_u64)
        .is_some_and(|limit| count > limit)
    {
        return Ok(None);
    }
    let end = repeat.get("endDate").map(date_ms).transpose()?;
    if end.is_some_and(|end| now > end) {
        return Ok(None);
    }
    let prev = opts.get("prevMillis").and_then(Value::as_u64).unwrap_or(0);
    let Some(millis) = next_millis(&repeat, prev.max(now))? else {
        return Ok(None);
    };
    let key = match repeat.get("key").and_then(Value::as_str) {
        Some(key) => key.to_string(),
        None => repeat_key(
            hash.get("name").map_or("__default__", String::as_str),
            &repeat,
            end,
        ),
    };
    let next_id = format!("repeat:{tag}:{millis}");
    let delay = millis.saturating_sub(now);
    let mut next_repeat = repeat;
    next_repeat.insert("count".into(), json!(count));
    next_repeat.insert("key".into(), json!(key));
    opts.insert("repeat".into(), Value::Object(next_repeat));
    opts.insert("jobId".into(), json!(next_id));
    opts.insert("delay".into(), json!(delay));
    opts.insert("timestamp".into(), json!(now));
    opts.insert("prevMillis".into(), json!(millis));
    Ok(Some(Next {
        key,
        millis,
        id: next_id,
        opts: Value::Object(opts),
        delay,
        current,
    }))
}

/// The next iteration after `from` (ms), by `every` or `cron`.
fn next_millis(repeat: &Map<String, Value>, from: u64) -> Result<Option<u64>, String> {
    let every = repeat
        .get("every")
        .and_then(Value::as_u64)
        .filter(|e| *e > 0);
    let cron = repeat.get("cron").and_then(Value::as_str);
    match (every, cron) {
        (Some(_), Some(_)) => {
            Err("opts.repeat has both `every` and `cron`; Bull refuses that too".into())
        }
        (Some(every), None) => Ok((from / every)
            .checked_add(1)
            .and_then(|n| n.checked_mul(every))),
        (None, Some(cron)) => next_cron(cron, repeat, from),
        (None, None) => Err("opts.repeat has neither `every` (ms) nor `cron`".into()),
    }
}

fn next_cron(cron: &str, repeat: &Map<String, Value>, from: u64) -> Result<Option<u64>, String> {
    // cron-parser, which Bull uses, reads 6 fields as seconds first; cronq's dialect reads 7
    // fields that way (6 are minutes first, with a year), so a year field is added.
    let expr = match cron.split_whitespace().count() {
        6 => format!("{cron} *"),
        _ => cron.to_string(),
    };
    let schedule = crate::crontab::Schedule::parse(&expr).map_err(|e| {
        format!(
            "opts.repeat.cron {cron:?} is not a cron expression: {}",
            e.message
        )
    })?;
    let tz = match repeat.get("tz").and_then(Value::as_str) {
        Some(name) => {
            crate::crontab::zone::parse_zone(name).map_err(|e| format!("opts.repeat.tz: {e}"))?
        }
        None => chrono_tz::UTC,
    };
    let start = repeat.get("startDate").map(date_ms).transpose()?;
    let from = start.filter(|s| *s > from).unwrap_or(from);
    let after = chrono::DateTime::from_timestamp_millis(from as i64)
        .ok_or_else(|| format!("previous iteration {from} ms is out of range"))?;
    Ok(schedule
        .next_after(after, tz)
        .map(|t| t.timestamp_millis().max(0) as u64))
}

/// A date as Bull accepts it: ms since the epoch, or a date string.
fn date_ms(v: &Value) -> Result<u64, String> {
    if let Some(ms) = v.as_u64() {
        return Ok(ms);
    }
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.timestamp_millis().max(0) as u64)
        .ok_or_else(|| format!("opts.repeat date {v} is neither ms nor an RFC 3339 date"))
}

/// Bull's repeat key, for iterations whose opts lack `repeat.key` (Bull always writes it).
fn repeat_key(name: &str, repeat: &Map<String, Value>, end: Option<u64>) -> String {
    let job_id = repeat.get("jobId").and_then(Value::as_str).unwrap_or("");
    let end = end.map(|e| e.to_string()).unwrap_or_default();
    let suffix = match repeat.get("cron").and_then(Value::as_str) {
        Some(cron) => format!(
            "{}:{cron}",
            repeat.get("tz").and_then(Value::as_str).unwrap_or("")
        ),
        None => repeat
            .get("every")
            .map(|e| e.to_string())
            .unwrap_or_default(),
    };
    format!("{name}:{job_id}:{end}:{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(opts: Value) -> HashMap<String, String> {
        HashMap::from([
            ("name".to_string(), "tick".to_string()),
            ("opts".to_string(), opts.to_string()),
        ])
    }

    #[test]
    fn every_takes_the_next_multiple_after_the_previous_iteration() {
        let h = job(
            json!({"repeat": {"every": 1000, "count": 1, "key": "tick:::1000"}, "prevMillis": 5000}),
        );
        let next = plan("repeat:abc:5000", &h, 4200).unwrap().unwrap();
        assert_eq!(next.millis, 6000);
        assert_eq!(next.id, "repeat:abc:6000");
        assert_eq!(next.key, "tick:::1000");
        assert_eq!(next.delay, 1800);
        assert_eq!(next.opts["repeat"]["count"], 2);
        assert_eq!(next.opts["prevMillis"], 6000);
        assert_eq!(next.opts["jobId"], "repeat:abc:6000");
        // Late: from now, not from the previous iteration.
        assert_eq!(
            plan("repeat:abc:5000", &h, 9500).unwrap().unwrap().millis,
            10_000
        );
    }

    #[test]
    fn cron_follows_the_zone_and_six_fields_are_seconds_first() {
        let h = job(
            json!({"repeat": {"cron": "0 9 * * *", "tz": "Europe/Paris", "count": 1}, "prevMillis": 0}),
        );
        // 2026-12-06T00:00:00Z → 09:00 Paris = 08:00 UTC.
        let next = plan("repeat:x:1", &h, 1_796_515_200_000).unwrap().unwrap();
        assert_eq!(next.millis, 1_796_515_200_000 + 8 * 3_600_000);
        assert_eq!(next.key, "tick:::Europe/Paris:0 9 * * *");
        let h = job(json!({"repeat": {"cron": "*/2 * * * * *"}}));
        assert_eq!(
            plan("repeat:x:1", &h, 1_000_500).unwrap().unwrap().millis,
            1_002_000
        );
    }

    #[test]
    fn limit_end_and_plain_jobs_stop_it() {
        let h = job(json!({"repeat": {"every": 1000, "count": 3, "limit": 3}}));
        assert_eq!(plan("repeat:a:1", &h, 0).unwrap(), None);
        let h = job(json!({"repeat": {"every": 1000, "endDate": 500}}));
        assert_eq!(plan("repeat:a:1", &h, 600).unwrap(), None);
        assert_eq!(plan("7", &job(json!({"attempts": 1})), 0).unwrap(), None);
    }

    #[test]
    fn unusable_options_are_named() {
        let bad = job(json!({"repeat": {"cron": "61 * * * *"}}));
        assert!(plan("repeat:a:1", &bad, 0)
            .unwrap_err()
            .contains("opts.repeat.cron"));
        let no_id = job(json!({"repeat": {"every": 1000}}));
        assert!(plan("42", &no_id, 0)
            .unwrap_err()
            .contains("repeat:<hash>:<millis>"));
        let neither = job(json!({"repeat": {"count": 1}}));
        assert!(plan("repeat:a:1", &neither, 0)
            .unwrap_err()
            .contains("every"));
    }
}
