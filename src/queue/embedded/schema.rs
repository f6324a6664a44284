//! The file's tables and the settings of every connection to it.
//!
//! Durability: WAL with `synchronous = FULL`. A commit returns only once the WAL is fsynced, so a
//! job `add` has returned for is on disk even across a power cut, not only across `kill -9` (which
//! `NORMAL` would already survive). The cost, one fsync per commit, is paid per *batch*: every
//! write goes through one writer thread that commits whatever is queued at once (see `writer`).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long a connection waits for another process's write lock (a CLI tool adding a job while
/// the daemon commits) before an operation fails with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version of the schema below (`PRAGMA user_version`).
/// 2 added `metrics`; `create` runs the whole (idempotent) script on an older file.
const SCHEMA_VERSION: i64 = 2;

/// Opens a connection with the settings every connection uses.
pub(super) fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;")?;
    Ok(conn)
}

/// Creates the tables when missing (idempotent; several processes may race here safely).
pub(super) fn create(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
        {SCHEMA}
        PRAGMA user_version = {SCHEMA_VERSION};
        COMMIT;"
    ))
}

const SCHEMA: &str = "
-- Counters: `seq` orders jobs (FIFO within a state, as list positions do in Redis).
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (k, v) VALUES ('seq', 0);

-- One row per queue that was ever used: its pause flag and its id counter (BullMQ's `id` key).
CREATE TABLE IF NOT EXISTS queues (
    name    TEXT PRIMARY KEY,
    paused  INTEGER NOT NULL DEFAULT 0,
    last_id INTEGER NOT NULL DEFAULT 0
);

-- One row per job; the columns mirror BullMQ's job hash fields.
CREATE TABLE IF NOT EXISTS jobs (
    queue            TEXT NOT NULL,
    id               TEXT NOT NULL,
    name             TEXT NOT NULL,
    data             TEXT NOT NULL,
    opts             TEXT NOT NULL,
    -- waiting | prioritized | active | delayed | completed | failed
    state            TEXT NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    seq              INTEGER NOT NULL,
    run_at           INTEGER NOT NULL DEFAULT 0,
    delay            INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 0,
    attempts_made    INTEGER NOT NULL DEFAULT 0,
    attempts_started INTEGER NOT NULL DEFAULT 0,
    stalled          INTEGER NOT NULL DEFAULT 0,
    returnvalue      TEXT,
    failed_reason    TEXT,
    stacktrace       TEXT NOT NULL DEFAULT '[]',
    progress         TEXT,
    timestamp        INTEGER NOT NULL,
    processed_on     INTEGER,
    finished_on      INTEGER,
    processed_by     TEXT,
    PRIMARY KEY (queue, id)
);
CREATE INDEX IF NOT EXISTS jobs_by_state  ON jobs (queue, state, priority, seq);
CREATE INDEX IF NOT EXISTS jobs_by_due    ON jobs (queue, state, run_at);
CREATE INDEX IF NOT EXISTS jobs_by_finish ON jobs (queue, state, finished_on);

CREATE TABLE IF NOT EXISTS logs (
    n      INTEGER PRIMARY KEY,
    queue  TEXT NOT NULL,
    job_id TEXT NOT NULL,
    line   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_job ON logs (queue, job_id, n);

-- BullMQ's `events` stream: the id is the resume cursor; `fields` a JSON object of strings.
CREATE TABLE IF NOT EXISTS events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    queue  TEXT NOT NULL,
    event  TEXT NOT NULL,
    fields TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_queue ON events (queue, id);

-- BullMQ's `metrics:<kind>` series: jobs finished per minute (`minute` = its start, Unix ms;
-- the row of minute -1 holds the running total). See `metrics.rs`.
CREATE TABLE IF NOT EXISTS metrics (
    queue  TEXT NOT NULL,
    kind   TEXT NOT NULL,
    minute INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (queue, kind, minute)
);
";
