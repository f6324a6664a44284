//! The shared fetch loop against a fake store, on tokio's paused clock: no test waits on the
//! wall clock, and every wait is a poll with a deadline of virtual time.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::*;
use crate::queue::consumer::{Attempts, JobHandle};

/// A store in memory: `ready` jobs (ids), errors to return first, and what happened.
/// `BATCH`: whether the loop claims as many jobs as there are free slots.
#[derive(Default)]
struct Fake<const BATCH: bool = false> {
    ready: Mutex<VecDeque<String>>,
    /// Claims that fail before any succeeds.
    errors_left: AtomicUsize,
    /// When each claim ran (virtual time).
    claims: Mutex<Vec<Instant>>,
    /// Ids whose outcome was written, in order.
    finished: Mutex<Vec<String>>,
    /// Notified by the test when it adds a job; the loop's armed wake-up.
    wake: Notify,
    /// Outcomes that were a retry.
    retried: AtomicUsize,
}

impl<const BATCH: bool> Fake<BATCH> {
    fn add(&self, id: &str) {
        self.ready.lock().unwrap().push_back(id.to_string());
        self.wake.notify_waiters();
    }
    fn finished(&self) -> Vec<String> {
        self.finished.lock().unwrap().clone()
    }
}

struct NoLog;

#[async_trait]
impl JobHandle for NoLog {
    async fn log(&self, _: &str, _: &str) -> Result<(), Error> {
        Ok(())
    }
    async fn progress(&self, _: &str, _: serde_json::Value) -> Result<(), Error> {
        Ok(())
    }
    async fn update_data(&self, _: &str, _: serde_json::Value) -> Result<(), Error> {
        Ok(())
    }
    async fn children_values(
        &self,
        _: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        Ok(Default::default())
    }
}

#[async_trait]
impl<const BATCH: bool> Fetcher for Fake<BATCH> {
    type Job = String;

    const PAUSES: Pauses = {
        let p = Pauses::new(Duration::from_millis(100), Duration::from_millis(400));
        if BATCH {
            p.batched()
        } else {
            p
        }
    };
    const LEFT_RUNNING: &'static str = "left to the test";

    fn armed(&self) -> BoxFuture<'_, ()> {
        let mut woken = Box::pin(self.wake.notified());
        woken.as_mut().enable();
        woken.boxed()
    }

    async fn claim(&self, n: usize) -> Result<Batch<String>, Error> {
        self.claims.lock().unwrap().push(Instant::now());
        if self
            .errors_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |e| e.checked_sub(1))
            .is_ok()
        {
            return Err(Error::engine("q", "the fake store is down"));
        }
        let mut ready = self.ready.lock().unwrap();
        let take = n.min(ready.len());
        Ok(Batch {
            jobs: ready.drain(..take).collect(),
            look_again: None,
        })
    }

    async fn begin(&self, job: &String) -> ActiveJob {
        let attempts = Attempts {
            made: 0,
            max: 1,
            ready_ms: 0,
        };
        ActiveJob::new(
            "q",
            job,
            "fake",
            Ok(serde_json::Value::Null),
            Default::default(),
            attempts,
            Box::new(NoLog),
        )
    }

    async fn finish(&self, job: String, outcome: Outcome, _beat: &LoopBeat) {
        if matches!(outcome, Outcome::Retry(_)) {
            self.retried.fetch_add(1, Ordering::SeqCst);
        }
        self.finished.lock().unwrap().push(job);
    }
}

/// Runs each job for `work` of virtual time, counting how many run at once.
#[derive(Default)]
struct Sleeper {
    work: Duration,
    running: AtomicUsize,
    most: AtomicUsize,
}

#[async_trait]
impl Processor for Sleeper {
    async fn process(&self, _job: ActiveJob) -> Outcome {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.work).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Outcome::Completed(serde_json::Value::Null)
    }
}

fn sleeper(work: Duration) -> Arc<Sleeper> {
    Arc::new(Sleeper {
        work,
        ..Default::default()
    })
}

/// Polls `done` every virtual 10 ms until it holds or `within` of virtual time has passed.
async fn until(within: Duration, done: impl Fn() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

fn run<const B: bool>(fake: &Arc<Fake<B>>, concurrency: usize, p: Arc<dyn Processor>) -> FetchLoop {
    start(fake.clone(), "q", concurrency, p)
}

/// Seven jobs of a second each through three slots.
async fn bounded<const B: bool>() {
    let fake = Arc::new(Fake::<B>::default());
    for i in 0..7 {
        fake.add(&i.to_string());
    }
    let p = sleeper(Duration::from_secs(1));
    let handle = run(&fake, 3, p.clone());
    assert!(until(Duration::from_secs(60), || fake.finished().len() == 7).await);
    assert_eq!(p.most.load(Ordering::SeqCst), 3, "batch = {B}");
    Box::new(handle).close("q", Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn runs_at_most_concurrency_jobs_at_once_and_all_of_them() {
    bounded::<false>().await;
    bounded::<true>().await;
}

/// Starts one job of `work`, closes with `wait` once it runs; returns how long close took and
/// whether the job's outcome was written.
async fn close_during(work: Duration, wait: Duration) -> (Duration, bool) {
    let fake: Arc<Fake> = Arc::new(Fake::default());
    fake.add("job");
    let p = sleeper(work);
    let handle = run(&fake, 1, p.clone());
    let running = || p.running.load(Ordering::SeqCst) == 1;
    assert!(until(Duration::from_secs(5), running).await);
    let t0 = Instant::now();
    Box::new(handle).close("q", wait).await;
    (t0.elapsed(), fake.finished() == ["job"])
}

#[tokio::test(start_paused = true)]
async fn close_waits_for_running_jobs_up_to_wait() {
    let secs = Duration::from_secs;
    // The job outlasts `wait`: close gives up at `wait`, the job still running.
    assert_eq!(close_during(secs(10), secs(2)).await, (secs(2), false));
    // The job ends first: close returns then (the job started up to 10 ms before the close).
    let (took, finished) = close_during(secs(3), secs(30)).await;
    assert!(took <= secs(3) && took >= secs(2), "{took:?}");
    assert!(finished);
}

#[tokio::test(start_paused = true)]
async fn close_stops_claiming_at_once() {
    let fake: Arc<Fake> = Arc::new(Fake::default());
    let handle = run(&fake, 2, sleeper(Duration::from_secs(1)));
    assert!(
        until(Duration::from_secs(1), || !fake
            .claims
            .lock()
            .unwrap()
            .is_empty())
        .await
    );
    Box::new(handle).close("q", Duration::from_secs(5)).await;
    fake.add("late");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(fake.finished().is_empty(), "no claim after close");
}

#[tokio::test(start_paused = true)]
async fn a_failed_claim_pauses_doubling_then_retries() {
    let fake: Arc<Fake> = Arc::new(Fake {
        errors_left: AtomicUsize::new(3),
        ..Default::default()
    });
    fake.ready.lock().unwrap().push_back("after-outage".into());
    let handle = run(&fake, 1, sleeper(Duration::ZERO));
    assert!(until(Duration::from_secs(10), || fake.finished().len() == 1).await);
    // Three failures, the claim that took the job, then one that found the queue empty.
    let claims = fake.claims.lock().unwrap().clone();
    assert_eq!(claims.len(), 5);
    let claims = &claims[..4];
    let gaps: Vec<Duration> = claims.windows(2).map(|w| w[1] - w[0]).collect();
    let ms = |n| Duration::from_millis(n);
    assert_eq!(gaps, [ms(100), ms(200), ms(400)]);
    Box::new(handle).close("q", Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_wake_up_ends_the_idle_wait() {
    let fake: Arc<Fake> = Arc::new(Fake::default());
    let handle = run(&fake, 1, sleeper(Duration::ZERO));
    assert!(
        until(Duration::from_secs(1), || fake.claims.lock().unwrap().len()
            == 1)
        .await
    );
    // Idle with no "look again": an hour of virtual time passes with no other claim.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        fake.claims.lock().unwrap().len(),
        1,
        "an idle loop does not poll"
    );
    let t0 = Instant::now();
    fake.add("woken");
    assert!(until(Duration::from_secs(1), || fake.finished() == ["woken"]).await);
    assert!(
        t0.elapsed() < Duration::from_millis(50),
        "ran at the wake-up, not later"
    );
    Box::new(handle).close("q", Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_processor_fails_the_attempt_and_frees_its_slot() {
    struct Panics;
    #[async_trait]
    impl Processor for Panics {
        async fn process(&self, _job: ActiveJob) -> Outcome {
            panic!("handler bug")
        }
    }
    let fake: Arc<Fake> = Arc::new(Fake::default());
    fake.add("a");
    fake.add("b");
    let handle = run(&fake, 1, Arc::new(Panics));
    assert!(until(Duration::from_secs(5), || fake.finished() == ["a", "b"]).await);
    assert_eq!(fake.retried.load(Ordering::SeqCst), 2);
    Box::new(handle).close("q", Duration::from_secs(1)).await;
}
