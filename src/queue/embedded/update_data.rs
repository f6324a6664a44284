//! `job.updateData` on the embedded store: the row's `data` replaced while the job runs. As
//! BullMQ's script, no event is emitted, and a job that is gone is an error for the caller.

use super::EmbeddedStore;
use crate::queue::error::Error;

/// Replaces the data of job `id` of `queue`.
pub(super) async fn update_data(
    store: &EmbeddedStore,
    queue: &str,
    id: &str,
    data: serde_json::Value,
) -> Result<(), Error> {
    let (q, i, text) = (queue.to_string(), id.to_string(), data.to_string());
    let changed = store
        .write(queue, move |c| {
            Ok(
                c.prepare_cached("UPDATE jobs SET data = ?3 WHERE queue = ?1 AND id = ?2")?
                    .execute([&q, &i, &text])?,
            )
        })
        .await?;
    match changed {
        0 => Err(Error::engine(
            queue,
            format!("job {id:?} is gone: its data was not updated"),
        )),
        _ => Ok(()),
    }
}
