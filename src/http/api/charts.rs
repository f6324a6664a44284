//! `GET /api/queues/{queue}/metrics`: the dashboard's charts. Completed and failed counts come
//! from BullMQ's per-minute job metrics in the store (so they include the work of every worker
//! on the queue, Node ones too); durations and waits from this daemon's own ring of recent runs
//! (`queue::timings`: the latest 10,000 runs per queue, since this daemon started).

use axum::extract::Query;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{store, OnQueue};
use crate::http::error::{ApiError, ErrorBody};
use crate::queue::metrics::minute_of;
use crate::queue::timings::percentile;
use crate::queue::MinuteCounts;

/// Which window to chart.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// `1h` (60 one-minute buckets, the default), `24h` (96 of 15 minutes) or `14d` (168 of
    /// 2 hours).
    pub range: Option<String>,
}

/// Percentiles of one measurement over the runs of a bucket, in ms.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
}

/// One bucket of time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    /// Start, Unix ms.
    pub start: i64,
    /// Jobs completed (every worker of the queue, from BullMQ's metrics).
    pub completed: u64,
    /// Jobs failed for good.
    pub failed: u64,
    /// Runs this daemon finished in the bucket (retried attempts included).
    pub runs: u64,
    /// How long those runs took; absent without runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<Percentiles>,
    /// How long their jobs waited, from when they could run (added, plus their own delay) to
    /// the start of the run; absent without runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<Percentiles>,
}

/// A queue's throughput, durations and waits over a range.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueMetrics {
    /// Queue.
    pub queue: String,
    /// `1h`, `24h` or `14d`.
    pub range: String,
    /// Width of each bucket, ms.
    pub bucket_ms: i64,
    /// Jobs completed since the series began.
    pub completed_total: u64,
    /// Jobs failed since the series began.
    pub failed_total: u64,
    /// Buckets, oldest first; the last one holds now.
    pub buckets: Vec<Bucket>,
}

/// (range, bucket width in minutes, buckets).
const RANGES: [(&str, i64, i64); 3] = [("1h", 1, 60), ("24h", 15, 96), ("14d", 120, 168)];

/// Completed/failed counts, run durations and waits of a queue, bucketed.
#[utoipa::path(get, path = "/api/queues/{queue}/metrics", tag = "queues",
    params(("queue" = String, Path, description = "Queue name"), MetricsQuery),
    responses((status = 200, body = QueueMetrics), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn queue_metrics(
    OnQueue { state, queue }: OnQueue,
    query: Result<Query<MetricsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<QueueMetrics>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let range = q.range.unwrap_or_else(|| "1h".into());
    let Some(&(_, width_min, count)) = RANGES.iter().find(|(r, _, _)| *r == range) else {
        return Err(ApiError::field(
            "range",
            format!("{range:?}: use 1h, 24h or 14d"),
        ));
    };
    let width = width_min * 60_000;
    let now = crate::queue::consumer::now_ms() as i64;
    // Buckets align on their width (on the minute for 1h), the last one holding now.
    let first = (minute_of(now).div_euclid(width) - (count - 1)) * width;
    let minutes = ((now - first) / 60_000 + 1) as u32;
    let counts = store(&state)?.metrics(&queue, minutes).await?;
    let runs = state.status.timings().since(&queue, first);
    Ok(Json(QueueMetrics {
        buckets: bucketize(&counts, &runs, first, width, count),
        completed_total: counts.completed_total,
        failed_total: counts.failed_total,
        bucket_ms: width,
        range,
        queue,
    }))
}

fn bucketize(
    counts: &MinuteCounts,
    runs: &[crate::queue::Timing],
    first: i64,
    width: i64,
    count: i64,
) -> Vec<Bucket> {
    let index = |ms: i64| usize::try_from((ms - first).div_euclid(width)).ok();
    let mut out: Vec<Bucket> = (0..count)
        .map(|i| Bucket {
            start: first + i * width,
            completed: 0,
            failed: 0,
            runs: 0,
            duration_ms: None,
            wait_ms: None,
        })
        .collect();
    let mut add = |series: &std::collections::BTreeMap<i64, u64>, completed: bool| {
        for (&minute, &n) in series {
            if let Some(b) = index(minute).and_then(|i| out.get_mut(i)) {
                *(if completed {
                    &mut b.completed
                } else {
                    &mut b.failed
                }) += n;
            }
        }
    };
    add(&counts.completed, true);
    add(&counts.failed, false);
    let mut per: Vec<(Vec<u64>, Vec<u64>)> = vec![Default::default(); out.len()];
    for r in runs {
        if let Some(p) = index(r.ended_ms).and_then(|i| per.get_mut(i)) {
            p.0.push(r.duration_ms);
            p.1.push(r.wait_ms);
        }
    }
    for (b, (mut d, mut w)) in out.iter_mut().zip(per) {
        b.runs = d.len() as u64;
        b.duration_ms = percentiles(&mut d);
        b.wait_ms = percentiles(&mut w);
    }
    out
}

fn percentiles(v: &mut [u64]) -> Option<Percentiles> {
    Some(Percentiles {
        p50: percentile(v, 50)?,
        p95: percentile(v, 95)?,
        p99: percentile(v, 99)?,
    })
}
