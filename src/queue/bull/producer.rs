//! Adding a job to a Bull queue: one script (`lua/add.lua`) writes the hash and puts the id
//! in `wait`, `paused`, `delayed` or at its priority's place, as Bull's `Job.create` does.

use async_trait::async_trait;

use super::{opts, scripts, BullStore};
use crate::queue::consumer::now_ms;
use crate::queue::contract::Produce;
use crate::queue::error::Error;
use crate::queue::spec::ValidJob;

#[async_trait]
impl Produce for BullStore {
    async fn add(&self, queue: &str, spec: ValidJob) -> Result<String, Error> {
        let k = self.keys(queue);
        let now = now_ms();
        let opts = opts::opts_json(&spec, now);
        let keys = ["wait", "paused", "meta-paused", "id", "delayed", "priority"];
        let mut inv = k.script(&scripts::ADD, &keys);
        inv.arg(k.base())
            .arg(spec.job_id.clone().unwrap_or_default())
            .arg(&spec.name)
            .arg(spec.data.to_string())
            .arg(opts.to_string())
            .arg(now)
            .arg(spec.delay.map(|d| d.as_millis() as u64).unwrap_or(0))
            .arg(spec.priority.unwrap_or(0))
            .arg(&self.token);
        let (id, _added): (String, i64) = self.run(queue, &inv).await?;
        Ok(id)
    }
}
