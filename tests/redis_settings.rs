//! Redis settings that cannot work: refused credentials and a URL the client cannot parse.
//! Both are configuration errors, not outages: the daemon exits 2 at start and the CLI exits 2,
//! each saying what is wrong (never "cannot reach Redis"), with the password redacted.

mod support;

use std::time::Duration;

use support::*;

const CONFIG: &str = "[queues.q.handlers.echo]\nbuiltin = \"echo\"\n";
const SECRET: &str = "s3cret-right";

#[test]
fn a_wrong_password_stops_the_daemon_with_exit_2_naming_the_credentials() {
    let redis = Redis::start_with(&["--requirepass", SECRET]);
    let wrong = format!("redis://:wrong-pw-x9@127.0.0.1:{}/0", redis.port);
    let mut d = Daemon::start(&wrong, CONFIG, None, &[]);
    assert_eq!(d.wait_exit(Duration::from_secs(15)), 2, "{}", d.log());
    let log = d.log();
    assert!(
        log.contains(&format!(
            "Redis refused the credentials for redis://:***@127.0.0.1:{}/0",
            redis.port
        )),
        "{log}"
    );
    assert!(
        log.contains("check REDIS_PASSWORD / REDIS_USERNAME"),
        "{log}"
    );
    assert!(!log.contains("no connection within"), "{log}");
    assert!(!log.contains("wrong-pw-x9"), "the password leaked: {log}");

    // No password at all against a server that wants one (NOAUTH): the same.
    let mut d = Daemon::start(&redis.url(), CONFIG, None, &[]);
    assert_eq!(d.wait_exit(Duration::from_secs(15)), 2, "{}", d.log());
    assert!(
        d.log().contains("Redis refused the credentials"),
        "{}",
        d.log()
    );

    // The right password, given separately: the daemon runs.
    let d = Daemon::start(&redis.url(), CONFIG, None, &[("REDIS_PASSWORD", SECRET)]);
    d.wait_healthy();
}

#[test]
fn the_cli_reports_refused_credentials_with_exit_2() {
    let redis = Redis::start_with(&["--requirepass", SECRET]);
    let dir = TempDir::new("cli-auth");
    let url = redis.url();
    let (code, _, err) = run_worker(
        &["status"],
        &[("REDIS_URL", &url), ("REDIS_PASSWORD", "nope-x7")],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("Redis refused the credentials for redis://:***@"),
        "{err}"
    );
    assert!(!err.contains("nope-x7"), "{err}");
    let (code, _, err) = run_worker(
        &["status"],
        &[("REDIS_URL", &url), ("REDIS_PASSWORD", SECRET)],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_url_with_a_port_that_is_not_a_number_is_refused_at_start() {
    let mut d = Daemon::start("redis://127.0.0.1:notaport/0", CONFIG, None, &[]);
    assert_eq!(d.wait_exit(Duration::from_secs(15)), 2, "{}", d.log());
    let log = d.log();
    assert!(
        // The start-up error is a JSON log line (quotes escaped) under LOG_FORMAT=json.
        log.contains("[redis] url") && log.contains("notaport") && log.contains("is not a number"),
        "{log}"
    );
    let dir = TempDir::new("cli-url");
    let (code, _, err) = run_worker(
        &["status"],
        &[("REDIS_URL", "redis://127.0.0.1:notaport/0")],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("port \"notaport\""), "{err}");
}
