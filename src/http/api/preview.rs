//! Job listings without payloads. A list item is read for its id, name, state and times; its
//! data and return value can be megabytes each (300 jobs of 400 KB made one `?limit=500` answer
//! ~120 MB, and four at once took the daemon past a 256 MiB pod limit). So a list carries
//! previews: a value whose JSON is at most [`PREVIEW_BYTES`] stays as it is; a longer one
//! becomes a string of its first bytes ending in `…`, and the item's `truncated` names it.
//! The full job is at its own URL (`GET /api/queues/{queue}/jobs/{id}`).

use serde::Serialize;

use crate::queue::{JobInfo, JobPage};

/// Bytes of JSON kept per value in a list item.
pub const PREVIEW_BYTES: usize = 1024;

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

impl From<JobPage> for JobListPage {
    fn from(page: JobPage) -> Self {
        JobListPage {
            total: page.total,
            offset: page.offset,
            limit: page.limit,
            jobs: page.jobs.into_iter().map(item).collect(),
        }
    }
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

/// Replaces a value whose JSON is longer than [`PREVIEW_BYTES`] by its preview string.
fn cut_value(v: &mut serde_json::Value) -> bool {
    let text = v.to_string();
    if text.len() <= PREVIEW_BYTES {
        return false;
    }
    *v = serde_json::Value::String(preview(&text));
    true
}

/// The first [`PREVIEW_BYTES`] of `text` (cut on a character boundary) and `…`.
fn preview(text: &str) -> String {
    let mut end = PREVIEW_BYTES.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
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
