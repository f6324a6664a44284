//! Redis in production: a Sentinel failover under load (kill -9 of the primary), and a Cluster of
//! three primaries with hash-tagged prefixes (an untagged prefix is refused).

mod fault_support;
mod support;
mod topology_support;

use std::time::{Duration, Instant};

use fault_support::*;
use support::*;
use topology_support::*;

const CONFIG: &str = r#"
[worker]
concurrency = 5
lock_duration = "2s"
stalled_interval = "1s"
max_stalled_count = 10
[defaults]
attempts = 5
backoff = "fixed:100"
remove_on_complete = false
[queues.work.handlers.nap]
builtin = "sleep"
[queues.other.handlers.nap]
builtin = "sleep"
"#;

#[test]
fn sentinel_failover_mid_run_completes_every_job() {
    const N: usize = 300;
    let mut primary = Redis::start();
    let replica = replica_of(primary.port);
    let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(primary.port)).collect();
    let list = sentinels
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect::<Vec<_>>()
        .join(",");
    let daemon = Daemon::start("", CONFIG, None, &[("REDIS_SENTINELS", &list)]);
    daemon.wait_healthy();
    for _ in 0..N {
        api_add(
            daemon.port,
            "work",
            &serde_json::json!({"name": "nap", "data": {"ms": 60}}),
        );
    }
    // Every job must have reached the replica before the primary dies (replication is async:
    // an add the replica never saw is lost by Redis, not by cronq).
    poll(
        Duration::from_secs(20),
        "the replica to hold every job",
        || (all_job_ids(&replica, "work").len() == N).then_some(()),
    );
    poll(Duration::from_secs(30), "a first batch to complete", || {
        (count(&primary, "work", "completed") >= 20).then_some(())
    });
    let before = count(&replica, "work", "completed");
    primary.stop();
    let died = Instant::now();
    assert!(before < N, "the run had finished before the kill");

    let health = poll(Duration::from_secs(30), "/health to say 503", || {
        daemon.health().filter(|(code, _)| *code == 503)
    });
    println!("health during failover: {}", health.1);
    let first = poll(
        Duration::from_secs(60),
        "a completion on the new primary",
        || {
            let role = cmd_at(replica.port, &["ROLE"]).unwrap_or_default();
            (role.starts_with("master") && count(&replica, "work", "completed") > before)
                .then(|| died.elapsed())
        },
    );
    println!("primary killed -> first completion on the new primary: {first:?}");
    // The CLI finds the new primary through the same sentinels.
    let dir = TempDir::new("sentinel-cli");
    let cfg = dir.write("worker.toml", CONFIG);
    let (code, _out, err) = run_worker(
        &["enqueue", "work", "nap", "--data", r#"{"ms": 1}"#],
        &[
            ("REDIS_SENTINELS", &list),
            ("WORKER_CONFIG", cfg.to_str().unwrap()),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "enqueue through the sentinels: {err}");
    wait_all_completed(&replica, "work", N + 1, Duration::from_secs(120));
    let drained = died.elapsed();
    println!("primary killed -> all jobs completed: {drained:?}");
    assert_eq!(count(&replica, "work", "active"), 0, "jobs left active");
    let (code, body) = daemon.health().expect("/health answers");
    assert_eq!(code, 200, "/health after failover: {body}");
}

#[test]
fn sentinel_with_passwords_uses_each_and_names_a_wrong_one() {
    let primary = Redis::start_with(&["--requirepass", "primary-pw"]);
    let sentinel = Sentinel::start_with(
        primary.port,
        "requirepass sentinel-pw\nsentinel auth-pass mymaster primary-pw\n",
    );
    let list = format!("127.0.0.1:{}", sentinel.port);
    let daemon = Daemon::start(
        "",
        CONFIG,
        None,
        &[
            ("REDIS_SENTINELS", &list),
            ("REDIS_PASSWORD", "primary-pw"),
            ("REDIS_SENTINEL_PASSWORD", "sentinel-pw"),
        ],
    );
    daemon.wait_healthy();
    api_add(
        daemon.port,
        "work",
        &serde_json::json!({"name": "nap", "data": {"ms": 1}}),
    );
    poll(Duration::from_secs(20), "the job to complete", || {
        let done = cmd_as(
            primary.port,
            "primary-pw",
            &["ZCARD", "bull:work:completed"],
        );
        (done.ok()?.as_str() == "1").then_some(())
    });
    assert!(!daemon.log().contains("sentinel-pw") && !daemon.log().contains("primary-pw"));

    let dir = TempDir::new("sentinel-wrong-pw");
    let (code, _out, err) = run_worker(
        &["status"],
        &[
            ("REDIS_SENTINELS", &list),
            ("REDIS_PASSWORD", "primary-pw"),
            ("REDIS_SENTINEL_PASSWORD", "wrong-pw"),
        ],
        dir.path(),
    );
    assert_ne!(code, 0, "status with a wrong sentinel password: {err}");
    assert!(err.contains(&format!("sentinel {list}")), "{err}");
    assert!(
        !err.contains("wrong-pw") && !err.contains("primary-pw"),
        "{err}"
    );
}

#[test]
fn cluster_runs_two_tagged_queues_and_refuses_an_untagged_prefix() {
    const N: usize = 50;
    let nodes = cluster();
    let seeds = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect::<Vec<_>>()
        .join(",");

    let dir = TempDir::new("cluster-refused");
    let (code, _out, err) = run_worker(
        &[],
        &[
            ("REDIS_CLUSTER_NODES", &seeds),
            ("WORKER_LISTEN", "127.0.0.1:0"),
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "untagged prefix: {err}");
    assert!(err.contains("hash tag") && err.contains("prefix"), "{err}");

    // A job a crashed worker left in `active`, no lock: only the stalled check (ours, with its
    // one gate covering every queue, on a Cluster too) brings it back.
    let home = nodes
        .iter()
        .find(|n| cmd_at(n.port, &["EXISTS", "{cq}:work:orphan"]).is_ok())
        .expect("a node owns the {cq} slot");
    let now = format!(
        "{}",
        std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap()
            .as_millis()
    );
    let hash = [
        "HSET",
        "{cq}:work:orphan",
        "name",
        "nap",
        "data",
        r#"{"ms":5}"#,
        "opts",
        "{}",
        "timestamp",
        &now,
        "delay",
        "0",
        "priority",
        "0",
    ];
    cmd_at(home.port, &hash).unwrap();
    cmd_at(home.port, &["LPUSH", "{cq}:work:active", "orphan"]).unwrap();

    let daemon = Daemon::start(
        "",
        CONFIG,
        None,
        &[("REDIS_CLUSTER_NODES", &seeds), ("REDIS_PREFIX", "{cq}")],
    );
    daemon.wait_healthy();
    poll(
        Duration::from_secs(30),
        "the orphan to be recovered and completed",
        || {
            cmd_at(home.port, &["ZSCORE", "{cq}:work:completed", "orphan"])
                .ok()
                .filter(|score| !score.is_empty())
        },
    );
    assert_eq!(
        cmd_at(home.port, &["HGET", "{cq}:work:orphan", "stc"]).unwrap(),
        "1"
    );
    for queue in ["work", "other"] {
        for _ in 0..N {
            api_add(
                daemon.port,
                queue,
                &serde_json::json!({"name": "nap", "data": {"ms": 5}}),
            );
        }
    }
    for queue in ["work", "other"] {
        let key = format!("{{cq}}:{queue}:completed");
        // `work` also completed the orphan.
        let expected = if queue == "work" { N + 1 } else { N };
        poll(Duration::from_secs(60), "every job to complete", || {
            (cluster_count(&nodes, &key) == expected).then_some(())
        });
        assert_eq!(cluster_count(&nodes, &format!("{{cq}}:{queue}:active")), 0);
    }
}

/// Live events and discovery on a Cluster: the SSE stream reads each queue's events stream on
/// the primary that owns it, and a queue that is not configured (written by another producer)
/// is found by a SCAN on the primary that owns the prefix's slot. Before, both read whichever
/// node the shared connection picked: the events reader failed ("dedicated connection is not
/// supported on a Redis Cluster") and discovery listed nothing.
#[test]
fn cluster_streams_live_events_and_discovers_unconfigured_queues() {
    let nodes = cluster();
    let seeds = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect::<Vec<_>>()
        .join(",");
    let daemon = Daemon::start(
        "",
        CONFIG,
        None,
        &[("REDIS_CLUSTER_NODES", &seeds), ("REDIS_PREFIX", "{cq}")],
    );
    daemon.wait_healthy();
    // A foreign producer's queue: its keys live on the primary owning `{cq}`'s slot (the others
    // answer MOVED).
    let owner = nodes
        .iter()
        .find(|n| cmd_at(n.port, &["SET", "{cq}:foreign:id", "7"]).is_ok())
        .expect("one node owns the slot");
    let b = format!("http://127.0.0.1:{}", daemon.port);

    let (code, queues) = http_get(&format!("{b}/api/queues")).expect("GET /api/queues");
    assert_eq!(code, 200, "{queues}");
    let names: Vec<&str> = queues
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|q| q["name"].as_str())
        .collect();
    assert!(names.contains(&"foreign"), "{names:?}");

    // Every queue (configured and discovered) in one stream.
    let mut all = Sse::open(&format!("{b}/api/events"), None, None);
    let id = api_add(
        daemon.port,
        "work",
        &serde_json::json!({"name": "nap", "data": {"ms": 5}}),
    );
    all.until(|(_, name, data)| name == "completed" && data["jobId"] == id.as_str());
    // An event the foreign producer writes reaches the stream too.
    cmd_at(
        owner.port,
        &[
            "XADD",
            "{cq}:foreign:events",
            "*",
            "event",
            "added",
            "jobId",
            "f1",
            "name",
            "x",
        ],
    )
    .expect("XADD on the owner");
    let seen = all.until(|(_, name, data)| name == "added" && data["jobId"] == "f1");
    assert_eq!(seen.last().unwrap().2["queue"], "foreign");
}
