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
