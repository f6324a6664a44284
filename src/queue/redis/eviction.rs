//! The eviction policy check at start. A Redis whose `maxmemory-policy` is not `noeviction`
//! deletes keys when memory runs out — job hashes, the `wait` list — and the jobs are gone
//! without an error anywhere; with `noeviction` it refuses writes instead, which cronq reports
//! (503 to producers, `/health`). BullMQ's Node client warns the same way at connect.

use super::RedisStore;

impl RedisStore {
    /// A warning when the server's eviction policy is not `noeviction`; `None` when it is, or
    /// when the server will not say (managed offerings that refuse `INFO`).
    pub(crate) async fn eviction_warning(&self) -> Option<String> {
        let mut cmd = redis::cmd("INFO");
        cmd.arg("memory");
        let info: String = self.inner.conn.cmd(&mut cmd).await.ok()?;
        let policy = policy_in(&info)?;
        (policy != "noeviction").then(|| {
            format!(
                "Redis at {} has maxmemory-policy {policy:?}: when memory runs out it deletes keys, \
                 jobs among them, without an error; set `maxmemory-policy noeviction` (then full \
                 memory refuses adds with 503 and /health says so)",
                self.redacted_url()
            )
        })
    }
}

/// The `maxmemory_policy` line of `INFO memory`.
fn policy_in(info: &str) -> Option<&str> {
    info.lines()
        .find_map(|l| l.strip_prefix("maxmemory_policy:"))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_policy_is_read_from_info() {
        let info = "# Memory\r\nused_memory:1\r\nmaxmemory_policy:allkeys-lru\r\n";
        assert_eq!(super::policy_in(info), Some("allkeys-lru"));
        assert_eq!(super::policy_in("# Memory\r\n"), None);
    }
}
