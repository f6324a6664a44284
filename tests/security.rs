//! Security: job data never becomes shell text; the `cron` queue runs only local crontab
//! commands; Redis ACL credentials and TLS with a private CA work; passwords never appear in
//! logs, errors or /health.

mod fault_support;
mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use fault_support::*;
use support::*;

#[test]
fn job_data_never_becomes_shell_text() {
    let redis = Redis::start();
    let scratch = TempDir::new("inject");
    let p = |n: &str| scratch.path().join(n).display().to_string();
    let out = scratch.path().join("seen");
    let cfg = format!(
        r#"
[defaults]
attempts = 1
remove_on_complete = false
[queues.s.handlers.greet]
exec = 'echo "hello $JOB_DATA from $JOB_ID" >> {out}; cat >> {out}; echo >> {out}'
"#,
        out = out.display()
    );
    let daemon = Daemon::start(&redis.url(), &cfg, None, &[]);
    daemon.wait_healthy();
    let payloads = [
        format!("$(touch {})", p("pwned1")),
        format!("; touch {} ;", p("pwned2")),
        format!("`touch {}`", p("pwned3")),
        format!("\ntouch {}\n", p("pwned4")),
        format!("' ; touch {} ; '", p("pwned5")),
        format!("\" && touch {} && \"", p("pwned6")),
        format!("| touch {}", p("pwned7")),
    ];
    let mut ids = Vec::new();
    for (i, text) in payloads.iter().enumerate() {
        ids.push(api_add(
            daemon.port,
            "s",
            &serde_json::json!({"name": "greet", "data": {"to": text, "n": i}}),
        ));
    }
    // A custom job id is also only ever an environment value.
    ids.push(api_add(
        daemon.port,
        "s",
        &serde_json::json!({"name": "greet", "data": {}, "jobId": format!("$(touch {})", p("pwned8"))}),
    ));
    for id in &ids {
        assert_eq!(
            wait_finished(&redis, "s", id, Duration::from_secs(20)),
            "completed",
            "{}",
            job_field(&redis, "s", id, "failedReason")
        );
    }
    let seen = std::fs::read_to_string(&out).unwrap();
    for text in &payloads {
        let json = serde_json::to_string(text).unwrap();
        assert!(
            seen.contains(&json),
            "payload {json} not passed verbatim: {seen}"
        );
    }
    let pwned: Vec<String> = (1..=8)
        .map(|i| p(&format!("pwned{i}")))
        .filter(|f| std::path::Path::new(f).exists())
        .collect();
    assert!(pwned.is_empty(), "job data ran as shell: {pwned:?}");
    eprintln!(
        "security/injection: payloads={} (+1 job id) ran_as_shell=0",
        payloads.len()
    );
}

#[test]
fn the_cron_queue_runs_only_local_crontab_commands() {
    let redis = Redis::start();
    let scratch = TempDir::new("forge");
    let legit = scratch.path().join("legit");
    let forged = scratch.path().join("forged");
    // Fires once a year: the test adds its runs by hand.
    let tab = format!("0 0 1 1 * touch {}\n", legit.display());
    let daemon = Daemon::start(&redis.url(), "[defaults]\nattempts = 1\n", Some(&tab), &[]);
    daemon.wait_healthy();
    let (code, schedules) = http_json(
        "GET",
        &format!("http://127.0.0.1:{}/api/schedules", daemon.port),
        None,
        None,
    );
    assert_eq!(code, 200, "{schedules}");
    let entry = schedules
        .as_array()
        .or_else(|| schedules["schedules"].as_array())
        .and_then(|a| a.first())
        .and_then(|e| e["id"].as_str())
        .unwrap_or_else(|| panic!("no entry id in {schedules}"))
        .to_string();
    let dir = TempDir::new("forge-cli");
    let unknown = enqueue(&redis, &dir, "", &["cron", "no-such-entry", "--data", "{}"]);
    let carrying = enqueue(
        &redis,
        &dir,
        "",
        &[
            "cron",
            &entry,
            "--data",
            &serde_json::json!({"command": format!("touch {}", forged.display())}).to_string(),
        ],
    );
    let limit = Duration::from_secs(20);
    assert_eq!(wait_finished(&redis, "cron", &unknown, limit), "failed");
    assert_eq!(
        job_field(&redis, "cron", &unknown, "failedReason"),
        "no handler for cron/no-such-entry"
    );
    assert_eq!(wait_finished(&redis, "cron", &carrying, limit), "failed");
    let reason = job_field(&redis, "cron", &carrying, "failedReason");
    assert!(reason.starts_with("refused"), "{reason}");
    assert!(!forged.exists(), "a command from Redis ran");
    assert!(!legit.exists(), "the entry ran for a forged job");
    eprintln!("security/cron-queue: unknown_entry=failed data_with_command=failed({reason:?})");
}

const SECRET: &str = "Sup3r-Secr3t-pw";

/// Adds ACL user `app` with [`SECRET`] (the default user stays open for the assertions).
fn acl_redis() -> Redis {
    let redis = Redis::start();
    redis.cmd(&[
        "ACL",
        "SETUSER",
        "app",
        "on",
        &format!(">{SECRET}"),
        "~*",
        "&*",
        "+@all",
    ]);
    redis
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET),
        "the password leaked into {what}: {text}"
    );
}

#[test]
fn acl_credentials_work_and_the_password_never_shows() {
    let redis = acl_redis();
    let cfg = "[queues.a.handlers.echo]\nbuiltin = \"echo\"\n";
    // Password in the URL.
    let url = format!("redis://app:{SECRET}@127.0.0.1:{}/0", redis.port);
    let d = Daemon::start(&url, cfg, None, &[]);
    let health = d.wait_healthy();
    let id = api_add(
        d.port,
        "a",
        &serde_json::json!({"name": "echo", "data": {"x": 1}}),
    );
    assert_eq!(
        wait_finished(&redis, "a", &id, Duration::from_secs(20)),
        "completed"
    );
    let clients = redis.cmd(&["CLIENT", "LIST"]);
    assert!(clients.contains("user=app"), "{clients}");
    let (_, metrics) = http(
        "GET",
        &format!("http://127.0.0.1:{}/metrics", d.port),
        None,
        None,
    );
    let (_, queues) = http(
        "GET",
        &format!("http://127.0.0.1:{}/api/queues", d.port),
        None,
        None,
    );
    assert_no_secret("/health", &health.to_string());
    assert_no_secret("/metrics", &metrics);
    assert_no_secret("/api/queues", &queues);
    assert_no_secret("the log", &d.log());

    // Password in REDIS_PASSWORD with REDIS_USERNAME; then a wrong one.
    let plain = format!("redis://127.0.0.1:{}/0", redis.port);
    let d2 = Daemon::start(
        &plain,
        cfg,
        None,
        &[("REDIS_USERNAME", "app"), ("REDIS_PASSWORD", SECRET)],
    );
    assert_no_secret("/health", &d2.wait_healthy().to_string());
    assert_no_secret("the log", &d2.log());
    let wrong = format!("redis://app:{SECRET}-wrong@127.0.0.1:{}/0", redis.port);
    // Refused credentials are a configuration error: exit 2 at start, saying so.
    let mut d3 = Daemon::start(&wrong, cfg, None, &[]);
    assert_eq!(d3.wait_exit(Duration::from_secs(20)), 2, "{}", d3.log());
    assert!(
        d3.log().contains("Redis refused the credentials"),
        "{}",
        d3.log()
    );
    assert_no_secret("the log", &d3.log());
    eprintln!(
        "security/acl: user=app url_and_env_credentials=ok wrong_password=exit-2 \
         secret_found_in(log,health,metrics,api)=0 health_url={}",
        health["redis"]["url"]
    );
}

/// A wrong password must fail fast and quietly: the CLI and the daemon exit 2 (a configuration
/// error) saying Redis refused the credentials, with the URL redacted.
#[test]
fn a_wrong_password_fails_fast_and_never_shows() {
    let redis = acl_redis();
    let wrong = format!("redis://app:{SECRET}-wrong@127.0.0.1:{}/0", redis.port);
    let dir = TempDir::new("acl-cli");
    let t = std::time::Instant::now();
    let (code, out, err) = run_worker(&["status"], &[("REDIS_URL", &wrong)], dir.path());
    assert_ne!(code, 0);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert_no_secret("a CLI error", &format!("{out}{err}"));
    assert_eq!(code, 2, "a configuration error: {err}");
    assert!(err.contains("Redis refused the credentials"), "{err}");
    let mut d = Daemon::start(&wrong, "", None, &[]);
    assert_eq!(d.wait_exit(Duration::from_secs(10)), 2, "{}", d.log());
    assert!(
        d.log().contains("Redis refused the credentials"),
        "{}",
        d.log()
    );
    assert_no_secret("the log", &d.log());
}

#[test]
fn tls_with_a_private_ca() {
    let dir = TempDir::new("tls");
    let sh = |script: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "failed: {script}");
    };
    sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=cronq-test-ca");
    sh("openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost");
    sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext && openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 1 -extfile ext");
    let port = free_port();
    let mut server = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args(["--tls-cert-file", "srv.crt", "--tls-key-file", "srv.key"])
        .args(["--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no"])
        .args(["--save", "", "--loglevel", "warning"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(&mut server);
    poll(Duration::from_secs(10), "the TLS port to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let ca = dir.path().join("ca.crt").display().to_string();
    let url = format!("rediss://127.0.0.1:{port}/0");
    let cfg =
        "[defaults]\nremove_on_complete = false\n[queues.t.handlers.echo]\nbuiltin = \"echo\"\n";
    let d = Daemon::start(&url, cfg, None, &[("REDIS_CA_FILE", &ca)]);
    let health = d.wait_healthy();
    let id = api_add(
        d.port,
        "t",
        &serde_json::json!({"name": "echo", "data": {"over": "tls"}}),
    );
    let (_, job) = poll(Duration::from_secs(20), "the TLS job to complete", || {
        let (code, job) = http_json(
            "GET",
            &format!("http://127.0.0.1:{}/api/queues/t/jobs/{id}", d.port),
            None,
            None,
        );
        (code == 200 && job["state"] == "completed").then_some((code, job))
    });
    // Without the CA the server's certificate is not trusted: never healthy.
    let untrusted = Daemon::start(&url, cfg, None, &[]);
    let (code, body) = poll(Duration::from_secs(20), "/health without the CA", || {
        untrusted.health().filter(|(c, _)| *c == 503)
    });
    assert_eq!(code, 503, "{body}");
    eprintln!(
        "security/tls: redis-server --tls-port works (Debian build); rediss:// + REDIS_CA_FILE \
         healthy={} job={} without_ca=503",
        health["status"], job["state"]
    );
}
