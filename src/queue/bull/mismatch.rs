//! The start-up check that each queue's keys agree with its configured layout: a queue set to
//! `bullmq` whose keys are Bull's (or the reverse) would be half-served and its producers'
//! jobs left behind, so the daemon says so once, naming the setting to change.

use super::BullStore;
use crate::queue::error::Error;
use crate::queue::layout::Layout;

/// The probe's replies: four EXISTS, then five TYPE (`none` when the key is absent).
type Probe = (
    bool,
    bool,
    bool,
    bool,
    String,
    String,
    String,
    String,
    String,
);

impl BullStore {
    /// The layout `queue`'s keys show, when they show one.
    pub(super) async fn keys_show(&self, queue: &str) -> Result<Option<Layout>, Error> {
        let k = self.keys(queue);
        let mut p = redis::pipe();
        k.each(&mut p, "EXISTS", &["meta-paused", "marker", "meta", "id"]);
        k.each(
            &mut p,
            "TYPE",
            &["priority", "paused", "events", "prioritized", "wait"],
        );
        let (meta_paused, marker, meta, id, priority, paused, events, prioritized, wait): Probe = p
            .query_async(&mut self.conn())
            .await
            .map_err(|e| Error::engine(queue, e))?;
        // A Bull queue of plain jobs has only `id`, job hashes and `wait`: no key of its own.
        // It shows by what is missing, since every BullMQ add writes `meta` and the `events`
        // stream.
        let bull_by_absence = (id || wait == "list") && !meta && events != "stream";
        let bull = meta_paused || priority == "zset" || paused == "list" || bull_by_absence;
        let bullmq = events == "stream" || prioritized == "zset" || marker;
        Ok(match (bull, bullmq) {
            (true, false) => Some(Layout::Bull),
            (false, true) => Some(Layout::BullMq),
            _ => None,
        })
    }
}

/// The warning for `queue`, configured as `configured`, whose keys show `seen`.
pub(crate) fn mismatch_message(queue: &str, configured: Layout, seen: Layout) -> Option<String> {
    let name = |l: Layout| match l {
        Layout::Bull => "bull",
        Layout::BullMq => "bullmq",
    };
    (configured != seen).then(|| {
        format!(
            "queue {queue} is set to layout = \"{}\" but its Redis keys are in {} layout; if its producers use {}, set [queues.{queue}] layout = \"{}\"",
            name(configured),
            if seen == Layout::Bull { "Bull 3/4's" } else { "BullMQ's" },
            if seen == Layout::Bull { "bull or @nestjs/bull" } else { "bullmq or @nestjs/bullmq" },
            name(seen),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_queue_and_setting() {
        let m = mismatch_message("sitemap", Layout::BullMq, Layout::Bull).unwrap();
        assert!(m.contains("[queues.sitemap] layout = \"bull\""), "{m}");
        assert!(mismatch_message("q", Layout::Bull, Layout::Bull).is_none());
    }
}
