//! The hand-back map against a real redis-server: jobs fetched with the engine's own worker (so
//! they carry its script context and lock tokens), outcomes recorded as `run_one` records them,
//! then an engine error reported as `forward_events` reports it.

use std::time::{Duration, Instant};

use bullmq::{Worker, WorkerOptions};

use super::{repair, HandedBack};
use crate::queue::contract::{Browse, Produce};
use crate::queue::job::JobSpec;
use crate::queue::redis::finish::Unwritten;
use crate::queue::redis::test_server::{connect, Redis};
use crate::queue::redis::RedisStore;

async fn hget(store: &RedisStore, id: &str, field: &str) -> Option<String> {
    store
        .inner
        .conn
        .cmd(redis::cmd("HGET").arg(format!("bull:hb:{id}")).arg(field))
        .await
        .unwrap()
}

async fn state(store: &RedisStore, id: &str) -> String {
    store
        .state("hb", id)
        .await
        .unwrap()
        .map_or_else(|| "gone".into(), |s| s.to_string())
}

/// Adds `n` plain jobs to queue `hb`; returns their ids.
async fn add_plain(store: &RedisStore, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let spec = JobSpec::new("n", serde_json::json!({})).validate().unwrap();
        ids.push(store.add("hb", spec).await.unwrap());
    }
    ids
}

/// The engine's worker on queue `hb`, never started: it only fetches here, and each fetch
/// locks one job with the token given, as the running worker does before calling the
/// processor. `lock` is its lock duration (the engine's default when `None`).
async fn fetcher(store: &RedisStore, lock: Option<Duration>) -> Worker {
    let mut opts = WorkerOptions::new()
        .connection(store.inner.engine_opts.clone())
        .prefix("bull".to_string())
        .manual_start();
    if let Some(lock) = lock {
        opts = opts.lock_duration(lock);
    }
    let noop = |_job: bullmq::Job, _c: bullmq::worker::CancellationToken| async {
        Ok(serde_json::Value::Null)
    };
    Worker::with_options("hb", noop, opts).await.unwrap()
}

/// A private server, a store on it, `n` plain jobs in `hb` and a [`fetcher`] with `lock`.
async fn setup(n: usize, lock: Option<Duration>) -> (Redis, RedisStore, Worker) {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    add_plain(&store, n).await;
    let worker = fetcher(&store, lock).await;
    (redis, store, worker)
}

/// Fetches the next waiting job with `token`.
async fn fetch(worker: &Worker, token: &str) -> bullmq::Job {
    worker
        .get_next_job(token)
        .await
        .unwrap()
        .expect("a waiting job")
}

/// Fails without the repair: nothing else writes an outcome the engine dropped, so every job
/// would stay `active` with our lock.
#[tokio::test]
async fn outcomes_the_engine_failed_to_write_are_written_once_with_the_lock() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let mut spec = JobSpec::new("n", serde_json::json!({}));
        spec.attempts = Some(3);
        spec.backoff = Some(crate::queue::job::Backoff::Fixed(Duration::from_secs(60)));
        ids.push(store.add("hb", spec.validate().unwrap()).await.unwrap());
    }
    let worker = fetcher(&store, Some(Duration::from_secs(30))).await;
    let mut jobs = Vec::new();
    for i in 0..5 {
        jobs.push(fetch(&worker, &format!("tok:{i}")).await);
    }
    let id_of = |i: usize| jobs[i].id().to_string();
    assert_eq!(
        jobs.iter().map(|j| j.id().to_string()).collect::<Vec<_>>(),
        ids
    );

    let handed = HandedBack::new(Duration::from_secs(30));
    handed.record(
        jobs[0].clone(),
        Unwritten::Completed(serde_json::json!({"a": 1})),
    );
    handed.record(jobs[1].clone(), Unwritten::Retry("broke".into()));
    handed.record(jobs[2].clone(), Unwritten::Fail("bad".into()));
    handed.record(
        jobs[3].clone(),
        Unwritten::Completed(serde_json::json!("text")),
    );
    handed.record(
        jobs[4].clone(),
        Unwritten::Completed(serde_json::Value::Null),
    );
    // Job 3: another worker's stalled check took it (its lock names someone else now).
    let _: () = store
        .inner
        .conn
        .cmd(
            redis::cmd("SET")
                .arg(format!("bull:hb:{}:lock", id_of(3)))
                .arg("other"),
        )
        .await
        .unwrap();
    // Job 4: the engine reported it completed before the error: not a suspect, not touched.
    handed.completed(&id_of(4));
    handed.errored();
    let task = tokio::spawn(repair(
        handed.clone(),
        store.clone(),
        "hb".into(),
        worker.id().to_string(),
    ));

    let deadline = Instant::now() + Duration::from_secs(10);
    while handed.len() > 0 {
        assert!(Instant::now() < deadline, "suspects not settled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();

    assert_eq!(state(&store, &id_of(0)).await, "completed");
    // Stored as the worker stores it: the value's JSON, not a JSON string of it.
    assert_eq!(
        hget(&store, &id_of(0), "returnvalue").await.as_deref(),
        Some(r#"{"a":1}"#)
    );
    // Another attempt after the job's backoff, the attempt counted.
    assert_eq!(state(&store, &id_of(1)).await, "delayed");
    assert_eq!(hget(&store, &id_of(1), "atm").await.as_deref(), Some("1"));
    assert_eq!(state(&store, &id_of(2)).await, "failed");
    assert_eq!(
        hget(&store, &id_of(2), "failedReason").await.as_deref(),
        Some("bad")
    );
    // Not ours: left to whoever holds the lock.
    assert_eq!(state(&store, &id_of(3)).await, "active");
    // Reported written: the repair left it alone (a real engine would have completed it).
    assert_eq!(state(&store, &id_of(4)).await, "active");
    let _ = worker.close(100).await;
}

/// The event bookkeeping alone: which entries an engine error makes suspects.
#[tokio::test]
async fn only_entries_handed_back_before_an_error_are_suspects() {
    let (_redis, _store, worker) = setup(3, None).await;
    let mut jobs = Vec::new();
    for i in 0..3 {
        jobs.push(fetch(&worker, &format!("t:{i}")).await);
    }
    let handed = HandedBack::new(Duration::from_secs(30));
    handed.record(jobs[0].clone(), Unwritten::Fail("x".into()));
    // A failure event with no error before it: the engine wrote it.
    handed.failed(jobs[0].id());
    assert_eq!(handed.len(), 0);

    handed.record(jobs[1].clone(), Unwritten::Fail("x".into()));
    handed.errored();
    // The failed write's own `Failed` follows its `Error`: still a suspect.
    handed.failed(jobs[1].id());
    handed.record(jobs[2].clone(), Unwritten::Retry("x".into()));
    let suspects: Vec<String> = handed
        .suspects("hb")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(suspects, vec![jobs[1].id().to_string()]);
    // Handed back after the error: its own `Failed` means written.
    handed.failed(jobs[2].id());
    assert_eq!(handed.len(), 1);
    let _ = worker.close(100).await;
}

/// Entries cannot outlive the lock they could be written with.
#[tokio::test(start_paused = true)]
async fn entries_are_dropped_after_the_lock_duration() {
    // Real time for the connection; paused time for the entries' age.
    tokio::time::resume();
    let (_redis, _store, worker) = setup(1, None).await;
    let job = fetch(&worker, "t:0").await;
    tokio::time::pause();
    let handed = HandedBack::new(Duration::from_secs(5));
    handed.record(job.clone(), Unwritten::Fail("x".into()));
    handed.errored();
    assert_eq!(handed.suspects("hb").len(), 1);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(handed.suspects("hb").is_empty());
    assert_eq!(handed.len(), 0);
    tokio::time::resume();
    let _ = worker.close(100).await;
}

/// Fails without `orphans.rs`: a job whose fetch reply was lost stayed `active` until its lock
/// expired. Only aged locks of this worker, held by no `run_one` here, go back to `wait`.
#[tokio::test]
async fn orphaned_fetches_of_this_worker_go_back_to_wait() {
    let (_redis, store, worker) = setup(4, Some(Duration::from_secs(30))).await;
    let mine = |n: usize| format!("{}:{n}", worker.id());
    let tokens = [mine(1), mine(2), mine(3), "someone-else:1".to_string()];
    let mut ids = Vec::new();
    for token in &tokens {
        ids.push(fetch(&worker, token).await.id().to_string());
    }
    let age = |id: &str| {
        redis::cmd("PEXPIRE")
            .arg(format!("bull:hb:{id}:lock"))
            .arg(5_000)
            .to_owned()
    };
    // 0: aged, nobody here runs it (the orphan). 1: aged but running here. 2: fresh (a fetch
    // whose reply is on its way). 3: aged, another worker's.
    for i in [0, 1, 3] {
        let _: i64 = store.inner.conn.cmd(&mut age(&ids[i])).await.unwrap();
    }
    let running = std::collections::HashSet::from([ids[1].clone()]);
    let moved = crate::queue::redis::orphans::release(
        &store,
        "hb",
        worker.id(),
        &running,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(moved, vec![ids[0].clone()]);
    assert_eq!(state(&store, &ids[0]).await, "waiting");
    // Back for a run, not counted as one.
    assert_eq!(hget(&store, &ids[0], "atm").await, None);
    for id in &ids[1..] {
        assert_eq!(state(&store, id).await, "active");
    }
    let _ = worker.close(100).await;
}
