//! Jobs written straight into Redis by a foreign (or hostile) producer, consumed by the Redis
//! store in process with a recording processor: an id that is not UTF-8, a job key that is not a
//! hash, an id with no hash, data that is not UTF-8, a backoff type cronq does not know. Each
//! ends in `failed` once, with a reason naming the job and what is wrong, and never loops; the
//! good jobs of the same queue still complete.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cronq::queue::{
    ActiveJob, ConsumerOptions, JobSpec, JobState, JobWindow, Outcome, Processor, RedisTarget,
    Store,
};
use support::Redis;

const Q: &str = "email";
const LIMIT: Duration = Duration::from_secs(20);

/// One run: id, name, data.
type Run = (String, String, Result<serde_json::Value, String>);

/// Records every run; fails jobs named `boom`, completes the others.
#[derive(Default)]
struct Recorder(Mutex<Vec<Run>>);

#[async_trait]
impl Processor for Recorder {
    async fn process(&self, job: ActiveJob) -> Outcome {
        let name = job.name.clone();
        self.0.lock().unwrap().push((job.id, job.name, job.data));
        if name == "boom" {
            Outcome::Retry("boom".into())
        } else {
            Outcome::Completed(serde_json::json!("ok"))
        }
    }
}

impl Recorder {
    fn runs_of(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.0.lock().unwrap().iter().filter(|r| pred(&r.0)).count()
    }
}

fn options() -> ConsumerOptions {
    ConsumerOptions {
        concurrency: 2,
        // Short, so a job that cannot be finished comes back through stalled recovery quickly.
        lock_duration: Duration::from_secs(1),
        stalled_interval: Duration::from_millis(500),
        max_stalled_count: 1,
        drain_delay: Duration::from_secs(1),
        idle_release: Duration::from_secs(30),
        worker_name: "foreign-test".into(),
        remove_on_complete: None,
        remove_on_fail: None,
        metrics_points: 0,
        groups: None,
    }
}

/// Runs one raw command whose arguments may be any bytes.
fn raw(redis: &Redis, args: &[&[u8]]) -> redis::Value {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(&mut redis.conn()).unwrap()
}

fn key(id: &[u8]) -> Vec<u8> {
    [format!("bull:{Q}:").as_bytes(), id].concat()
}

/// What BullMQ's `addStandardJob` writes, then the id pushed to `wait` and the marker set.
fn push_job(redis: &Redis, id: &[u8], name: &str, data: &[u8], opts: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    raw(
        redis,
        &[
            b"HSET",
            &key(id),
            b"name",
            name.as_bytes(),
            b"data",
            data,
            b"opts",
            opts.as_bytes(),
            b"timestamp",
            now.as_bytes(),
            b"delay",
            b"0",
            b"priority",
            b"0",
        ],
    );
    push_id(redis, id);
}

fn push_id(redis: &Redis, id: &[u8]) {
    raw(redis, &[b"LPUSH", &key(b"wait"), id]);
    raw(redis, &[b"ZADD", &key(b"marker"), b"0", b"0"]);
}

fn in_failed(redis: &Redis, id: &[u8]) -> bool {
    !matches!(
        raw(redis, &[b"ZSCORE", &key(b"failed"), id]),
        redis::Value::Nil
    )
}

fn field(redis: &Redis, id: &[u8], name: &str) -> String {
    match raw(redis, &[b"HGET", &key(id), name.as_bytes()]) {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    }
}

fn list(redis: &Redis, state: &str) -> Vec<Vec<u8>> {
    match raw(redis, &[b"LRANGE", &key(state.as_bytes()), b"0", b"-1"]) {
        redis::Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                redis::Value::BulkString(b) => Some(b),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Polls `check` every 20 ms until it holds; panics naming `what` after `LIMIT`.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Setup {
    redis: Redis,
    store: Store,
    recorder: Arc<Recorder>,
}

async fn setup() -> Setup {
    let redis = Redis::start();
    let target = RedisTarget {
        url: redis.url(),
        ca_file: None,
        ..Default::default()
    };
    let store = Store::connect(&target, "bull").await.unwrap();
    Setup {
        redis,
        store,
        recorder: Arc::new(Recorder::default()),
    }
}

impl Setup {
    async fn consume(&self) -> cronq::queue::Consumer {
        self.store
            .consume(Q, options(), self.recorder.clone())
            .await
            .unwrap()
    }

    /// Adds a good job and waits for it to complete.
    async fn good_job_completes(&self) {
        let id = self
            .store
            .add(Q, JobSpec::new("send", serde_json::json!({"to": "b"})))
            .await
            .unwrap();
        let deadline = Instant::now() + LIMIT;
        loop {
            let state = self.store.state(Q, &id).await.unwrap();
            if state == Some(JobState::Completed) {
                return;
            }
            assert!(Instant::now() < deadline, "good job {id} is {state:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_id_that_is_not_utf8_fails_once_without_running() {
    let s = setup().await;
    let bad: &[u8] = b"f-\xff-id";
    push_job(&s.redis, bad, "send", br#"{"to":"a"}"#, "{}");
    let consumer = s.consume().await;
    s.good_job_completes().await;
    until("the non-UTF-8 id to be in failed", || {
        in_failed(&s.redis, bad)
    })
    .await;

    let reason = field(&s.redis, bad, "failedReason");
    assert!(
        reason.contains(r#"job id "f-\xff-id" in queue email is not valid UTF-8"#),
        "{reason}"
    );
    assert_eq!(
        s.recorder.runs_of(|id| id.contains('\u{fffd}')),
        0,
        "the handler must not run a job it could never finish"
    );
    assert!(!list(&s.redis, "active").iter().any(|i| i == bad));
    assert!(!list(&s.redis, "wait").iter().any(|i| i == bad));
    // The failed listing still reads, showing the id as best it can.
    let page = s
        .store
        .jobs(Q, JobWindow::new(JobState::Failed, 0, 10))
        .await
        .unwrap();
    assert!(
        page.jobs.iter().any(|j| j.id == "f-\u{fffd}-id"),
        "{:?}",
        page.jobs
    );
    consumer.close(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_key_that_is_not_a_hash_fails_visibly_and_stalled_checks_go_on() {
    let s = setup().await;
    raw(&s.redis, &[b"SET", &key(b"str-job"), b"hello"]);
    push_id(&s.redis, b"str-job");
    // A job a crashed worker left in `active` with no lock: only a working stalled check
    // brings it back.
    push_job(&s.redis, b"orphan", "send", b"{}", "{}");
    raw(&s.redis, &[b"LREM", &key(b"wait"), b"1", b"orphan"]);
    raw(&s.redis, &[b"LPUSH", &key(b"active"), b"orphan"]);
    // Listing `wait` skips what it cannot read instead of failing the page.
    let page = s
        .store
        .jobs(Q, JobWindow::new(JobState::Waiting, 0, 10))
        .await
        .unwrap();
    assert_eq!((page.total, page.jobs.len()), (1, 0));
    let consumer = s.consume().await;

    until("the non-hash entry to be in failed", || {
        in_failed(&s.redis, b"str-job")
    })
    .await;
    let reason = field(&s.redis, b"str-job", "failedReason");
    assert!(
        reason.contains("key bull:email:str-job holds a string, not a job hash"),
        "{reason}"
    );
    assert_eq!(
        s.redis.cmd(&["GET", "bull:email:str-job:foreign"]),
        "hello",
        "the foreign value is kept"
    );
    until("the orphan to be recovered and completed", || {
        !s.redis
            .cmd(&["ZSCORE", "bull:email:completed", "orphan"])
            .is_empty()
    })
    .await;
    s.good_job_completes().await;
    // The failed listing still reads (the key became a hash).
    let page = s
        .store
        .jobs(Q, JobWindow::new(JobState::Failed, 0, 10))
        .await
        .unwrap();
    assert!(page.jobs.iter().any(|j| j.id == "str-job"));
    consumer.close(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_with_no_hash_fails_saying_so() {
    let s = setup().await;
    push_id(&s.redis, b"ghost");
    let consumer = s.consume().await;
    until("the id with no hash to be in failed", || {
        in_failed(&s.redis, b"ghost")
    })
    .await;
    let reason = field(&s.redis, b"ghost", "failedReason");
    assert!(
        reason.contains("job ghost in queue email has no data hash"),
        "{reason}"
    );
    assert_eq!(s.recorder.runs_of(|id| id == "ghost"), 0);
    s.good_job_completes().await;
    consumer.close(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_that_is_not_utf8_fails_naming_the_field_instead_of_being_rewritten() {
    let s = setup().await;
    push_job(&s.redis, b"bad-data", "send", b"{\"to\":\"a\xffb\"}", "{}");
    let consumer = s.consume().await;
    until("the job with non-UTF-8 data to be in failed", || {
        in_failed(&s.redis, b"bad-data")
    })
    .await;
    let reason = field(&s.redis, b"bad-data", "failedReason");
    assert!(
        reason.contains(
            "job bad-data in queue email: field `data` is not valid UTF-8 (byte 0xff at offset 8)"
        ),
        "{reason}"
    );
    assert_eq!(s.recorder.runs_of(|id| id == "bad-data"), 0);
    let page = s
        .store
        .jobs(Q, JobWindow::new(JobState::Failed, 0, 10))
        .await
        .unwrap();
    assert!(page.jobs.iter().any(|j| j.id == "bad-data"));
    assert!(s.store.job(Q, "bad-data").await.unwrap().is_some());
    s.good_job_completes().await;
    consumer.close(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_backoff_type_fails_at_the_first_failure_naming_it() {
    let s = setup().await;
    push_job(
        &s.redis,
        b"custom-1",
        "boom",
        b"{}",
        r#"{"attempts":3,"backoff":{"type":"custom"}}"#,
    );
    let consumer = s.consume().await;
    until("the custom-backoff job to be in failed", || {
        in_failed(&s.redis, b"custom-1")
    })
    .await;
    let reason = field(&s.redis, b"custom-1", "failedReason");
    assert!(
        reason.starts_with("boom (not retried: backoff type \"custom\" is not supported"),
        "{reason}"
    );
    assert_eq!(s.recorder.runs_of(|id| id == "custom-1"), 1);
    s.good_job_completes().await;
    consumer.close(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_id_whose_key_is_not_a_hash_fails_before_it_is_due() {
    let s = setup().await;
    // Every fetch first promotes due delayed jobs, reading each one's hash: on a list there
    // the fetch failed with WRONGTYPE after taking the id out of `delayed`, so it vanished.
    // Due in 3 s: the sweep (every 250 ms here) sees it first.
    raw(&s.redis, &[b"RPUSH", &key(b"str-delayed"), b"x"]);
    let score = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 3000)
        * 0x1000;
    raw(
        &s.redis,
        &[
            b"ZADD",
            &key(b"delayed"),
            score.to_string().as_bytes(),
            b"str-delayed",
        ],
    );
    let consumer = s.consume().await;
    s.good_job_completes().await;
    until("the delayed non-hash entry to be in failed", || {
        in_failed(&s.redis, b"str-delayed")
    })
    .await;
    let reason = field(&s.redis, b"str-delayed", "failedReason");
    assert!(reason.contains("holds a list, not a job hash"), "{reason}");
    assert_eq!(s.redis.cmd(&["ZCARD", "bull:email:delayed"]), "0");
    consumer.close(Duration::from_secs(2)).await;
}
