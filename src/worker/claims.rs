//! Vouching for the crontab entries this daemon holds: every [`CLAIM_TTL`] / 3 the entry ids
//! of the crontab queue's route table (the table a reload swaps, so a reload is vouched for at
//! the next refresh) are written to the store, which keeps them for [`CLAIM_TTL`]. Another
//! daemon that meets a job of one of them hands it back instead of failing it
//! (`dispatch/cron.rs`). A daemon that stops stops vouching; its entries lapse by themselves.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::RouteTable;
use crate::queue::Store;

/// How long one voucher lasts: three refreshes, so one lost refresh (a Redis blip) does not
/// make a live daemon's entries look abandoned.
pub const CLAIM_TTL: Duration = Duration::from_secs(30);

/// Vouches for the entries of `routes` on `queue` until `stop` fires (held by `app`: phase 1
/// of shutdown).
pub async fn run(store: Store, queue: String, routes: RouteTable, stop: CancellationToken) {
    let mut failing = false;
    loop {
        let entries: Vec<String> = {
            let table = routes.read().unwrap_or_else(|p| p.into_inner()).clone();
            table
                .iter()
                .filter(|(_, r)| r.entry.is_some())
                .map(|(id, _)| id.clone())
                .collect()
        };
        match store.advertise_entries(&queue, &entries, CLAIM_TTL).await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(queue = %queue, error = %e, "could not vouch for this daemon's crontab entries; other daemons hand their jobs back for up to a minute");
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(CLAIM_TTL / 3) => {}
            _ = stop.cancelled() => return,
        }
    }
}
