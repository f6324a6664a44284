//! What kind of fault a store error is, for whoever must decide what it means: `/health`
//! (does it make the daemon unhealthy, or one queue's row carry an error?) and HTTP (500, or a
//! retryable 503?). Decided here once, from the store's own words, for every store. This file
//! knows no error type: `error.rs` asks it about a message ([`Fault::of_message`]) and maps its
//! own variants in `Error::fault`, so the arrow runs one way.

/// The kind of a store error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The store refuses writes for lack of room (Redis OOM, a full disk): the whole store.
    Full,
    /// The store itself is broken or gone (not reachable, corrupted or deleted file, refused
    /// credentials, no client slot left): the whole store.
    Store,
    /// One queue's data is not what the layout says (a key of the wrong type, written by a
    /// foreign producer or by hand): that queue only; the daemon still works for the others.
    Data,
    /// Anything else about one call (a bad request, a job in the wrong state).
    Call,
}

impl Fault {
    /// The kind of a store's message (Redis error codes, SQLite's texts).
    pub(crate) fn of_message(message: &str) -> Fault {
        if is_full(message) {
            Fault::Full
        } else if message.contains("WRONGTYPE") {
            Fault::Data
        } else if STORE_WIDE.iter().any(|m| message.contains(m)) {
            Fault::Store
        } else {
            Fault::Call
        }
    }

    /// Whether the fault is the store's as a whole, so that the daemon cannot do its work
    /// (then `/health` says unhealthy); `Data` and `Call` faults belong to one queue or call.
    pub fn is_store_wide(self) -> bool {
        matches!(self, Fault::Full | Fault::Store)
    }
}

/// Messages meaning the whole store is unusable: Redis out of client slots, still loading,
/// refusing writes after a failed save, a replica; an embedded file that is corrupted, gone or
/// unreadable.
const STORE_WIDE: [&str; 12] = [
    "max number of clients",
    "LOADING",
    "MISCONF",
    "READONLY",
    "MASTERDOWN",
    "Connection refused",
    "broken pipe",
    "disk image is malformed",
    "not a database",
    "unable to open database",
    "disk I/O error",
    "was deleted or replaced",
];

/// Whether a store's message says it is full: Redis' `OOM command not allowed when used
/// memory > 'maxmemory'`, SQLite's `database or disk is full`, the OS' `No space left`.
pub(crate) fn is_full(message: &str) -> bool {
    // The redis crate renders the code apart from the text (`"OOM": command not allowed …`).
    message.contains("command not allowed when used memory")
        || message.contains("database or disk is full")
        || message.contains("No space left on device")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sorted_by_kind() {
        let cases = [
            (
                "OOM command not allowed when used memory > 'maxmemory'.",
                Fault::Full,
            ),
            (
                "redis error: \"OOM\": command not allowed when used memory > 'maxmemory'.",
                Fault::Full,
            ),
            ("database or disk is full", Fault::Full),
            (
                "WRONGTYPE Operation against a key holding the wrong kind of value",
                Fault::Data,
            ),
            ("ERR max number of clients reached", Fault::Store),
            ("database disk image is malformed", Fault::Store),
            ("file is not a database", Fault::Store),
            ("job 3 is not active", Fault::Call),
        ];
        for (message, kind) in cases {
            assert_eq!(Fault::of_message(message), kind, "{message}");
        }
    }
}
