//! Cancelling one running job of a dispatch (`overlap = "replace"`, the API, `worker cancel`,
//! the dashboard; routed here by `worker::cancels`): each run registers a [`RunCancel`] under its
//! job id for as long as it runs.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Dispatch;

impl Dispatch {
    /// Cancels job `id` if it runs here, failing it with `reason` (not retried); returns
    /// whether it did.
    pub fn cancel(&self, id: &str, reason: &str) -> bool {
        match self.lock_cancels().get(id) {
            Some(c) => {
                // The first request's reason stands: a second one stops nothing more.
                let _ = c.reason.set(reason.to_string());
                c.token.cancel();
                true
            }
            None => false,
        }
    }

    pub(super) fn lock_cancels(&self) -> std::sync::MutexGuard<'_, HashMap<String, RunCancel>> {
        self.cancels.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How a running job is cancelled: its token, and the reason its job fails with.
#[derive(Clone, Default)]
pub(super) struct RunCancel {
    /// Fired by [`Dispatch::cancel`] (the cancel router); the run's `supervise` waits on it.
    pub(super) token: CancellationToken,
    /// Set once, by the request that fired `token`.
    pub(super) reason: Arc<std::sync::OnceLock<String>>,
}

/// Removes a run's cancel token when the run ends.
pub(super) struct Unregister<'a>(pub(super) &'a Dispatch, pub(super) &'a str);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0.lock_cancels().remove(self.1);
    }
}
