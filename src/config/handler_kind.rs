//! What a handler runs, validated: an `exec` command, an HTTP request, a builtin, or a pool of
//! persistent processes. Split out of `config/mod.rs`; `HandlerConfig` there pairs a kind
//! with its job settings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// What a handler does.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerKind {
    /// `/bin/sh -c COMMAND` in its own process group.
    Exec {
        /// The command line, from local configuration only.
        command: String,
    },
    /// An HTTP request with the job data as JSON body.
    Http {
        /// Target URL.
        url: String,
        /// Method (default POST).
        method: String,
        /// Request timeout.
        timeout: Duration,
        /// Extra headers.
        headers: BTreeMap<String, String>,
    },
    /// Built into the binary.
    Builtin(Builtin),
    /// Long-lived processes fed one job at a time (`process` and `node`).
    Process(ProcessSpec),
}

/// A persistent handler: what each process runs, and its pool's bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSpec {
    /// The handler's table, for messages (`queues.Q.handlers.N`).
    pub label: String,
    /// What each process runs.
    pub program: ProcessProgram,
    /// At most this many processes; `None`: one per concurrent job (the queue's concurrency).
    pub instances: Option<std::num::NonZeroUsize>,
    /// Replace a process after this many jobs.
    pub max_jobs: Option<u64>,
    /// Replace a process whose group's RSS passes this many MiB after a job.
    pub max_memory_mib: Option<u64>,
}

/// The program of a persistent handler.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessProgram {
    /// `/bin/sh -c COMMAND`, speaking the line protocol itself.
    Shell {
        /// The command line, from local configuration only.
        command: String,
    },
    /// cronq's Node bootstrap loading a BullMQ sandboxed processor file.
    Node {
        /// The Node executable, resolved on PATH at start.
        node: PathBuf,
        /// The processor file, absolute.
        file: PathBuf,
    },
}

/// Handlers built into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Completes at once with `null` (benchmarks).
    Noop,
    /// Completes with the job data.
    Echo,
    /// Sleeps `data.ms` milliseconds (default 1000), then completes.
    Sleep,
    /// Fails with `data.reason` (tests and drills).
    Fail,
}
