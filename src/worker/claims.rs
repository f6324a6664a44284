//! Vouching for the crontab entries this daemon holds: every [`CLAIM_TTL`] / 3 the entry ids
//! of the crontab queue's route table (the table a reload swaps, so a reload is vouched for at
//! the next refresh) are written to the store, which keeps them for [`CLAIM_TTL`]. Another
//! daemon that meets a job of one of them hands it back instead of failing it
//! (`dispatch/cron.rs`). A daemon that stops stops vouching; its entries lapse by themselves.
//! Each refresh also notes which of this daemon's entries another live daemon vouched for
//! ([`SharedEntries`]), so during an outage `[cron] when_store_down = "run_if_alone"` knows
//! whether others were alive at the last contact.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::RouteTable;
use crate::queue::contract::Advert;
use crate::queue::Store;

/// How long one voucher lasts: three refreshes, so one lost refresh (a Redis blip) does not
/// make a live daemon's entries look abandoned.
pub const CLAIM_TTL: Duration = Duration::from_secs(30);

/// Entry ids of this daemon that another live daemon also vouched for at the last successful
/// refresh. Written by [`run`] only on success, so during an outage it keeps what was true at
/// the last contact; read by the local runner (`worker/local.rs`) when an add fails.
pub type SharedEntries = Arc<Mutex<HashSet<String>>>;

/// Vouches, as daemon `holder` (its WORKER_ID), for the entries of `routes` on `queue` until
/// `stop` fires (held by `app`: phase 1 of shutdown), noting into `shared` which of them
/// another daemon vouches for too.
pub async fn run(
    store: Store,
    queue: String,
    holder: String,
    routes: RouteTable,
    shared: SharedEntries,
    stop: CancellationToken,
) {
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
        let advert = Advert {
            queue: &queue,
            holder: &holder,
            entries: &entries,
            ttl: CLAIM_TTL,
        };
        match store.advertise_entries(advert).await {
            Ok(others) => {
                failing = false;
                *shared.lock().unwrap_or_else(|p| p.into_inner()) = others.into_iter().collect();
            }
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
