//! The one writer of the file, and the pool of readers.
//!
//! Every write (add, fetch, finish, log line, admin operation) is a closure sent to one thread
//! that owns the only writing connection. The thread takes whatever is queued (up to
//! [`MAX_BATCH`]), runs each closure inside its own savepoint of one transaction, commits once,
//! then answers each caller: under load, 50 finishing jobs cost one fsync, not 50 (group commit).
//! A closure that fails is rolled back to its savepoint alone; the others still commit. A caller
//! hears "done" only after the commit, so what it was told is on disk.
//!
//! Reads run on `spawn_blocking` with pooled connections: WAL lets them run beside the writer.

use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{oneshot, Notify};

use super::{schema, Fault};

/// The most closures committed together.
const MAX_BATCH: usize = 512;

/// One queued write: run inside the batch's transaction, then told how the commit went.
trait Write: Send {
    /// Runs the closure; returns whether it succeeded (else its savepoint is rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Delivers the result, or the commit's error.
    fn reply(self: Box<Self>, commit: Result<(), String>);
}

struct Pending<R, F> {
    f: Option<F>,
    result: Option<Result<R, Fault>>,
    /// Receiver: the caller awaiting [`Writer::write`].
    tx: oneshot::Sender<Result<R, Fault>>,
}

impl<R, F> Write for Pending<R, F>
where
    R: Send,
    F: FnOnce(&Connection) -> Result<R, Fault> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else { return false };
        let r = f(conn);
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn reply(self: Box<Self>, commit: Result<(), String>) {
        let out = match (commit, self.result) {
            // A closure that failed was rolled back alone: its own error says more.
            (_, Some(Err(f))) => Err(f),
            (Ok(()), Some(Ok(r))) => Ok(r),
            (Err(e), _) => Err(Fault::Commit(e)),
            (Ok(()), None) => Err(Fault::Commit("the write was not run".into())),
        };
        let _ = self.tx.send(out);
    }
}

/// The handle to the writer thread. The thread ends when the last handle is dropped.
pub(super) struct Writer {
    /// Receiver: the writer thread.
    tx: mpsc::Sender<Box<dyn Write>>,
}

impl Writer {
    /// Starts the writer thread on `conn`; `committed` is notified after every commit (event
    /// readers wait on it).
    pub(super) fn start(conn: Connection, committed: Arc<Notify>) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel::<Box<dyn Write>>();
        std::thread::Builder::new()
            .name("cronq-sqlite-writer".into())
            .spawn(move || run(conn, rx, committed))?;
        Ok(Writer { tx })
    }

    /// Runs `f` in the next batch; returns its result once the batch is committed.
    pub(super) async fn write<R, F>(&self, f: F) -> Result<R, Fault>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, Fault> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let op: Box<dyn Write> = Box::new(Pending {
            f: Some(f),
            result: None,
            tx,
        });
        if self.tx.send(op).is_err() {
            return Err(Fault::Commit("the writer thread has stopped".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(Fault::Commit("the writer thread has stopped".into())))
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Box<dyn Write>>, committed: Arc<Notify>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let commit = run_batch(&conn, &mut batch);
        if commit.is_ok() {
            committed.notify_waiters();
        }
        for op in batch {
            op.reply(commit.clone());
        }
    }
}

/// Runs every closure of `batch` in one transaction, each in its own savepoint.
fn run_batch(conn: &Connection, batch: &mut [Box<dyn Write>]) -> Result<(), String> {
    let exec = |sql: &str| -> rusqlite::Result<()> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    exec("BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
    for op in batch.iter_mut() {
        let step = exec("SAVEPOINT op").and_then(|()| {
            if !op.run(conn) {
                exec("ROLLBACK TO op")?;
            }
            exec("RELEASE op")
        });
        if let Err(e) = step {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e.to_string());
        }
    }
    exec("COMMIT").map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        e.to_string()
    })
}

/// Read connections, opened on demand and kept for reuse.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 4;

impl Readers {
    pub(super) fn new(path: PathBuf) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a read connection, off the async threads.
    pub(super) async fn read<R, F>(self: &Arc<Self>, f: F) -> Result<R, Fault>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, Fault> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = me.take()?;
            let r = f(&conn);
            me.give_back(conn);
            r
        })
        .await
        .unwrap_or_else(|e| Err(Fault::Commit(format!("read task failed: {e}"))))
    }

    fn take(&self) -> Result<Connection, Fault> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(c);
        }
        Ok(schema::connect(&self.path)?)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}
