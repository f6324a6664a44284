//! Signals — the "detect" and "tell" phases of shutdown; they only signal.
//!
//! Order (ARCHITECTURE.md and ../shared/DESIGN.md, "Shutdown order (SIGTERM)"): the first
//! SIGTERM/SIGINT/SIGQUIT cancels `stop` (the scheduler and the fetch loops stop taking work;
//! running jobs go on, their locks still renewed). The drain (`app::drain`) arms the deadline
//! when it sees `stop`, whoever fired it (a signal or a recycle limit), so there is one timer
//! to keep right. A second signal fires `cut_off` at once. SIGUSR2 asks for a crontab reload.
//!
//! SIGQUIT drains like SIGTERM, as Supercronic treats it (a Go program would dump its stacks
//! and die; a drain is what a cron daemon's user expects of it). SIGUSR1, SIGHUP and SIGPIPE,
//! whose default action kills the process at once (handlers killed mid-run, no log line), are
//! ignored with one log line each time, so that a stray `kill -USR1` or a closed terminal
//! cannot take the daemon down.

use futures::StreamExt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook_tokio::Signals;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Installs the handlers and returns the signal stream.
pub fn signals() -> std::io::Result<Signals> {
    Signals::new([SIGTERM, SIGINT, SIGQUIT, SIGUSR2, SIGUSR1, SIGHUP, SIGPIPE])
}

/// The signals [`watch`] ignores (with a log line), by number and name.
const IGNORED: [(i32, &str); 3] = [
    (SIGUSR1, "SIGUSR1"),
    (SIGHUP, "SIGHUP"),
    (SIGPIPE, "SIGPIPE"),
];

/// Drives shutdown from signals until both tokens have fired: `stop` at the first, `cut_off`
/// at the second (the drain, `app::drain`, waits on `stop` and fires `cut_off` itself at the
/// deadline). `reload` receives a message per SIGUSR2 (its receiver is held by the reload
/// component, `worker::reload`; a full channel drops the request, which is fine: a reload is
/// already pending).
pub async fn watch(
    mut signals: Signals,
    stop: CancellationToken,
    cut_off: CancellationToken,
    reload: mpsc::Sender<()>,
) {
    while let Some(sig) = signals.next().await {
        if sig == SIGUSR2 {
            let _ = reload.try_send(());
            continue;
        }
        if let Some((_, name)) = IGNORED.iter().find(|(n, _)| *n == sig) {
            tracing::info!(
                signal = *name,
                "signal ignored: SIGTERM or SIGINT drains and exits, SIGUSR2 reloads the crontab"
            );
            continue;
        }
        if stop.is_cancelled() {
            tracing::warn!(signal = sig, "second signal: cutting off running jobs now");
            cut_off.cancel();
            break;
        }
        tracing::info!(signal = sig, "shutting down: draining running jobs");
        stop.cancel();
    }
}
