//! The queue room's error boundary: everything a store (Redis through the engine, or the
//! embedded file) can say, named by queue. Messages name the store, never assume Redis.

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

    /// Wraps an engine error for `queue`.
    pub(crate) fn engine(queue: &str, err: impl std::fmt::Display) -> Self {
        Error::Engine {
            queue: queue.to_string(),
            message: err.to_string(),
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
