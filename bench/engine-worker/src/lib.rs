//! What the plain baselines share: run N attempts of one operation with at most CONCURRENCY in
//! flight, as cronq's pool would, and count the failures.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// Runs `op` `n` times, at most `concurrency` at once (each run holds one semaphore permit
/// until its future ends); returns (failed runs, elapsed time).
pub async fn run_bounded<F, Fut>(n: usize, concurrency: usize, op: F) -> (usize, Duration)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut failed = 0usize;
    for _ in 0..n {
        let permit = slots.clone().acquire_owned().await.expect("open semaphore");
        let run = op();
        tasks.spawn(async move {
            let ok = run.await;
            drop(permit);
            ok
        });
        // Reap finished tasks as we go so the set stays small.
        while let Some(done) = tasks.try_join_next() {
            failed += usize::from(!done.unwrap_or(false));
        }
    }
    while let Some(done) = tasks.join_next().await {
        failed += usize::from(!done.unwrap_or(false));
    }
    (failed, started.elapsed())
}
