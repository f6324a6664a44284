//! The queue room's error boundary: everything a store (Redis through the engine, or the
//! embedded file) can say, named by queue. Messages name the store, never assume Redis.

use super::fault::{is_full, Fault};

/// An error from the queue store. Messages name the queue (and job when known) and never
/// contain a Redis password: URLs are redacted before they are put in a message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not be reached at all (startup, or a health probe).
    #[error("cannot reach the store at {url}: {reason}")]
    Unreachable {
        /// Where: the redacted URL (`redis://…`) or the file path.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// Redis answered and refused the credentials (`WRONGPASS`, `NOAUTH`): a configuration
    /// error, not an outage, so the daemon exits 2 when it meets one at start.
    #[error(
        "Redis refused the credentials for {url}: {reason}; check REDIS_PASSWORD / \
         REDIS_USERNAME (or the user and password in REDIS_URL) against the server's \
         requirepass or ACL users"
    )]
    Auth {
        /// The redacted URL.
        url: String,
        /// What Redis said.
        reason: String,
    },
    /// The store's settings themselves are wrong (bad Redis URL, unreadable CA file, an
    /// embedded file that cannot be opened); the text names the store.
    #[error("invalid store settings: {0}")]
    Settings(String),
    /// A job was refused before it reached the store (bad id, bad option).
    #[error("queue {queue}: invalid job: {}{reason}", field.map(|f| format!("{f}: ")).unwrap_or_default())]
    InvalidJob {
        /// The queue the job was meant for.
        queue: String,
        /// The option at fault (`jobId`, `priority`, …), when one is.
        field: Option<&'static str>,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The store refuses writes for lack of room: Redis out of memory (`maxmemory` reached
    /// under `noeviction`), or the embedded file's disk is full. Nothing was written; the same
    /// call succeeds once room is made, so callers answer "retry later" (HTTP 503).
    #[error(
        "queue {queue}: the store is full and refuses writes ({message}); nothing was written: \
         free memory or disk (Redis: raise maxmemory or delete old jobs) and retry"
    )]
    Full {
        /// The queue the write was for.
        queue: String,
        /// What the store said.
        message: String,
    },
    /// The store failed an operation on a queue.
    #[error("queue {queue}: {message}")]
    Engine {
        /// The queue the operation was on.
        queue: String,
        /// The engine's message.
        message: String,
    },
}

impl Error {
    /// Whether retrying cannot help: the settings are wrong (bad URL, refused credentials).
    /// Commands and the daemon's start exit 2 on these, as on any configuration error.
    pub fn is_config(&self) -> bool {
        matches!(self, Error::Auth { .. } | Error::Settings(_))
    }

    /// Wraps an engine error for `queue`; a store that is full ([`Error::Full`]) is told
    /// apart here, once, whichever store and call said it.
    pub(crate) fn engine(queue: &str, err: impl std::fmt::Display) -> Self {
        let message = err.to_string();
        let queue = queue.to_string();
        if is_full(&message) {
            return Error::Full { queue, message };
        }
        Error::Engine { queue, message }
    }

    /// Whether the same call may work later without any change on the caller's side (the
    /// store is full, away, or busy): HTTP answers 503 with `Retry-After`, not 500.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Full { .. } | Error::Unreachable { .. })
    }

    /// What kind of fault this is, for `/health` (see [`Fault`]).
    pub fn fault(&self) -> Fault {
        match self {
            Error::Full { .. } => Fault::Full,
            Error::Unreachable { .. } | Error::Auth { .. } | Error::Settings(_) => Fault::Store,
            Error::InvalidJob { .. } => Fault::Call,
            Error::Engine { message, .. } => Fault::of_message(message),
        }
    }
}

/// Why an operation on one job was refused.
#[derive(Debug, thiserror::Error)]
pub enum JobOpError {
    /// No such job.
    #[error("job {queue}/{id} does not exist")]
    NotFound {
        /// Queue.
        queue: String,
        /// Job id.
        id: String,
    },
    /// The job is not in a state the operation applies to.
    #[error("job {queue}/{id} is {state}: {hint}")]
    WrongState {
        /// Queue.
        queue: String,
        /// Job id.
        id: String,
        /// Its state.
        state: String,
        /// What would work.
        hint: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_error_is_sorted_by_its_message() {
        let full = Error::engine(
            "q",
            "OOM command not allowed when used memory > 'maxmemory'",
        );
        assert!(matches!(full, Error::Full { .. }) && full.is_retryable());
        assert_eq!(full.fault(), Fault::Full);
        assert_eq!(Error::engine("q", "WRONGTYPE x").fault(), Fault::Data);
        assert_eq!(Error::Settings("x".into()).fault(), Fault::Store);
    }
}
