//! Restarting internal components that panic (the scheduler, the reload loop): a panic is
//! logged, counted in `/health` under `components`, and the component restarts after a
//! backoff that doubles up to 30 s. A component that returns normally is not restarted.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::status::Status;

/// Runs `start()` until it returns normally or `stop` fires, restarting it after a panic.
pub(crate) async fn supervise<F, Fut>(
    name: &'static str,
    status: Arc<Status>,
    stop: CancellationToken,
    mut start: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff =
        crate::backoff::Doubling::new(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        let err = match tokio::spawn(start()).await {
            Ok(()) => return,
            Err(e) if e.is_panic() => e.into_panic(),
            Err(_) => return,
        };
        let what = err
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| err.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        tracing::error!(component = name, panic = %what, restart_in_s = backoff.peek().as_secs(), "component panicked; restarting");
        status.component_restarted(name, &what);
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_component_restarts_with_backoff_and_is_reported() {
        let status = Status::new(Duration::from_secs(30), String::new(), "redis");
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let started = tokio::time::Instant::now();
        supervise(
            "scheduler",
            status.clone(),
            CancellationToken::new(),
            move || {
                let n = r.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        panic!("boom {n}");
                    }
                }
            },
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        // 1 s, then 2 s of backoff.
        assert!(started.elapsed() >= Duration::from_secs(3));
        let c = &status.components()["scheduler"];
        assert_eq!(c.restarts, 2);
        assert_eq!(c.last_panic, "boom 1");
    }
}
