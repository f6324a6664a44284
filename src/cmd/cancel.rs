//! `worker cancel QUEUE ID`: the API's cancel from the command line (`queue::cancel` says what
//! happens in each state). It talks to Redis directly, so it reaches every daemon on it; an
//! embedded store's daemon is reached only through its own API, which the error says.

use super::print::print_json;
use super::Env;
use crate::queue::cancel::{self, Cancelled};
use crate::queue::{JobOpError, JobState, Store};

/// Cancels job `id` of `queue`, printing what happened.
pub(super) async fn cancel(
    store: &Store,
    queue: &str,
    id: &str,
    json: bool,
    env: Env<'_>,
) -> Result<(), JobOpError> {
    // The embedded store's requests are in-process: from a tool they would reach no daemon,
    // and the answer would wrongly blame a foreign worker.
    if store.kind() == "embedded" && store.state(queue, id).await? == Some(JobState::Active) {
        return Err(JobOpError::WrongState {
            queue: queue.to_string(),
            id: id.to_string(),
            state: JobState::Active.to_string(),
            hint: "on the embedded store only the daemon can stop it: use its API \
                   (POST /api/queues/{queue}/jobs/{id}/cancel) or the dashboard's Cancel button"
                .into(),
        });
    }
    let done = cancel::cancel(store, queue, id, &by(env)).await?;
    let (outcome, state, holder) = match &done {
        Cancelled::Removed(_) => ("removed", "removed".to_string(), None),
        Cancelled::Stopped { holder, state } => ("stopped", state.to_string(), Some(holder)),
    };
    if json {
        print_json(&serde_json::json!({
            "queue": queue, "id": id, "outcome": outcome, "state": state, "stoppedBy": holder,
        }));
    } else if let Some(holder) = holder {
        println!("stopped {queue}/{id} on worker {holder}; now {state}");
    } else {
        println!("removed {queue}/{id} (it had not started)");
    }
    Ok(())
}

/// Who asks, as the job's failed reason names it: the command, host and user.
fn by(env: Env<'_>) -> String {
    let host = env("HOSTNAME")
        .or_else(|| nix::unistd::gethostname().ok()?.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    match env("USER") {
        Some(user) => format!("by `worker cancel` run by {user} on {host}"),
        None => format!("by `worker cancel` on {host}"),
    }
}
