//! Redis key names of BullMQ's layout (shared/bullmq-layout.md §2).
//!
//! The engine builds its own keys; these functions exist so that tests and inspection code
//! (`/health`, the CLI) name keys in one place instead of formatting strings ad hoc.

/// Every per-queue list (`wait`, `paused`, `active`) then sorted set (`prioritized`,
/// `delayed`, `completed`, `failed`, `waiting-children`) a job id can sit in: what "in some
/// state" means to our scripts that must find a job in none (`add_undo.rs`, `rescue.rs`).
pub(crate) const STATE_KEYS: [&str; 8] = [
    "wait",
    "paused",
    "active",
    "prioritized",
    "delayed",
    "completed",
    "failed",
    "waiting-children",
];

/// The key names of one queue under one prefix: `B = "<prefix>:<queue>:"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKeys {
    base: String,
}

impl QueueKeys {
    /// Keys of `queue` under `prefix` (BullMQ's default prefix is `bull`).
    pub fn new(prefix: &str, queue: &str) -> Self {
        QueueKeys {
            base: format!("{prefix}:{queue}:"),
        }
    }

    /// `B + suffix`, for any per-queue key.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.base)
    }

    /// The job hash `B + id`.
    pub fn job(&self, id: &str) -> String {
        self.key(id)
    }

    /// The lock of a job, `B + id + ":lock"`.
    pub fn lock(&self, id: &str) -> String {
        format!("{}{id}:lock", self.base)
    }

    /// The log list of a job, `B + id + ":logs"`.
    pub fn logs(&self, id: &str) -> String {
        format!("{}{id}:logs", self.base)
    }

    /// LIST of ready job ids.
    pub fn wait(&self) -> String {
        self.key("wait")
    }

    /// LIST of job ids being processed.
    pub fn active(&self) -> String {
        self.key("active")
    }

    /// ZSET of delayed jobs (score = due ms · 4096 + seq).
    pub fn delayed(&self) -> String {
        self.key("delayed")
    }

    /// ZSET of ready jobs with a priority.
    pub fn prioritized(&self) -> String {
        self.key("prioritized")
    }

    /// ZSET of completed jobs (score = finishedOn).
    pub fn completed(&self) -> String {
        self.key("completed")
    }

    /// ZSET of failed jobs (score = finishedOn).
    pub fn failed(&self) -> String {
        self.key("failed")
    }

    /// STREAM of job events.
    pub fn events(&self) -> String {
        self.key("events")
    }

    /// HASH of the crontab entries live daemons run through this queue: entry id → Unix ms
    /// until which a daemon vouches for it (cronq's own key; BullMQ never reads it).
    pub fn cron_entries(&self) -> String {
        self.key("cronq:entries")
    }

    /// HASH of queue metadata (`paused`, `concurrency`, …).
    pub fn meta(&self) -> String {
        self.key("meta")
    }

    /// ZSET that wakes blocked workers.
    pub fn marker(&self) -> String {
        self.key("marker")
    }

    /// One of cronq's own scripts with `B + suffix` for each suffix as its KEYS, in the order
    /// of the script's header (a job's hash is its id as suffix, its lock `"<id>:lock"`).
    pub(crate) fn script<'a>(
        &self,
        script: &'a redis::Script,
        suffixes: &[&str],
    ) -> redis::ScriptInvocation<'a> {
        crate::queue::script_keys::invocation(script, &self.base, suffixes)
    }
}

#[cfg(test)]
mod tests {
    use super::QueueKeys;

    #[test]
    fn keys_follow_bullmq_layout() {
        let k = QueueKeys::new("bull", "email");
        assert_eq!(k.wait(), "bull:email:wait");
        assert_eq!(k.job("42"), "bull:email:42");
        assert_eq!(k.lock("42"), "bull:email:42:lock");
        assert_eq!(k.logs("cron-x-1"), "bull:email:cron-x-1:logs");
        assert_eq!(k.delayed(), "bull:email:delayed");
        assert_eq!(k.meta(), "bull:email:meta");
    }
}
