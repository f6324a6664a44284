//! A fetched job's options as its producer stored them (BullMQ's `job.opts`). The engine
//! parses `opts` into its own structure and keeps no more: options it does not model (the
//! telemetry context `tm`, a producer's own keys) and the exact stored values are gone. So
//! the stored text is read once per run, with one `HGET` that `run_one` sends alongside the
//! run's claim on the same multiplexed connection: one more command, no added round trip.

use bullmq::Job;

use super::RedisStore;
use crate::queue::job_opts::{self, JobOpts};

impl RedisStore {
    /// The stored options of `job` of `queue`. When Redis cannot be asked, the options the
    /// engine parsed (what the engine models, no more), so the job still runs.
    pub(crate) async fn stored_opts(&self, queue: &str, job: &Job) -> JobOpts {
        match self.raw_fields(queue, job.id(), &["opts"]).await {
            Ok(raw) => match raw.into_iter().next().flatten() {
                Some(text) => job_opts::decode(&String::from_utf8_lossy(&text)),
                None => JobOpts::new(),
            },
            Err(e) => {
                tracing::debug!(queue, job_id = %job.id().escape_debug(), error = %e,
                    "stored options not read; handing the handler the engine's");
                job_opts::from_value(serde_json::to_value(job.opts()).unwrap_or_default())
            }
        }
    }
}
