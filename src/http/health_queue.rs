//! What every queue in `/health`'s `queues` shows, consumed here or only declared: whether this
//! daemon consumes it, its counts, or why they could not be read.

use serde::Serialize;

use crate::queue::JobCounts;

/// The fields both kinds of `/health` queue entry carry, flattened into each (the JSON is as
/// before): one type, so a consumed and a declared queue say their counts the same way.
#[derive(Debug, Serialize)]
pub struct QueueReading {
    /// `true` for a queue this daemon consumes, `false` for one only declared in the config.
    pub consumed: bool,
    /// Counts per state, `waiting` among them (absent when the store is down, or counting got
    /// no answer in time).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub counts: Option<JobCounts>,
    /// Why its counts could not be read (the store's own words, queue and key where known).
    /// For a declared queue never a reason to be unhealthy: it is not this daemon's work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::QueueReading;
    use crate::http::health::{QueueEntry, QueueHealth};
    use crate::http::health_unconsumed::UnconsumedQueue;
    use crate::queue::JobCounts;

    /// The flattened reading leaves `/health`'s JSON as it was, key order included.
    #[test]
    fn both_entry_kinds_keep_their_json() {
        let consumed = QueueEntry::Consumed(QueueHealth {
            reading: QueueReading {
                consumed: true,
                counts: Some(JobCounts {
                    waiting: 2,
                    ..JobCounts::default()
                }),
                error: None,
            },
            running: 1,
            concurrency: 5,
            last_fetch_s: 0.5,
        });
        assert_eq!(
            serde_json::to_string(&consumed).unwrap(),
            r#"{"consumed":true,"waiting":2,"prioritized":0,"active":0,"delayed":0,"completed":0,"failed":0,"waiting-children":0,"running":1,"concurrency":5,"last_fetch_s":0.5}"#
        );
        let declared = QueueEntry::Unconsumed(UnconsumedQueue {
            reading: QueueReading {
                consumed: false,
                counts: None,
                error: Some("WRONGTYPE at bull:ai:wait".into()),
            },
            hint: "no consumer here",
        });
        assert_eq!(
            serde_json::to_string(&declared).unwrap(),
            r#"{"consumed":false,"error":"WRONGTYPE at bull:ai:wait","hint":"no consumer here"}"#
        );
    }
}
