//! Fair groups survive a crash (issue 30 point 3): with jobs parked behind a full group, the
//! daemon is killed (SIGKILL) mid-run and restarted; every job then completes exactly once and
//! nothing stays parked. Parked jobs are visible meanwhile in `GET /api/queues` and
//! `/metrics`.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::{enqueue, http, http_get, poll, Daemon, Redis, TempDir};

/// Each run writes its id to `started`, waits for the `go` file, then writes it to `done`.
fn config(dir: &TempDir) -> String {
    let d = dir.path().display();
    format!(
        r#"
[queues.crash]
concurrency = 4
group_by = "data.tenant"
group_concurrency = 1
[queues.crash.handlers.work]
exec = '''echo "$JOB_ID" >> {d}/started; while [ ! -f {d}/go ]; do sleep 0.05; done; echo "$JOB_ID" >> {d}/done'''
attempts = 1
"#
    )
}

#[test]
fn parked_jobs_survive_a_crash_and_each_completes_once() {
    let redis = Redis::start();
    let dir = TempDir::new("groups-crash");
    let config = config(&dir);
    let env = [("WORKER_ID", "groups-crash")];
    let mut first = Daemon::start(&redis.url(), &config, None, &env);
    first.wait_healthy();
    let mut ids = Vec::new();
    for (tenant, n) in [("A", 6), ("B", 3)] {
        for _ in 0..n {
            let data = format!(r#"{{"tenant":"{tenant}"}}"#);
            ids.push(enqueue(
                &redis,
                &dir,
                &config,
                &["crash", "work", "--data", &data],
            ));
        }
    }
    // One job of each group runs; the others are parked, out of wait and active.
    poll(Duration::from_secs(30), "5 A and 2 B jobs parked", || {
        let a = redis.cmd(&["LLEN", "bull:crash:cronq:groups:A:parked"]);
        let b = redis.cmd(&["LLEN", "bull:crash:cronq:groups:B:parked"]);
        (a == "5" && b == "2").then_some(())
    });
    assert_eq!(redis.cmd(&["LLEN", "bull:crash:active"]), "2");
    assert_eq!(redis.cmd(&["LLEN", "bull:crash:wait"]), "0");

    // Visible: the API lists the groups with their counts, /metrics has the two families.
    let url = format!("http://127.0.0.1:{}", first.port);
    let (code, queues) = http_get(&format!("{url}/api/queues")).unwrap();
    assert_eq!(code, 200);
    let crash = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "crash")
        .unwrap();
    let groups: BTreeMap<String, (u64, u64)> = crash["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let n = |k: &str| g[k].as_u64().unwrap();
            (
                g["group"].as_str().unwrap().to_string(),
                (n("running"), n("parked")),
            )
        })
        .collect();
    assert_eq!(groups["A"], (1, 5), "{crash}");
    assert_eq!(groups["B"], (1, 2), "{crash}");
    let (code, text) = http("GET", &format!("{url}/metrics"), None, None);
    assert_eq!(code, 200);
    assert!(
        text.contains(r#"cronq_group_parked{queue="crash",group="A"} 5"#),
        "{text}"
    );
    assert!(
        text.contains(r#"cronq_group_running{queue="crash",group="B"} 1"#),
        "{text}"
    );

    // A parked job is shown waiting (for its group), not as a missing job.
    let (code, job) = http_get(&format!("{url}/api/queues/crash/jobs/{}", ids[5])).unwrap();
    assert_eq!(
        (code, job["state"].as_str()),
        (200, Some("waiting")),
        "{job}"
    );

    first.signal(Signal::SIGKILL);
    first.wait_exit(Duration::from_secs(5));
    let second = Daemon::start(&redis.url(), &config, None, &env);
    second.wait_healthy();
    dir.write("go", "");
    poll(Duration::from_secs(60), "all 9 jobs completed", || {
        (redis.cmd(&["ZCARD", "bull:crash:completed"]) == "9").then_some(())
    });
    let done = std::fs::read_to_string(dir.path().join("done")).unwrap();
    let mut finished: Vec<&str> = done.lines().collect();
    finished.sort();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(finished, want, "each job finished exactly once");
    assert_eq!(redis.cmd(&["ZCARD", "bull:crash:failed"]), "0");
    assert_eq!(redis.cmd(&["LLEN", "bull:crash:active"]), "0");
    assert_eq!(
        redis.cmd(&["EXISTS", "bull:crash:cronq:group-index:parked"]),
        "0",
        "nothing left parked"
    );
    // No attempt was counted for parking: each job made one attempt, and started once (the
    // two killed runs twice).
    let mut started_twice = 0;
    for id in &ids {
        let field = |f: &str| redis.cmd(&["HGET", &format!("bull:crash:{id}"), f]);
        assert_eq!(field("atm"), "1", "{id}");
        match field("ats").as_str() {
            "1" => {}
            "2" => started_twice += 1,
            other => panic!("{id} started {other} times"),
        }
    }
    assert!(started_twice <= 2, "{started_twice}");
}

/// Bad group settings are refused at start (exit 2), naming the file and line, the table and
/// the key, and the fix.
#[test]
fn bad_group_settings_are_refused_naming_the_place() {
    let redis = Redis::start();
    for (config, key, says) in [
        (
            "[queues.a]\nconcurrency = 2\ngroup_by = \"tenant\"\ngroup_concurrency = 1\n",
            "worker.toml:3: [queues.a] group_by",
            "write a dotted path into the job's data",
        ),
        (
            "[queues.a]\ngroup_rate = \"10 per second\"\n",
            "worker.toml:2: [queues.a] group_rate",
            "as N/s, N/m or N/h",
        ),
        (
            "[queues.a]\ngroup_concurrency = 0\n",
            "[queues.a] group_concurrency",
            "from 1 to 10000",
        ),
        (
            "[queues.a]\nlayout = \"bull\"\ngroup_concurrency = 2\n",
            "[queues.a] group_concurrency",
            "not available on the Bull 3/4 layout",
        ),
    ] {
        let mut d = Daemon::start(&redis.url(), config, None, &[]);
        assert_eq!(d.wait_exit(Duration::from_secs(10)), 2, "{}", d.log());
        let log = d.log();
        assert!(log.contains(key), "{key}: {log}");
        assert!(log.contains(says), "{says}: {log}");
    }
}
