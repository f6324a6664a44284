//! The embedded store: one SQLite file (`CRONQ_DATA`, default `./data/cronq.db`), for running
//! with no Redis at all. Same semantics as the Redis store — states, FIFO then priority, delay,
//! attempts and backoff, results, logs, retention, pause, admin operations, an event log — for
//! one daemon per file.
//!
//! - [`schema`]: tables and connection settings (WAL, `synchronous = FULL`: why, there).
//! - [`writer`]: the one writer thread (group commit) and the read connections.
//! - [`producer`]: `add`. [`fetch`]: claiming ready jobs. [`finish`]: applying an [`Outcome`]
//!   and retention. [`consumer`]: the fetch loop and the daemon lock ([`lock`]) with
//!   recovery of jobs a dead daemon left `active`.
//! - [`info`]: counts, lists, one job. [`admin`]: retry, remove, promote, pause, clean.
//! - [`events`]: the `events` table and its reader. [`opts`]: BullMQ-shaped job options.
//! - [`cancel`]: cancel requests (in-process). [`backend`]: the store contract.
//! - [`wake`]: noticing other processes' writes to the file (inotify), so idle loops never poll.
//!
//! Who may open the file: any number of processes (the daemon, `worker enqueue`, `worker
//! status`…), since SQLite serialises their writes. Who may *consume*: one process, the holder
//! of the exclusive `flock` on `<file>.lock`, taken by the first `consume` (see [`lock`]).

mod admin;
mod cancel;
mod consumer;
mod events;
mod fetch;
mod finish;
mod groups;
mod info;
mod lock;
mod metrics;
mod opts;
mod pauses;
mod presence;
mod producer;
mod schema;
mod update_data;
mod wake;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::Connection as Sqlite;
use tokio::sync::{broadcast, Notify};

use crate::queue::consumer::JobHandle;
use crate::queue::contract::Connection;
use crate::queue::{error::Error, error::JobOpError};

pub use events::EmbeddedEventReader;
pub use lock::DaemonLock;

/// The embedded store. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The file, as configured (for messages).
    path: PathBuf,
    /// The file opened, checked before every write and PING (see [`presence`]).
    identity: presence::FileIdentity,
    /// The one writing connection's thread.
    writer: writer::Writer,
    /// Read connections.
    readers: Arc<writer::Readers>,
    /// Notified in this process when jobs may have become ready (add, retry, promote, release,
    /// resume), and when another process wrote the file (see [`wake`]). Waiters: idle fetch
    /// loops.
    ready: Notify,
    /// Notified after every commit of this process's writer, and when another process wrote
    /// the file (the watch below). Waiters: event readers.
    committed: Arc<Notify>,
    /// Whether other processes' writes are watched (see [`wake`]): started by the first fetch
    /// loop or event reader; `false` when inotify is unavailable (they then poll).
    watching: std::sync::OnceLock<bool>,
    /// The daemon lock, once this process started consuming (held until the process exits).
    daemon: Mutex<Option<lock::DaemonLock>>,
    /// Cancel requests (see [`cancel`]): sender `request_cancel`, receivers `listen_cancels`.
    cancels: broadcast::Sender<crate::queue::cancel_request::CancelRequest>,
    /// Requests waiting for their acknowledgement, by ticket: the sender is taken by
    /// `ack_cancel` (the daemon's cancel router), the receiver held by `request_cancel`,
    /// which removes its entry when it stops waiting.
    acks: Mutex<std::collections::HashMap<String, tokio::sync::oneshot::Sender<String>>>,
}

/// Why an embedded operation failed, before it is named by queue at the boundary.
#[derive(Debug)]
enum Fault {
    /// SQLite said no.
    Db(rusqlite::Error),
    /// The batch's commit (or the writer thread) failed.
    Commit(String),
    /// A job operation was refused (not found, wrong state).
    Op(JobOpError),
}

impl From<rusqlite::Error> for Fault {
    fn from(e: rusqlite::Error) -> Self {
        Fault::Db(e)
    }
}

impl Fault {
    fn into_error(self, queue: &str) -> Error {
        match self {
            Fault::Db(e) => Error::engine(queue, e),
            Fault::Commit(m) => Error::engine(queue, m),
            Fault::Op(e) => Error::engine(queue, e),
        }
    }

    fn into_op(self, queue: &str) -> JobOpError {
        match self {
            Fault::Op(e) => e,
            other => JobOpError::Store(other.into_error(queue)),
        }
    }
}

/// Whether a daemon consumes the embedded file at `path` now (`None`: cannot be told). The
/// CLI warns when none does: what it adds waits until a daemon starts on this file.
pub fn daemon_holds(path: &Path) -> Option<bool> {
    lock::held(path)
}

/// Takes the daemon lock of the embedded file at `path` for a starting daemon, which holds the
/// returned guard for its lifetime (its consumers share it). `Err(message naming the file's
/// absolute path and the holder)` when another daemon holds it: the daemon exits 2 at start
/// instead of waiting as a standby.
pub fn claim_for_daemon(path: &Path) -> Result<DaemonLock, String> {
    lock::claim(path)
}

impl EmbeddedStore {
    /// Opens (creating it and its folder) the file. Takes no lock: tools open the file while
    /// the daemon runs; only [`EmbeddedStore::consume`] locks it.
    pub async fn open(path: &Path) -> Result<EmbeddedStore, Error> {
        let path = path.to_path_buf();
        let at = path.clone();
        tokio::task::spawn_blocking(move || EmbeddedStore::open_blocking(path))
            .await
            .map_err(|e| settings(&at, e))?
    }

    fn open_blocking(path: PathBuf) -> Result<EmbeddedStore, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| settings(&path, format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = schema::connect(&path).map_err(|e| settings(&path, e))?;
        schema::create(&conn).map_err(|e| settings(&path, e))?;
        let identity = presence::FileIdentity::take(&path).map_err(|e| settings(&path, e))?;
        let committed = Arc::new(Notify::new());
        let writer = writer::Writer::start(conn, committed.clone())
            .map_err(|e| settings(&path, format!("cannot start the writer thread: {e}")))?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                readers: Arc::new(writer::Readers::new(path.clone())),
                identity,
                path,
                writer,
                ready: Notify::new(),
                committed,
                watching: std::sync::OnceLock::new(),
                daemon: Mutex::new(None),
                cancels: broadcast::channel(cancel::BACKLOG).0,
                acks: Mutex::default(),
            }),
        })
    }

    /// Starts watching the file for other processes' writes, once per store; returns whether
    /// it is watched. Must run inside the runtime.
    fn watch_file(&self) -> bool {
        *self.inner.watching.get_or_init(|| {
            match wake::FileWake::new(&self.inner.path) {
                Ok(files) => {
                    tokio::spawn(wake::forward(files, Arc::downgrade(&self.inner)));
                    true
                }
                Err(e) => {
                    tracing::warn!(file = %self.inner.path.display(), error = %e, "cannot watch the embedded store's file; jobs and events other processes write are found by polling");
                    false
                }
            }
        })
    }

    /// `Ok` while the configured path still names the file this store opened.
    fn present(&self) -> Result<(), Error> {
        self.inner
            .identity
            .check()
            .map_err(|reason| Error::Unreachable {
                url: self.inner.path.display().to_string(),
                reason,
            })
    }

    /// A PING's failure as the store's: it is about no queue.
    fn unreachable(&self, e: Error) -> Error {
        match e {
            Error::Engine { message, .. } => Error::Unreachable {
                url: self.inner.path.display().to_string(),
                reason: message,
            },
            other => other,
        }
    }

    /// Runs `f` in the writer's next batch, naming `queue` in errors.
    async fn write<R, F>(&self, queue: &str, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Sqlite) -> Result<R, Fault> + Send + 'static,
    {
        self.present()?;
        self.inner
            .writer
            .write(f)
            .await
            .map_err(|e| e.into_error(queue))
    }

    /// Runs `f` on a read connection, naming `queue` in errors.
    async fn read<R, F>(&self, queue: &str, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Sqlite) -> Result<R, Fault> + Send + 'static,
    {
        self.inner
            .readers
            .read(f)
            .await
            .map_err(|e| e.into_error(queue))
    }
}

fn settings(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Settings(format!(
        "cannot open the embedded store at {} (CRONQ_DATA): {reason}",
        path.display()
    ))
}

/// The next `n` positions of the global FIFO order; returns the first.
fn next_seq(conn: &Sqlite, n: i64) -> rusqlite::Result<i64> {
    let last: i64 = conn
        .prepare_cached("UPDATE meta SET v = v + ?1 WHERE k = 'seq' RETURNING v")?
        .query_row([n], |r| r.get(0))?;
    Ok(last - n + 1)
}

/// Where a job that is ready goes: the plain FIFO list, or the priority set.
fn ready_state(priority: i64) -> &'static str {
    if priority > 0 {
        "prioritized"
    } else {
        "waiting"
    }
}

/// Where [`make_ready`] puts a job in the FIFO order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Behind every ready job (new, retried, promoted: BullMQ's `LPUSH`).
    Back,
    /// Ahead of every ready job (released, recovered: BullMQ's `RPUSH`, next to run).
    Front,
}

/// Makes job `id` ready (waiting or prioritized by its priority) at `end` of the FIFO order,
/// and logs `waiting` with `prev`.
fn make_ready(
    conn: &Sqlite,
    queue: &str,
    id: &str,
    prev: &str,
    end: End,
    now: i64,
) -> rusqlite::Result<()> {
    // Front positions count down from 0, so the latest put in front runs first.
    let seq = match end {
        End::Back => next_seq(conn, 1)?,
        End::Front => -next_seq(conn, 1)?,
    };
    conn.prepare_cached(
        "UPDATE jobs SET state = CASE WHEN priority > 0 THEN 'prioritized' ELSE 'waiting' END,
                seq = ?3, run_at = 0
         WHERE queue = ?1 AND id = ?2",
    )?
    .execute(rusqlite::params![queue, id, seq])?;
    events::emit(
        conn,
        queue,
        "waiting",
        &[("jobId", id), ("prev", prev)],
        now,
    )
}

#[async_trait]
impl Connection for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    /// The file path.
    fn redacted_url(&self) -> String {
        self.inner.path.display().to_string()
    }

    /// No prefix: one file holds one deployment.
    fn prefix(&self) -> &str {
        "embedded"
    }

    /// A small query's round trip, after checking the file is still ours. The query reads
    /// the schema and the `queues` table (a few pages), so a corrupted file fails it where
    /// `SELECT 1`, which reads no page, answered and `/health` said healthy.
    async fn ping(&self) -> Result<Duration, Error> {
        let started = Instant::now();
        self.present()?;
        self.read("*", |c| {
            Ok(c.query_row("SELECT count(*) FROM queues", [], |r| r.get::<_, i64>(0))?)
        })
        .await
        .map_err(|e| self.unreachable(e))?;
        Ok(started.elapsed())
    }

    /// Queue names that have jobs or were used (paused, consumed), sorted.
    async fn discover_queues(&self) -> Result<Vec<String>, Error> {
        self.read("*", |c| {
            let names = c
                .prepare_cached(
                    "SELECT name FROM queues UNION SELECT DISTINCT queue FROM jobs ORDER BY 1",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(names)
        })
        .await
    }
}

// `impl Claims for EmbeddedStore`: in `pauses.rs` (the only claims it keeps are pauses).

/// Log lines of a running embedded job.
pub struct JobLogRef {
    store: EmbeddedStore,
    queue: String,
    id: String,
}

#[async_trait]
impl JobHandle for JobLogRef {
    /// Appends a line.
    async fn log(&self, _queue: &str, line: &str) -> Result<(), Error> {
        let (queue, id, line) = (self.queue.clone(), self.id.clone(), line.to_string());
        self.store
            .write(&self.queue, move |c| {
                c.prepare_cached("INSERT INTO logs (queue, job_id, line) VALUES (?1, ?2, ?3)")?
                    .execute([&queue, &id, &line])?;
                Ok(())
            })
            .await
    }

    /// Sets the job's progress (any JSON) while it runs.
    async fn progress(&self, _queue: &str, value: serde_json::Value) -> Result<(), Error> {
        let (queue, id, text) = (self.queue.clone(), self.id.clone(), value.to_string());
        self.store
            .write(&self.queue, move |c| {
                c.prepare_cached("UPDATE jobs SET progress = ?3 WHERE queue = ?1 AND id = ?2")?
                    .execute([&queue, &id, &text])?;
                // The same event BullMQ's updateProgress script adds, for SSE listeners.
                let fields = [("jobId", id.as_str()), ("data", text.as_str())];
                events::emit(
                    c,
                    &queue,
                    "progress",
                    &fields,
                    crate::queue::consumer::now_ms() as i64,
                )?;
                Ok(())
            })
            .await
    }

    async fn update_data(&self, _queue: &str, data: serde_json::Value) -> Result<(), Error> {
        update_data::update_data(&self.store, &self.queue, &self.id, data).await
    }

    async fn children_values(
        &self,
        _queue: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        // The embedded store has no flows.
        Ok(serde_json::Map::new())
    }
}
