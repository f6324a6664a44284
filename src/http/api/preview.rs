//! Job listings without payloads. A list item is read for its id, name, state and times; its
//! data and return value can be megabytes each (300 jobs of 400 KB made one `?limit=500` answer
//! ~120 MB, and four at once took the daemon past a 256 MiB pod limit). So a list carries
//! previews: a value whose JSON is at most [`PREVIEW_BYTES`] stays as it is; a longer one
//! becomes a string of its first bytes ending in `…`, and the item's `truncated` names it.
//! The full job is at its own URL (`GET /api/queues/{queue}/jobs/{id}`).
//!
//! Previews alone would shrink the answer, not the work: the stores read whole job hashes. So a
//! page is read [`CHUNK`] jobs at a time, each chunk cut to previews before the next is read,
//! and at most [`PAGE_READERS`] pages are read at once: a listing holds at most
//! `PAGE_READERS × CHUNK` full jobs, whatever `limit` and however many clients ask.

use serde::Serialize;
use tokio::sync::Semaphore;

use crate::queue::{Error as StoreError, JobInfo, JobState, JobWindow, Store};

/// Bytes of JSON kept per value in a list item.
pub const PREVIEW_BYTES: usize = 1024;

/// Full jobs read from the store at a time for one page.
pub const CHUNK: u64 = 25;

/// Pages read at once (across all clients); the others wait their turn.
pub const PAGE_READERS: usize = 4;

/// One permit per page being read, held by [`read_page`] until its last chunk is cut.
static READERS: Semaphore = Semaphore::const_new(PAGE_READERS);

/// One page of `queue`'s jobs in `state`, read in chunks and cut to previews. Jobs can move
/// between chunks (as between pages); an id already on the page is not listed twice.
pub async fn read_page(
    store: &Store,
    queue: &str,
    state: JobState,
    offset: u64,
    limit: u64,
) -> Result<JobListPage, StoreError> {
    // The semaphore is never closed, so acquiring cannot fail; without a permit, read anyway.
    let _permit = READERS.acquire().await.ok();
    let mut out = JobListPage {
        total: 0,
        offset,
        limit,
        jobs: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    let mut at = offset;
    while at < offset.saturating_add(limit) {
        let take = CHUNK.min(offset + limit - at);
        let chunk = store.jobs(queue, JobWindow::new(state, at, take)).await?;
        out.total = chunk.total;
        let got = chunk.jobs.len() as u64;
        for job in chunk.jobs {
            if seen.insert(job.id.clone()) {
                out.jobs.push(item(job));
            }
        }
        if got < take {
            break;
        }
        at += take;
    }
    Ok(out)
}

/// A job in a list: [`JobInfo`] with `data`, `returnvalue` and `failedReason` cut to previews,
/// and no stack traces.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobListItem {
    /// The job, payloads cut.
    #[serde(flatten)]
    pub job: JobInfo,
    /// Fields cut to a preview (`data`, `returnvalue`, `failedReason`); the full values are at
    /// the job's own URL. Absent when nothing was cut.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<&'static str>,
}

/// One page of a job list, with previews.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobListPage {
    /// Jobs in that state, in all.
    pub total: u64,
    /// First index returned.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
    /// The jobs (newest first for completed/failed/waiting; next-to-run first otherwise).
    pub jobs: Vec<JobListItem>,
}

fn item(mut job: JobInfo) -> JobListItem {
    let mut truncated = Vec::new();
    if cut_value(&mut job.data) {
        truncated.push("data");
    }
    if cut_value(&mut job.returnvalue) {
        truncated.push("returnvalue");
    }
    if let Some(reason) = job.failed_reason.as_mut() {
        if reason.len() > PREVIEW_BYTES {
            *reason = preview(reason);
            truncated.push("failedReason");
        }
    }
    job.stacktrace = Vec::new();
    job.logs = None;
    JobListItem { job, truncated }
}

/// Replaces a value whose JSON is longer than [`PREVIEW_BYTES`] by its preview string. The JSON
/// is written only up to one byte past the limit: a 400 KB value is not serialized whole just
/// to learn that it is long.
fn cut_value(v: &mut serde_json::Value) -> bool {
    let mut head = Bounded(Vec::with_capacity(PREVIEW_BYTES + 1));
    // The only error is `Bounded` being full, which is the "long" answer.
    if serde_json::to_writer(&mut head, v).is_ok() {
        return false;
    }
    let text = String::from_utf8_lossy(&head.0).into_owned();
    *v = serde_json::Value::String(preview(&text));
    true
}

/// A writer that takes at most `PREVIEW_BYTES + 1` bytes, then fails.
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = PREVIEW_BYTES + 1 - self.0.len();
        if room == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let n = buf.len().min(room);
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The first [`PREVIEW_BYTES`] of `text` (cut on a character boundary) and `…`.
fn preview(text: &str) -> String {
    format!("{}…", crate::rules::cut_to(text, PREVIEW_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_stay_and_large_ones_become_bounded_previews() {
        let mut small = serde_json::json!({"to": "a@b.c"});
        assert!(!cut_value(&mut small));
        assert_eq!(small, serde_json::json!({"to": "a@b.c"}));
        let mut big = serde_json::json!({"blob": "é".repeat(300_000)});
        assert!(cut_value(&mut big));
        let s = big.as_str().unwrap();
        assert!(s.len() <= PREVIEW_BYTES + '…'.len_utf8(), "{}", s.len());
        assert!(s.starts_with("{\"blob\":\"éé") && s.ends_with('…'));
    }
}
