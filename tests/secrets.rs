//! The daemon's secrets stay in the daemon (issue 25, the trust boundary): an exec job that
//! prints its environment shows neither `API_TOKEN` nor the Redis password — not in its log in
//! Redis, not in the daemon's log — while ordinary variables still reach it; a handler that
//! lists `REDIS_URL` in `pass_env` can use it, and its printed value is redacted. A `REDIS_URL`
//! with `?password=` (as ioredis accepts it) authenticates and is never printed in clear.

mod support;

use std::time::Duration;

use support::*;

const SECRET: &str = "s3cretPW-x7q";
const TOKEN: &str = "tok-9f8e7d6c";

/// A connection that authenticates (the support helpers do not).
fn authed(redis: &Redis) -> redis::Connection {
    redis::Client::open(format!("redis://:{SECRET}@127.0.0.1:{}/0", redis.port))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn enqueue_authed(url: &str, dir: &TempDir, config: &str, queue: &str, name: &str) -> String {
    let cfg = dir.write("enqueue.toml", config);
    let (code, out, err) = run_worker(
        &["enqueue", queue, name, "--attempts", "1"],
        &[("REDIS_URL", url), ("WORKER_CONFIG", cfg.to_str().unwrap())],
        dir.path(),
    );
    assert_eq!(code, 0, "enqueue failed: {err}");
    out.trim().to_string()
}

/// The job's log lines once it has finished (completed or failed).
fn finished_logs(conn: &mut redis::Connection, queue: &str, id: &str) -> Vec<String> {
    poll(Duration::from_secs(20), "the job to finish", || {
        let done: bool = redis::cmd("HEXISTS")
            .arg(format!("bull:{queue}:{id}"))
            .arg("finishedOn")
            .query(conn)
            .unwrap();
        done.then_some(())
    });
    redis::cmd("LRANGE")
        .arg(format!("bull:{queue}:{id}:logs"))
        .arg(0)
        .arg(-1)
        .query(conn)
        .unwrap()
}

#[test]
fn jobs_get_ordinary_variables_but_not_the_daemons_secrets_unless_listed_and_never_in_clear() {
    let redis = Redis::start_with(&["--requirepass", SECRET]);
    // `default:` because redis-cli sends an empty user name as one (WRONGPASS).
    let url = format!("redis://default:{SECRET}@127.0.0.1:{}/0", redis.port);
    let config = r#"
[queues.email.handlers.dump]
exec = "env | sort; echo \"token=${API_TOKEN-withheld} url=${REDIS_URL-withheld}\""
[queues.email.handlers.backup]
exec = "redis-cli -u \"$REDIS_URL\" --no-auth-warning ping; echo \"using $REDIS_URL\"; echo \"token=${API_TOKEN-withheld}\""
pass_env = ["REDIS_URL"]
"#;
    let d = Daemon::start(
        &url,
        config,
        None,
        &[("API_TOKEN", TOKEN), ("APP_SETTING", "hello-app")],
    );
    d.wait_healthy();
    let mut conn = authed(&redis);

    let dump = enqueue_authed(&url, &d.dir, config, "email", "dump");
    let logs = finished_logs(&mut conn, "email", &dump).join("\n");
    assert!(logs.contains("APP_SETTING=hello-app"), "{logs}");
    assert!(logs.contains("PATH="), "{logs}");
    assert!(logs.contains("JOB_QUEUE=email"), "{logs}");
    assert!(logs.contains("token=withheld url=withheld"), "{logs}");

    let backup = enqueue_authed(&url, &d.dir, config, "email", "backup");
    let logs = finished_logs(&mut conn, "email", &backup);
    assert_eq!(logs[0], "PONG", "the listed REDIS_URL must work: {logs:?}");
    assert_eq!(
        logs[1],
        format!("using redis://default:***@127.0.0.1:{}/0", redis.port)
    );
    assert_eq!(logs[2], "token=withheld");

    let daemon_log = d.log();
    assert!(daemon_log.contains("hello-app"), "job output is echoed");
    for (what, text) in [("job logs", logs.join("\n")), ("daemon log", daemon_log)] {
        assert!(
            !text.contains(SECRET),
            "the Redis password is in the {what}"
        );
        assert!(!text.contains(TOKEN), "API_TOKEN is in the {what}");
    }
}

#[test]
fn a_password_in_the_url_query_authenticates_and_is_never_printed() {
    let redis = Redis::start_with(&["--requirepass", SECRET]);
    let url = format!("redis://127.0.0.1:{}/0?password={SECRET}", redis.port);
    let d = Daemon::start(
        &url,
        "[queues.q.handlers.e]\nbuiltin = \"echo\"\n",
        None,
        &[],
    );
    let health = d.wait_healthy().to_string();
    assert!(
        !health.contains(SECRET),
        "/health shows the password: {health}"
    );
    assert!(health.contains("127.0.0.1"), "{health}");
    let log = d.log();
    assert!(!log.contains(SECRET), "the log shows the password: {log}");

    // A wrong one: refused as credentials, still redacted.
    let wrong = format!("redis://127.0.0.1:{}/0?password=wrong-pw-q1", redis.port);
    let mut d = Daemon::start(&wrong, "", None, &[]);
    assert_eq!(d.wait_exit(Duration::from_secs(15)), 2, "{}", d.log());
    assert!(d.log().contains("refused the credentials"), "{}", d.log());
    assert!(!d.log().contains("wrong-pw-q1"), "{}", d.log());
}
