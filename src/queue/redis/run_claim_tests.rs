//! The claim's rules on a real Redis: which copy of an attempt runs, and whose lock survives.

use std::time::{Duration, Instant};

use redis::AsyncCommands;

use super::super::keys::QueueKeys;
use crate::queue::redis::test_server::{connect, Redis};

const LOCK: Duration = Duration::from_secs(30);

/// Polls `f` until it holds (10 s deadline): the first claim is written by a task.
async fn until<F: std::future::Future<Output = bool>>(mut f: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f().await {
        assert!(Instant::now() < deadline, "condition not met within 10 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_copy_fetched_before_the_owners_first_claim_lands_is_dropped_and_the_lock_is_the_owners()
{
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let k = QueueKeys::new(store.prefix(), "q");
    let mut conn = store.inner.conn.connection();
    // Both copies were fetched: the id stands twice in `active`; the second fetch's
    // `moveToActive` wrote its own token over the owner's lock. No claim is written yet.
    let _: () = conn.rpush(k.active(), &["7", "7"]).await.unwrap();
    let _: () = conn.set(k.lock("7"), "copy-token").await.unwrap();
    let copy = store
        .claim_run("q", "7", "copy-token", 0, false, LOCK)
        .await;
    assert!(copy.unwrap().is_none(), "the later copy must not run");
    let left: Vec<String> = conn.lrange(k.active(), 0, -1).await.unwrap();
    assert_eq!(left, vec!["7"], "one copy removed from active");
    // The owner's claim lands: the attempt and the lock are the owner's again.
    let owner = store
        .claim_run("q", "7", "owner-token", 0, true, LOCK)
        .await;
    let _claim = owner.unwrap().expect("the first fetch owns its attempt");
    let lock = k.lock("7");
    until(|| {
        let mut conn = store.inner.conn.connection();
        let lock = lock.clone();
        async move {
            conn.get::<_, Option<String>>(&lock)
                .await
                .unwrap()
                .as_deref()
                == Some("owner-token")
        }
    })
    .await;
    let claim: String = conn.get(format!("{}:claim", k.job("7"))).await.unwrap();
    assert_eq!(claim, "0:owner-token");
}

#[tokio::test]
async fn a_later_copy_finds_the_first_claim_and_gives_the_lock_back() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let k = QueueKeys::new(store.prefix(), "q");
    let mut conn = store.inner.conn.connection();
    let _: () = conn.rpush(k.active(), "8").await.unwrap();
    let _: () = conn.set(k.lock("8"), "owner-token").await.unwrap();
    let _owner = store
        .claim_run("q", "8", "owner-token", 2, true, LOCK)
        .await
        .unwrap();
    let key = format!("{}:claim", k.job("8"));
    until(|| {
        let mut conn = store.inner.conn.connection();
        let key = key.clone();
        async move { conn.exists::<_, bool>(&key).await.unwrap() }
    })
    .await;
    // The duplicate is fetched: a second id in active, its token over the lock.
    let _: () = conn.rpush(k.active(), "8").await.unwrap();
    let _: () = conn.set(k.lock("8"), "copy-token").await.unwrap();
    let copy = store
        .claim_run("q", "8", "copy-token", 2, false, LOCK)
        .await;
    assert!(copy.unwrap().is_none());
    let lock: String = conn.get(k.lock("8")).await.unwrap();
    assert_eq!(lock, "owner-token");
}

#[tokio::test]
async fn a_lone_restart_of_an_attempt_takes_the_claim_over() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let k = QueueKeys::new(store.prefix(), "q");
    let mut conn = store.inner.conn.connection();
    // A stalled job's restart: one copy in active, the dead owner's claim still there.
    let _: () = conn.rpush(k.active(), "9").await.unwrap();
    let _: () = conn
        .set(format!("{}:claim", k.job("9")), "1:dead")
        .await
        .unwrap();
    let run = store.claim_run("q", "9", "new-token", 1, false, LOCK).await;
    assert!(run.unwrap().is_some(), "the only copy must run");
    // And with no claim at all (the owner's expired): the only copy runs too.
    let _: () = conn.rpush(k.active(), "10").await.unwrap();
    let run = store.claim_run("q", "10", "t", 0, false, LOCK).await;
    assert!(run.unwrap().is_some());
}

#[tokio::test]
async fn a_first_claim_landing_after_the_finish_gives_no_lock_back_and_outlives_the_run() {
    let redis = Redis::start();
    let store = connect(redis.1).await;
    let k = QueueKeys::new(store.prefix(), "q");
    let mut conn = store.inner.conn.connection();
    // A short job: finished (in completed, out of active, lock deleted) before its claim lands,
    // and its run over (the claim dropped) at once.
    let _: () = conn.zadd(k.completed(), "11", 1).await.unwrap();
    let claim = store
        .claim_run("q", "11", "owner-token", 0, true, LOCK)
        .await;
    drop(claim.unwrap());
    let key = format!("{}:claim", k.job("11"));
    until(|| {
        let mut conn = store.inner.conn.connection();
        let key = key.clone();
        async move { conn.exists::<_, bool>(&key).await.unwrap() }
    })
    .await;
    let lock: Option<String> = conn.get(k.lock("11")).await.unwrap();
    assert_eq!(lock, None, "a finished job must not be locked again");
}
