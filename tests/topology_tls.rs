//! Sentinel with TLS and an ACL user: the primary and its replica listen on TLS only (a CA made
//! by the test), the relay speaks TLS to the primary and checks its certificate, and jobs still
//! complete after a kill -9 of the primary.

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
"#;

/// An ACL user besides `default` (which stays open for replication, the sentinels and the test's
/// own reads): the daemon logs in as this one.
const ACL_USER: [&str; 7] = ["--user", "app", "on", ">app-pw", "~*", "&*", "+@all"];

#[test]
fn sentinel_over_tls_with_an_acl_user_fails_over_and_completes_every_job() {
    const N: usize = 100;
    let ca = TestCa::new();
    let mut primary = TlsRedis::start(&ca, &ACL_USER);
    let replica = TlsRedis::replica_of(&ca, &primary, &ACL_USER);
    // Each sentinel listens on plain TCP and on TLS, and talks TLS to the servers.
    let tls_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let sentinels: Vec<Sentinel> = tls_ports
        .iter()
        .map(|p| Sentinel::start_with(primary.port, &ca.sentinel_lines(*p)))
        .collect();
    let tls_list = addresses(tls_ports.iter().copied());
    let plain_list = addresses(sentinels.iter().map(|s| s.port));
    let ca_file = ca.ca.to_str().unwrap().to_string();
    let tls_env = |sentinels: &'static str, list: &str| {
        vec![
            ("REDIS_SENTINELS".to_string(), list.to_string()),
            ("REDIS_TLS".into(), "true".into()),
            ("REDIS_CA_FILE".into(), ca_file.clone()),
            ("REDIS_USERNAME".into(), "app".into()),
            ("REDIS_PASSWORD".into(), "app-pw".into()),
            ("REDIS_SENTINEL_TLS".into(), sentinels.into()),
        ]
    };
    // The sentinels over TLS too (the default with REDIS_TLS, said here for the reader).
    let env = tls_env("true", &tls_list);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let daemon = Daemon::start("", CONFIG, None, &env);
    daemon.wait_healthy();
    for _ in 0..N {
        api_add(
            daemon.port,
            "work",
            &serde_json::json!({"name": "nap", "data": {"ms": 50}}),
        );
    }
    // The engine's connections reach the primary through the relay as the ACL user.
    let clients = primary.cmd(&["CLIENT", "LIST"]).unwrap();
    let as_app = clients.lines().filter(|l| l.contains(" user=app ")).count();
    assert!(as_app >= 2, "connections as user app: {clients}");
    // Every add must have reached the replica before the primary dies (the add script bumps
    // the id counter and writes the job in one replicated step).
    poll(
        Duration::from_secs(20),
        "the replica to hold every job",
        || (replica.cmd(&["GET", "bull:work:id"]).ok()? == N.to_string()).then_some(()),
    );
    poll(Duration::from_secs(30), "a first batch to complete", || {
        (primary.zcard("work", "completed") >= 10).then_some(())
    });
    let before = replica.zcard("work", "completed");
    primary.kill();
    let died = Instant::now();
    assert!(before < N, "the run had finished before the kill");

    poll(
        Duration::from_secs(30),
        "the sentinels to promote the replica",
        || {
            replica
                .cmd(&["ROLE"])
                .ok()?
                .starts_with("master")
                .then_some(())
        },
    );
    let first = poll(
        Duration::from_secs(60),
        "a completion on the new primary",
        || {
            let role = replica.cmd(&["ROLE"]).unwrap_or_default();
            (role.starts_with("master") && replica.zcard("work", "completed") > before)
                .then(|| died.elapsed())
        },
    );
    println!("TLS: primary killed -> first completion on the new primary: {first:?}");
    // The CLI, with the sentinels asked in plain TCP (REDIS_SENTINEL_TLS=false) and the primary
    // still over TLS.
    let dir = TempDir::new("sentinel-tls-cli");
    let cfg = dir.write("worker.toml", CONFIG);
    let mut cli_env = tls_env("false", &plain_list);
    cli_env.push(("WORKER_CONFIG".into(), cfg.to_str().unwrap().into()));
    let cli_env: Vec<(&str, &str)> = cli_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (code, _out, err) = run_worker(
        &["enqueue", "work", "nap", "--data", r#"{"ms": 1}"#],
        &cli_env,
        dir.path(),
    );
    assert_eq!(
        code, 0,
        "enqueue through plain sentinels to a TLS primary: {err}"
    );
    poll(Duration::from_secs(120), "every job to complete", || {
        (replica.zcard("work", "completed") > N).then_some(())
    });
    println!(
        "TLS: primary killed -> all jobs completed: {:?}",
        died.elapsed()
    );
    assert_eq!(
        replica.cmd(&["LLEN", "bull:work:active"]).unwrap(),
        "0",
        "jobs left active"
    );
    let (code, body) = daemon.health().expect("/health answers");
    assert_eq!(code, 200, "/health after failover: {body}");
    assert!(!daemon.log().contains("app-pw"), "the password was logged");
}

/// `127.0.0.1:port,…`
fn addresses(ports: impl Iterator<Item = u16>) -> String {
    ports
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn sentinel_over_tls_names_a_certificate_it_cannot_trust() {
    let ca = TestCa::new();
    let primary = TlsRedis::start(&ca, &[]);
    let sentinel = Sentinel::start_with(primary.port, &ca.sentinel_lines(free_port()));
    let list = format!("127.0.0.1:{}", sentinel.port);
    let other = TestCa::new();
    let dir = TempDir::new("sentinel-tls-wrong-ca");
    // Another CA's file, and none at all (the built-in web PKI roots): both refuse the test CA's
    // certificate, and the error names the sentinel, the primary and the reason.
    for ca_file in [Some(other.ca.to_str().unwrap()), None] {
        let mut env = vec![
            ("REDIS_SENTINELS", list.as_str()),
            ("REDIS_TLS", "true"),
            ("REDIS_SENTINEL_TLS", "false"),
        ];
        if let Some(file) = ca_file {
            env.push(("REDIS_CA_FILE", file));
        }
        let (code, _out, err) = run_worker(&["status"], &env, dir.path());
        assert_ne!(code, 0, "status with {ca_file:?}: {err}");
        assert!(
            err.contains(&format!("sentinel {list} named 127.0.0.1:{}", primary.port))
                && err.contains("invalid peer certificate"),
            "{ca_file:?}: {err}"
        );
    }
    // With the right CA the same command works.
    let ca_file = ca.ca.to_str().unwrap();
    let (code, _out, err) = run_worker(
        &["status"],
        &[
            ("REDIS_SENTINELS", &list),
            ("REDIS_TLS", "true"),
            ("REDIS_SENTINEL_TLS", "false"),
            ("REDIS_CA_FILE", ca_file),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "status with the right CA: {err}");
}
