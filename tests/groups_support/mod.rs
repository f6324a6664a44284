//! Shared by the fair-groups tests (`groups_embedded.rs`, `groups_redis.rs`): the scenario of
//! issue 30 point 3 (1,000 jobs of group A added before 10 of group B) and a [`Recorder`]
//! processor that writes down the order jobs start in and how many of each group run at once.
//!
//! No timing decides the result: group A's jobs hold their slot until every B job has started
//! (or a 60 s deadline passes, and the test then fails on the figures). Without fair groups
//! the first four A jobs fill every slot and wait for B forever: B never starts.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cronq::queue::{ActiveJob, ConsumerOptions, JobSpec, Outcome, Processor, Store};
use tokio::sync::watch;

pub const A_JOBS: usize = 1000;
pub const B_JOBS: usize = 10;

/// Consumer options: concurrency `concurrency`, the given group policy.
pub fn options(concurrency: usize, groups: cronq::queue::groups::GroupPolicy) -> ConsumerOptions {
    ConsumerOptions {
        concurrency,
        lock_duration: Duration::from_secs(30),
        stalled_interval: Duration::from_secs(30),
        max_stalled_count: 1,
        drain_delay: Duration::from_secs(2),
        idle_release: Duration::from_secs(30),
        worker_name: "groups-test".into(),
        remove_on_complete: None,
        remove_on_fail: None,
        metrics_points: 0,
        groups: Some(groups),
    }
}

/// `group_by = "data.tenant"`, `group_concurrency = n`.
pub fn by_tenant(n: u32) -> cronq::queue::groups::GroupPolicy {
    cronq::queue::groups::GroupPolicy {
        by: Some(vec!["tenant".into()]),
        concurrency: std::num::NonZeroU32::new(n),
        rate: None,
    }
}

/// Adds A_JOBS jobs of tenant A, then (once they are all in) B_JOBS of tenant B. A's jobs are
/// added by 8 producers at once: their order among themselves does not matter, and the
/// embedded store commits concurrent adds together.
pub async fn add_scenario(store: &Store, queue: &str) {
    let producers: Vec<_> = (0..8)
        .map(|p| {
            let (store, queue) = (store.clone(), queue.to_string());
            tokio::spawn(async move {
                for i in (p..A_JOBS).step_by(8) {
                    let data = serde_json::json!({"tenant": "A", "i": i});
                    store.add(&queue, JobSpec::new("work", data)).await.unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    for i in 0..B_JOBS {
        let data = serde_json::json!({"tenant": "B", "i": i});
        store.add(queue, JobSpec::new("work", data)).await.unwrap();
    }
}

#[derive(Default)]
struct State {
    /// (tenant, job id) in start order.
    starts: Vec<(String, String)>,
    running: HashMap<String, usize>,
    max_running: HashMap<String, usize>,
    done: HashSet<String>,
    /// Ids started more than once.
    twice: Vec<String>,
}

/// The processor: records each start; an A job holds its slot until every B job started.
pub struct Recorder {
    state: Mutex<State>,
    /// Count of B starts; A jobs wait on it.
    b_started: watch::Sender<usize>,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            state: Mutex::new(State::default()),
            b_started: watch::channel(0).0,
        })
    }

    /// 1-based start positions of tenant `t`'s jobs.
    pub fn positions(&self, t: &str) -> Vec<usize> {
        let s = self.state.lock().unwrap();
        s.starts
            .iter()
            .enumerate()
            .filter(|(_, (tenant, _))| tenant == t)
            .map(|(i, _)| i + 1)
            .collect()
    }

    /// Most jobs of tenant `t` seen running at once.
    pub fn max_running(&self, t: &str) -> usize {
        *self.state.lock().unwrap().max_running.get(t).unwrap_or(&0)
    }

    /// Jobs finished.
    pub fn done(&self) -> usize {
        self.state.lock().unwrap().done.len()
    }

    /// Ids started more than once.
    pub fn twice(&self) -> Vec<String> {
        self.state.lock().unwrap().twice.clone()
    }

    /// Waits (polling a deadline) until `n` jobs are done.
    pub async fn wait_done(&self, n: usize, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.done() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {n} jobs done; B started at {:?}",
                self.done(),
                self.positions("B")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[async_trait]
impl Processor for Recorder {
    async fn process(&self, job: ActiveJob) -> Outcome {
        let data = job.data.unwrap_or_default();
        let tenant = data["tenant"].as_str().unwrap_or("").to_string();
        {
            let mut s = self.state.lock().unwrap();
            if s.starts.iter().any(|(_, id)| *id == job.id) {
                s.twice.push(job.id.clone());
            }
            s.starts.push((tenant.clone(), job.id.clone()));
            let n = {
                let r = s.running.entry(tenant.clone()).or_default();
                *r += 1;
                *r
            };
            let m = s.max_running.entry(tenant.clone()).or_default();
            *m = (*m).max(n);
        }
        if tenant == "B" {
            self.b_started.send_modify(|n| *n += 1);
        } else {
            let mut rx = self.b_started.subscribe();
            let _ =
                tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|n| *n >= B_JOBS)).await;
        }
        let mut s = self.state.lock().unwrap();
        *s.running.entry(tenant).or_default() -= 1;
        s.done.insert(job.id.clone());
        Outcome::Completed(serde_json::Value::Null)
    }
}

/// A processor that completes at once, counting grouped (with a `tenant`) and ungrouped jobs.
#[derive(Default)]
pub struct Counter {
    grouped: std::sync::atomic::AtomicUsize,
    ungrouped: std::sync::atomic::AtomicUsize,
}

impl Counter {
    pub fn new() -> Arc<Counter> {
        Arc::new(Counter::default())
    }

    pub fn grouped(&self) -> usize {
        self.grouped.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits (polling a deadline) until `n` grouped jobs started.
    pub async fn wait_grouped(&self, n: usize, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.grouped() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "grouped jobs not started"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (polling a deadline) until `n` ungrouped jobs are done.
    pub async fn wait_ungrouped(&self, n: usize, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.ungrouped.load(std::sync::atomic::Ordering::SeqCst) < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "ungrouped jobs not done"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[async_trait]
impl Processor for Counter {
    async fn process(&self, job: ActiveJob) -> Outcome {
        let grouped = job.data.unwrap_or_default().get("tenant").is_some();
        let n = if grouped {
            &self.grouped
        } else {
            &self.ungrouped
        };
        n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Outcome::Completed(serde_json::Value::Null)
    }
}
