//! The claim's rules on a real Redis: which copy of an attempt runs, and whose lock survives.

use std::time::Duration;

use redis::AsyncCommands;

use super::super::keys::QueueKeys;
use super::super::RedisStore;
use super::Attempt;
use crate::queue::redis::test_server::{connect, Redis};

const LOCK: Duration = Duration::from_secs(30);

/// A private Redis and a store on it (the server lives as long as the first half).
async fn started() -> (Redis, RedisStore) {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    (redis, store)
}

/// Attempt `made` of job `id` of queue `q`, fetched with `token`.
fn at<'a>(id: &'a str, token: &'a str, made: u64) -> Attempt<'a> {
    let queue = "q";
    Attempt {
        queue,
        id,
        token,
        made,
    }
}

/// The job `id` as two fetches left it: `active` holding it `copies` times, its lock `lock`
/// (the last `moveToActive`'s token) and its claim `claim`.
async fn fetched(store: &RedisStore, id: &str, copies: usize, lock: &str, claim: Option<&str>) {
    let k = QueueKeys::new(store.prefix(), "q");
    let mut conn = store.inner.conn.connection();
    let ids = vec![id; copies];
    let _: () = conn.rpush(k.active(), ids).await.unwrap();
    let _: () = conn.set(k.lock(id), lock).await.unwrap();
    if let Some(claim) = claim {
        let _: () = conn.set(claim_key(store, id), claim).await.unwrap();
    }
}

fn claim_key(store: &RedisStore, id: &str) -> String {
    format!("{}:claim", QueueKeys::new(store.prefix(), "q").job(id))
}

/// (lock, claim, ids in active) of job `id`.
async fn seen(store: &RedisStore, id: &str) -> (Option<String>, Option<String>, Vec<String>) {
    let k = QueueKeys::new(store.prefix(), "q");
    let mut conn = store.inner.conn.connection();
    let lock = conn.get(k.lock(id)).await.unwrap();
    let claim = conn.get(claim_key(store, id)).await.unwrap();
    let active: Vec<String> = conn.lrange(k.active(), 0, -1).await.unwrap();
    (
        lock,
        claim,
        active.into_iter().filter(|a| a == id).collect(),
    )
}

#[tokio::test]
async fn a_copy_of_an_unclaimed_first_fetch_is_dropped_and_the_owner_takes_its_lock_back() {
    let (_redis, store) = started().await;
    // The owner fetched first and runs unclaimed; the copy's `moveToActive` overwrote the lock.
    fetched(&store, "7", 2, "copy-token", None).await;
    let copy = store.claim_run(&at("7", "copy-token", 0), LOCK).await;
    assert!(copy.unwrap().is_none(), "the later copy must not run");
    let (lock, claim, active) = seen(&store, "7").await;
    assert_eq!(active, ["7"], "one copy removed from active");
    assert_eq!(lock.as_deref(), Some("copy-token"));
    assert_eq!(
        claim.as_deref(),
        Some("copy:copy-token"),
        "the copy marks its lock"
    );
    // The owner (its finish failed on the lock, or its late claim): the lock is its own again.
    let owned = store.own_run(&at("7", "owner-token", 0), LOCK).await;
    assert!(owned.unwrap());
    let (lock, claim, _) = seen(&store, "7").await;
    assert_eq!(lock.as_deref(), Some("owner-token"));
    assert_eq!(claim.as_deref(), Some("0:owner-token"));
}

#[tokio::test]
async fn a_late_claim_never_takes_a_lock_from_a_run_that_took_the_attempt_over() {
    let (_redis, store) = started().await;
    // The owner handed the job back (a drain); another daemon fetched it again and claimed it.
    fetched(&store, "8", 1, "new-token", Some("0:new-token")).await;
    let owned = store.own_run(&at("8", "old-token", 0), LOCK).await;
    assert!(!owned.unwrap(), "the old run must not claim");
    let (lock, claim, _) = seen(&store, "8").await;
    assert_eq!(
        lock.as_deref(),
        Some("new-token"),
        "the new run keeps its lock"
    );
    assert_eq!(claim.as_deref(), Some("0:new-token"));
    // Nor from a Node worker that took a stalled job over (no claim at all).
    fetched(&store, "81", 1, "node-token", None).await;
    let owned = store.own_run(&at("81", "old-token", 0), LOCK).await;
    assert!(!owned.unwrap());
    assert_eq!(seen(&store, "81").await.0.as_deref(), Some("node-token"));
}

#[tokio::test]
async fn a_copy_fetched_after_the_owner_claimed_gives_the_lock_back_at_once() {
    let (_redis, store) = started().await;
    fetched(&store, "9", 1, "owner-token", None).await;
    let owned = store.own_run(&at("9", "owner-token", 2), LOCK).await;
    assert!(owned.unwrap());
    // The duplicate is fetched: a second id in active, its token over the lock.
    fetched(&store, "9", 1, "copy-token", None).await;
    let copy = store.claim_run(&at("9", "copy-token", 2), LOCK).await;
    assert!(copy.unwrap().is_none());
    let (lock, claim, active) = seen(&store, "9").await;
    assert_eq!(lock.as_deref(), Some("owner-token"));
    assert_eq!(claim.as_deref(), Some("2:owner-token"));
    assert_eq!(active, ["9"]);
}

#[tokio::test]
async fn a_copy_is_dropped_even_when_an_earlier_attempts_claim_is_left() {
    let (_redis, store) = started().await;
    // Attempt 0's claim outlives its run; attempt 1's owner runs unclaimed.
    fetched(&store, "10", 2, "copy-token", Some("0:first-try")).await;
    let copy = store.claim_run(&at("10", "copy-token", 1), LOCK).await;
    assert!(copy.unwrap().is_none(), "a copy of attempt 1 must not run");
    assert_eq!(
        seen(&store, "10").await.1.as_deref(),
        Some("copy:copy-token")
    );
}

#[tokio::test]
async fn a_lone_restart_takes_any_claim_over() {
    let (_redis, store) = started().await;
    // A stalled job's restart: one copy in active, the dead owner's claim (or a copy's mark).
    for (id, claim) in [
        ("11", Some("1:dead")),
        ("12", Some("copy:gone")),
        ("13", None),
    ] {
        fetched(&store, id, 1, "new-token", claim).await;
        let run = store.claim_run(&at(id, "new-token", 1), LOCK).await;
        assert!(run.unwrap().is_some(), "the only copy of {id} must run");
        assert_eq!(seen(&store, id).await.1.as_deref(), Some("1:new-token"));
    }
}

#[tokio::test]
async fn a_copy_of_a_finished_job_is_dropped_and_locks_nothing() {
    let (_redis, store) = started().await;
    let k = QueueKeys::new(store.prefix(), "q");
    let mut conn = store.inner.conn.connection();
    let _: () = conn.zadd(k.completed(), "14", 1).await.unwrap();
    fetched(&store, "14", 1, "copy-token", None).await;
    let copy = store.claim_run(&at("14", "copy-token", 0), LOCK).await;
    assert!(copy.unwrap().is_none());
    let (lock, _, active) = seen(&store, "14").await;
    assert_eq!((lock, active.len()), (None, 0));
}

#[tokio::test]
async fn a_second_copy_here_is_dropped_but_a_refetch_of_a_job_let_go_is_not() {
    let (_redis, store) = started().await;
    // (id, copies in active, dropped, the lock after). Two copies, the second fetch's token
    // over the lock: a copy (duplicate.rs), the lock given back. One copy: the first run
    // parked the job and it was fetched again; before, this removed the job's only copy from
    // active, and the job was in no list at all.
    for (id, copies, dropped, lock) in [("5", 2, true, "first"), ("6", 1, false, "second")] {
        fetched(&store, id, copies, "second", None).await;
        let was = store
            .drop_duplicate("q", id, "second", "first", 30_000)
            .await;
        assert_eq!(was, dropped, "job {id}");
        let (after, _, active) = seen(&store, id).await;
        assert_eq!(
            (after.as_deref(), active.len()),
            (Some(lock), 1),
            "job {id}"
        );
    }
}
