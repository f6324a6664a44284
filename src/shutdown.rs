//! Signals and the drain deadline — the "detect" and "tell" phases of shutdown.
//!
//! Order (DESIGN.md): the first SIGTERM/SIGINT/SIGQUIT cancels `stop` (the scheduler and the
//! fetch loops stop taking work; running jobs go on, their locks still renewed) and starts the
//! deadline timer; at `SHUTDOWN_TIMEOUT`, `cut_off` fires (running handlers are terminated and
//! their jobs moved back to `wait`). A second signal fires `cut_off` at once. SIGUSR2 asks for
//! a crontab reload.

use std::time::Duration;

use futures::StreamExt;
use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM, SIGUSR2};
use signal_hook_tokio::Signals;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Installs the handlers and returns the signal stream.
pub fn signals() -> std::io::Result<Signals> {
    Signals::new([SIGTERM, SIGINT, SIGQUIT, SIGUSR2])
}

/// Drives shutdown from signals until both tokens have fired. `reload` receives a message per
/// SIGUSR2 (its receiver is held by the reload component, `worker::reload`; a full channel
/// drops the request, which is fine: a reload is already pending).
pub async fn watch(
    mut signals: Signals,
    stop: CancellationToken,
    cut_off: CancellationToken,
    timeout: Duration,
    reload: mpsc::Sender<()>,
) {
    while let Some(sig) = signals.next().await {
        if sig == SIGUSR2 {
            let _ = reload.try_send(());
            continue;
        }
        if stop.is_cancelled() {
            tracing::warn!(signal = sig, "second signal: cutting off running jobs now");
            cut_off.cancel();
            break;
        }
        tracing::info!(
            signal = sig,
            timeout_s = timeout.as_secs_f64(),
            "shutting down: draining running jobs"
        );
        stop.cancel();
        spawn_deadline(timeout, cut_off.clone());
    }
}

/// Fires `cut_off` after `timeout`, unless something else fired it first.
pub fn spawn_deadline(timeout: Duration, cut_off: CancellationToken) {
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(timeout) => {
                if !cut_off.is_cancelled() {
                    tracing::warn!("shutdown deadline reached: terminating running jobs and requeueing them");
                    cut_off.cancel();
                }
            }
            _ = cut_off.cancelled() => {}
        }
    });
}
