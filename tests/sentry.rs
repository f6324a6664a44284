//! Sentry reporting against a local stand-in for Sentry (an axum server that keeps every
//! envelope it receives): a crontab job's final failure arrives tagged with queue, job id, name
//! and entry; a daemon error (a refused reload) arrives too.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use nix::sys::signal::Signal;
use support::{poll, Daemon};

/// Envelopes received, as text.
type Inbox = Arc<Mutex<Vec<String>>>;

/// Starts the stand-in on a free loopback port, on its own runtime thread; returns its port.
fn fake_sentry(inbox: Inbox) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/api/{project}/envelope/",
                post(move |body: String| {
                    let inbox = inbox.clone();
                    async move {
                        inbox.lock().unwrap().push(body);
                        "{}"
                    }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    port
}

/// The events among the envelopes (an envelope is JSON lines: header, item header, payload).
fn events(inbox: &Inbox) -> Vec<serde_json::Value> {
    inbox
        .lock()
        .unwrap()
        .iter()
        .flat_map(|e| e.lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        // Event payloads (headers have no `platform`).
        .filter(|v| v.get("platform").is_some())
        .collect()
}

#[test]
fn final_failures_and_daemon_errors_reach_sentry_with_tags() {
    let inbox = Inbox::default();
    let port = fake_sentry(inbox.clone());
    let dsn = format!("http://publickey@127.0.0.1:{port}/42");
    // One attempt: the first failure is final.
    let config = "[defaults]\nattempts = 1\n";
    let tab = "* * * * * * * echo boom >&2; exit 3\n";
    let daemon = Daemon::start_embedded(config, Some(tab), &[("SENTRY_DSN", &dsn)]);
    let failure = poll(Duration::from_secs(15), "a job failure event", || {
        events(&inbox)
            .into_iter()
            .find(|e| e["logger"] == "cronq.job")
    });
    let tags = &failure["tags"];
    assert_eq!(tags["queue"], "cron", "{failure}");
    assert!(
        tags["job_id"].as_str().unwrap().starts_with("cron-"),
        "{failure}"
    );
    assert!(!tags["name"].as_str().unwrap().is_empty(), "{failure}");
    assert!(
        tags["entry"]
            .as_str()
            .unwrap()
            .ends_with("crontab:1 echo boom >&2; exit 3"),
        "{failure}"
    );
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("exit status 3: boom"),
        "{failure}"
    );

    // A daemon error: a reload with a broken crontab is refused and logged at error level.
    daemon.dir.write("crontab", "61 * * * * echo no\n");
    daemon.signal(Signal::SIGUSR2);
    let error = poll(Duration::from_secs(15), "a daemon error event", || {
        events(&inbox).into_iter().find(|e| {
            e["message"]
                .as_str()
                .unwrap_or("")
                .contains("reload refused")
        })
    });
    // Sentry's default level, `error`, is left out of the payload.
    assert!(error.get("level").is_none_or(|l| l == "error"), "{error}");
}

#[test]
fn a_dsn_that_does_not_parse_is_refused_at_start() {
    let dir = support::TempDir::new("sentry-dsn");
    let (code, _, err) = support::run_worker(
        &["-sentry-dsn", "not a dsn", "--test-crontab", "nothing"],
        &[],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Sentry DSN"), "{err}");
}

#[test]
fn secrets_a_failing_job_prints_reach_sentry_redacted() {
    let inbox = Inbox::default();
    let port = fake_sentry(inbox.clone());
    let dsn = format!("http://publickey@127.0.0.1:{port}/42");
    let token = "tok-5e5e5e5e";
    // Every secret passed on (as Supercronic would), so the job can print them.
    let config = "[defaults]\nattempts = 1\n[worker]\npass_env = [\"*\"]\n";
    let tab = "* * * * * * * echo \"token=$API_TOKEN dsn=$SENTRY_DSN\" >&2; exit 3\n";
    let _daemon = Daemon::start_embedded(
        config,
        Some(tab),
        &[("SENTRY_DSN", &dsn), ("API_TOKEN", token)],
    );
    let failure = poll(Duration::from_secs(15), "a job failure event", || {
        events(&inbox)
            .into_iter()
            .find(|e| e["logger"] == "cronq.job")
    });
    let text = failure.to_string();
    assert!(!text.contains(token), "{text}");
    assert!(!text.contains("publickey"), "{text}");
    let message = failure["message"].as_str().unwrap();
    // The whole DSN is a secret variable's value, hidden whole.
    assert!(message.ends_with("token=*** dsn=***"), "{message}");
}
